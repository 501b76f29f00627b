from orders.admin import discounts, orders, refunds, reservations, returns  # noqa: F401 - registers the admin classes
