"""Refunds: the provider is asked after commit (outbox), the customer hears when the money is
back, and a periodic check flags refunds a manager must look at."""

from celery import shared_task

from common import outbox
from customers.messaging import send_to_customer
from orders.models import Order, RefundStatus
from orders.services import refunds as services


@outbox.handler(services.PAY_TOPIC, on_dead=services.mark_refund_failed)
def pay_refund(refund_id: int) -> str:
    return services.pay_refund(refund_id=refund_id)


@outbox.handler("orders.send_order_refunded_email")
def send_order_refunded_email(order_id: int) -> bool:
    order = Order.objects.select_related("customer").filter(pk=order_id).first()
    if order is None:
        return False
    refunds = list(order.refunds.filter(return_request__isnull=True, status=RefundStatus.PAID))
    if not refunds:
        return False
    return send_to_customer(
        customer=order.customer,
        key=f"order:{order.pk}:refunded",
        template="order_refunded",
        context={
            "order": order,
            "customer": order.customer,
            "refunds": refunds,
            "total": sum(r.amount for r in refunds),
        },
    )


@shared_task
def flag_overdue_refunds() -> int:
    """Periodic: log the refunds still pending after OMNIS_REFUND_PENDING_ALERT, and failed ones."""
    return services.flag_overdue_refunds()
