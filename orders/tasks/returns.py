"""Returns: the customer hears that the goods arrived and that money went back (outbox handlers).

Each handler takes an id and is safe to run twice: send_to_customer keys the message by the return.
"""

from common import outbox
from customers.messaging import send_to_customer
from orders.selectors.returns import return_with_details


@outbox.handler("orders.send_return_received_email")
def send_return_received_email(return_id: int) -> bool:
    return_request = return_with_details().filter(pk=return_id).first()
    if return_request is None:
        return False
    return send_to_customer(
        customer=return_request.customer,
        key=f"return-received-{return_request.pk}",
        template="return_received",
        context={"return": return_request, "customer": return_request.customer},
        store=return_request.store,
    )


@outbox.handler("orders.send_refund_issued_email")
def send_refund_issued_email(return_id: int) -> bool:
    return_request = return_with_details().filter(pk=return_id).first()
    # Queued once every refund of the return is paid (orders.services.refunds).
    if return_request is None or not return_request.refunds.all():
        return False
    return send_to_customer(
        customer=return_request.customer,
        key=f"refund-issued-{return_request.pk}",
        template="refund_issued",
        context={
            "return": return_request,
            "customer": return_request.customer,
            "refunds": list(return_request.refunds.all()),
            "total": sum(r.amount for r in return_request.refunds.all()),
        },
        store=return_request.store,
    )
