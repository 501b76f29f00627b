"""Demo returns of "Omnis Haus & Mode", moved through the return services.

One return in every state (announced, received, refunded to the card, refunded as store credit
by mail, rejected) on orders the demo already handed over, and journeys 3 and 7 ready to walk for
Julia Neumann (+49 151 12345678), whose chat with online service left a note: a delivered webshop
order and a purchase in the Frankfurt store, neither returned yet — find them at any returns
counter (/desk/returns/) by her phone number.
"""

from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.test.utils import override_settings

from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from customers.models import Customer
from inventory.models import StockItem, Variant
from orders.demo import KEEP_CLEAR
from orders.models import Fulfilment, Order, OrderStatus, RefundMethod, Return, ReturnMethod
from orders.services.returns import (
    ReturnLineRequest,
    create_return,
    mail_return_location,
    receive_return,
    refund_return,
    reject_return,
)
from stores.models import Store

STAFF_OF = {
    "BER-01": "berlin",
    "HAM-01": "hamburg",
    "MUC-01": "muenchen",
    "FRA-01": "frankfurt",
    "WHS-01": "lager",
}
JULIA = "julia.neumann@example.de"

# (receiving store code or "mail", the state it is brought to, refund method, reason)
PLAN = (
    ("HAM-01", "requested", None, "too_small"),
    ("BER-01", "received", None, "not_as_described"),
    ("MUC-01", "refunded", RefundMethod.ORIGINAL, "defective"),
    ("mail", "refunded", RefundMethod.STORE_CREDIT, "changed_mind"),
    ("BER-01", "rejected", None, "wrong_item"),
)


def _say(stdout, text: str) -> None:
    if stdout is not None:
        stdout.write(text)


def _handed_over_orders():
    return (
        Order.objects.filter(
            Q(status=OrderStatus.COLLECTED) | Q(status=OrderStatus.DELIVERED),
            lines__handed_over__gt=0,
        )
        .exclude(returns__isnull=False)
        .select_related("customer")
        .distinct()
        .order_by("pk")
    )


def _journey_orders(stores: dict[str, Store], staff) -> list[Order]:
    """Julia's webshop order (delivered) and her Frankfurt store purchase, bought the real way."""
    from orders.services.orders import deliver_order, place_order, ship_order
    from orders.services.reservations import collect_reservation, reserve_for_customer

    julia = Customer.objects.filter(email=JULIA).first()
    frankfurt, warehouse = stores.get("FRA-01"), stores.get("WHS-01")
    if julia is None or frankfurt is None or warehouse is None:
        return []
    if Order.objects.filter(customer=julia, status__in=["delivered", "collected"]).exists():
        return []

    def in_stock(store: Store) -> Variant | None:
        item = (
            StockItem.objects.filter(
                store=store, on_hand__gte=F("reserved") + F("safety_stock") + 3
            )
            .exclude(variant__sku__in=KEEP_CLEAR)
            .select_related("variant__product")
            .order_by("variant__sku")
            .first()
        )
        return item.variant if item else None

    made = []
    jacket = in_stock(warehouse)
    if jacket is not None:
        order = place_order(
            actor=Actor(channel=Channel.WEB),
            customer=julia,
            fulfilment=Fulfilment.DELIVERY,
            lines=[(jacket, 1)],
            shipping_store=warehouse,
            channel=Channel.WEB,
            shipping_address={"street": "Zeil 10", "postcode": "60313", "city": "Frankfurt"},
        )
        ship_order(actor=staff("WHS-01"), order=order)
        deliver_order(actor=staff("WHS-01"), order=order)
        made.append(order)
    sweater = in_stock(frankfurt)
    if sweater is not None:
        try:
            reservation = reserve_for_customer(
                actor=staff("FRA-01"), store=frankfurt, lines=[(sweater, 1)], customer=julia
            )
            reservation = collect_reservation(actor=staff("FRA-01"), reservation=reservation)
        except ApplicationError:
            # E.g. seeded while Frankfurt is closed: the hold cannot be collected right now.
            return made
        made.append(reservation.order)
    return made


def seed_returns(*, stdout=None) -> int:
    """Demo returns in every state; safe to run again (nothing happens once returns exist)."""
    if Return.objects.exists():
        _say(stdout, "  returns exist already: none added")
        return 0
    stores = {s.code: s for s in Store.objects.filter(code__in=STAFF_OF)}
    users = {u.username: u for u in get_user_model().objects.filter(username__in=STAFF_OF.values())}

    def staff(code: str) -> Actor:
        user = users.get(STAFF_OF.get(code, ""))
        return Actor(user=user, channel=Channel.STORE) if user else Actor.system()

    made = 0
    # The demo customers are made up: their e-mails and SMS are rendered but not sent anywhere.
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        SMS_BACKEND="common.sms.DummyBackend",
    ):
        try:
            journey = _journey_orders(stores, staff)
        except ApplicationError as exc:
            _say(stdout, f"  journey orders left out: {exc.detail}")
            journey = []
        orders = list(_handed_over_orders().exclude(customer__email=JULIA)[: len(PLAN)])
        web_client = Actor(channel=Channel.WEB)
        for order, (where, state, refund_method, reason) in zip(orders, PLAN, strict=False):
            line = order.lines.filter(handed_over__gt=0).order_by("pk").first()
            store = None if where == "mail" else stores.get(where)
            if where != "mail" and store is None:
                continue
            try:
                r = create_return(
                    actor=web_client,
                    order=order,
                    store=store,
                    method=ReturnMethod.MAIL if where == "mail" else ReturnMethod.STORE,
                    lines=[ReturnLineRequest(order_line=line.pk, quantity=1, reason=reason)],
                )
                receiver = staff(r.store.code)
                if state == "rejected":
                    reject_return(actor=receiver, return_request=r, reason="Parcel never arrived")
                if state in ("received", "refunded"):
                    receive_return(
                        actor=receiver,
                        return_request=r,
                        conditions={x.pk: "resellable" for x in r.lines.all()},
                    )
                if state == "refunded":
                    refund_return(actor=receiver, return_request=r, method=refund_method)
            except ApplicationError as exc:
                _say(stdout, f"  return left out: {exc.detail}")
                continue
            made += 1
    _say(stdout, f"  {made} returns in every state")
    if journey:
        numbers = " and ".join(o.number for o in journey)
        _say(
            stdout,
            f"  journeys 3 and 7: Julia Neumann's orders {numbers} wait at any returns counter",
        )
    if mail_return_location() is None:
        _say(stdout, "  no warehouse takes returns by mail")
    return made
