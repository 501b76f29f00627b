from orders.admin import orders, reservations, returns  # noqa: F401 - registers the admin classes
