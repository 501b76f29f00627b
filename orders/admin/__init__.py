from orders.admin import (  # noqa: F401 - registers the admin classes
    discounts,
    orders,
    refunds,
    reservations,
    returns,
    segments,
)
