from orders.models.discounts import DiscountRedemption
from orders.models.orders import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    PaymentStatus,
)
from orders.models.reservations import (
    ReleaseReason,
    Reservation,
    ReservationLine,
    ReservationStatus,
    ReservationStatusChange,
)
from orders.models.returns import (
    LineCondition,
    Refund,
    RefundMethod,
    RefundStatus,
    Return,
    ReturnLine,
    ReturnMethod,
    ReturnReason,
    ReturnStatus,
    ReturnStatusChange,
)

__all__ = [
    "DiscountRedemption",
    "Fulfilment",
    "LineCondition",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderStatusChange",
    "PaymentStatus",
    "Refund",
    "RefundMethod",
    "RefundStatus",
    "ReleaseReason",
    "Reservation",
    "ReservationLine",
    "ReservationStatus",
    "ReservationStatusChange",
    "Return",
    "ReturnLine",
    "ReturnMethod",
    "ReturnReason",
    "ReturnStatus",
    "ReturnStatusChange",
]
