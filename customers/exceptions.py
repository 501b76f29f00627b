from common.errors import ApplicationError, InvalidInput


class CustomerConflict(ApplicationError):
    code = "customer_conflict"


class InvalidCustomerData(InvalidInput):
    pass
