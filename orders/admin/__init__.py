from orders.admin import orders, refunds, reservations, returns  # noqa: F401 - registers the admin classes
