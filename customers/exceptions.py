from common.errors import ApplicationError, InvalidInput, NotFound


class CustomerConflict(ApplicationError):
    code = "customer_conflict"


class InvalidCustomerData(InvalidInput):
    pass


class AlreadyErased(ApplicationError):
    code = "already_erased"


class ConsentTokenUnknown(NotFound):
    code = "consent_token_unknown"


class ConsentTokenExpired(InvalidInput):
    code = "consent_token_expired"
