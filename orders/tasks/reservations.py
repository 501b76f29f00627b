"""Reservations: the customer's messages (outbox handlers, by their channel, each sent once per
key) and the expiry run (a task)."""

from celery import shared_task

from common import outbox
from customers.messaging import send_to_customer
from orders.selectors.reservations import reservations
from orders.services.reservations import release_expired_reservations


def _send(reservation_id: int, template: str, key: str) -> bool:
    reservation = reservations().filter(pk=reservation_id).first()
    if reservation is None:
        return False
    zone = reservation.store.zone
    context = {
        "reservation": reservation,
        "customer": reservation.customer,
        "store": reservation.store,
        "lines": list(reservation.lines.all()),
        "expires_at_local": reservation.expires_at.astimezone(zone),
    }
    return send_to_customer(
        customer=reservation.customer,
        key=key.format(id=reservation.pk, expires=reservation.expires_at.isoformat()),
        template=template,
        context=context,
        store=reservation.store,
    )


@outbox.handler("orders.send_reservation_confirmation")
def send_reservation_confirmation(reservation_id: int) -> bool:
    return _send(reservation_id, "reservation_confirmation", "reservation:{id}:confirmation")


@outbox.handler("orders.send_reservation_reminder")
def send_reservation_reminder(reservation_id: int) -> bool:
    # One reminder per deadline: an extended hold gets a new one before its new deadline.
    return _send(reservation_id, "reservation_reminder", "reservation:{id}:reminder:{expires}")


@outbox.handler("orders.send_reservation_released")
def send_reservation_released(reservation_id: int) -> bool:
    return _send(reservation_id, "reservation_released", "reservation:{id}:released")


@shared_task
def release_expired_reservations_task() -> dict:
    """Every minute: due reminders out, expired holds released."""
    return release_expired_reservations()
