"""The customer's messages about orders (outbox handlers, by their channel: e-mail or SMS) and
the pickup-window sweep (a task).

Handlers take ids and are idempotent: each message has a stable key, so a message relayed twice is
sent once.
"""

import io

import segno
from celery import shared_task

from common import outbox
from customers.messaging import send_to_customer
from orders.models.orders import Order, OrderStatus
from orders.services.orders import pickup_qr_payload


def _order(order_id: int) -> Order | None:
    return (
        Order.objects.select_related("customer", "pickup_store", "fulfilment_store")
        .prefetch_related("lines")
        .filter(pk=order_id)
        .first()
    )


def _context(order: Order, **extra) -> dict:
    return {
        "order": order,
        "customer": order.customer,
        "lines": list(order.lines.all()),
        "store": order.pickup_store or order.fulfilment_store,
        **extra,
    }


@outbox.handler("orders.send_order_confirmation")
def send_order_confirmation(order_id: int) -> bool:
    order = _order(order_id)
    if order is None:
        return False
    return send_to_customer(
        customer=order.customer,
        key=f"order:{order.pk}:confirmation",
        template="order_confirmation",
        context=_context(order),
        store=order.pickup_store or order.fulfilment_store,
    )


@outbox.handler("orders.send_ready_for_pickup")
def send_ready_for_pickup(order_id: int) -> bool:
    order = _order(order_id)
    if order is None or order.status != OrderStatus.READY_FOR_PICKUP or not order.pickup_code:
        return False
    qr = segno.make(pickup_qr_payload(order), error="m")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=6, border=2)
    return send_to_customer(
        customer=order.customer,
        key=f"order:{order.pk}:ready",
        template="order_ready_for_pickup",
        context=_context(order, qr_data_uri=qr.png_data_uri(scale=6, border=2)),
        attachments=[(f"pickup-{order.number}.png", png.getvalue(), "image/png")],
        store=order.pickup_store,
    )


@outbox.handler("orders.send_pickup_reminder")
def send_pickup_reminder(order_id: int) -> bool:
    order = _order(order_id)
    if order is None or order.status != OrderStatus.READY_FOR_PICKUP:
        return False
    return send_to_customer(
        customer=order.customer,
        key=f"order:{order.pk}:pickup_reminder",
        template="order_pickup_reminder",
        context=_context(order),
        store=order.pickup_store or order.fulfilment_store,
    )


@outbox.handler("orders.send_order_cancelled")
def send_order_cancelled(order_id: int) -> bool:
    order = _order(order_id)
    if order is None or order.status != OrderStatus.CANCELLED:
        return False
    return send_to_customer(
        customer=order.customer,
        key=f"order:{order.pk}:cancelled",
        template="order_cancelled",
        context=_context(order),
        store=order.pickup_store or order.fulfilment_store,
    )


@shared_task
def expire_uncollected_orders() -> dict:
    """Periodic: pickup reminders and cancellation after the store's pickup window."""
    from orders.services.orders import expire_uncollected_orders as expire

    return expire()


@outbox.handler("orders.send_receipt")
def send_receipt(order_id: int) -> bool:
    """The till's receipt, by the customer's channel."""
    order = _order(order_id)
    if order is None:
        return False
    return send_to_customer(
        customer=order.customer,
        key=f"order:{order.pk}:receipt",
        template="order_receipt",
        context=_context(order),
        store=order.fulfilment_store,
    )
