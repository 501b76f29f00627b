"""What the order, reservation and return webhooks carry. Called by the services where the status
moves, inside their transaction (common.webhooks sends after commit)."""

from common import webhooks


def order_created(order) -> None:
    webhooks.publish(
        "order.created",
        {
            "order": order.number,
            "status": order.status,
            "channel": order.channel,
            "fulfilment": order.fulfilment,
            "customer": order.customer_id,
            "pickup_store": order.pickup_store.code if order.pickup_store_id else None,
            "payment_status": order.payment_status,
            "total": order.total,
            "currency": order.currency,
        },
        subject=f"order:{order.number}",
    )


def order_status_changed(order, previous: str) -> None:
    webhooks.publish(
        "order.status_changed",
        {
            "order": order.number,
            "status": order.status,
            "previous_status": previous,
            "payment_status": order.payment_status,
        },
        subject=f"order:{order.number}",
    )


def reservation_status_changed(reservation, previous: str) -> None:
    webhooks.publish(
        "reservation.status_changed",
        {
            "reservation": reservation.pk,
            "store": reservation.store.code,
            "customer": reservation.customer_id,
            "status": reservation.status,
            "previous_status": previous,
            "expires_at": reservation.expires_at,
        },
        subject=f"reservation:{reservation.pk}",
    )


def return_status_changed(return_request, previous: str) -> None:
    webhooks.publish(
        "return.status_changed",
        {
            "return": return_request.pk,
            "number": return_request.number,
            "order": return_request.order.number,
            "status": return_request.status,
            "previous_status": previous,
        },
        subject=f"return:{return_request.pk}",
    )


def refunds_created(order, return_request, refunds) -> None:
    # About the return when there is one (it follows the return's own "refunded" in sequence),
    # else about the order (a cancellation, units not taken at a partial hand-over).
    subject = f"return:{return_request.pk}" if return_request else f"order:{order.number}"
    for refund in refunds:
        webhooks.publish(
            "refund.created",
            {
                "refund": refund.pk,
                "return": return_request.pk if return_request else None,
                "order": order.number,
                "amount": refund.amount,
                "currency": order.currency,
                "method": refund.method,
                "status": refund.status,
            },
            subject=subject,
        )
