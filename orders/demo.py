"""Demo orders of "Omnis Haus & Mode", placed and moved through the order services.

Every channel and every state is there, so a new user can walk journey 2 in the staff UI and the
API: orders waiting to be picked, ready ones with pickup codes, collected, shipped, delivered and
cancelled ones, one to be paid at the counter, a few of the demo customer Anna Schmidt, and
Thomas Becker's two drills at the trade centre: one ready to hand over, one on its way from the
warehouse. Reservations and returns follow from their own modules.
"""

import random
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db.models import F
from django.test.utils import override_settings

from common.actor import Actor
from common.errors import ApplicationError
from common.models import ApiClient, Channel
from customers.demo import JOURNEY_PEOPLE
from customers.models import Customer
from inventory.models import StockItem, Variant
from inventory.services.transfers import dispatch_transfer
from orders.models.orders import Fulfilment, Order, OrderStatus, PaymentStatus
from orders.services import orders as services
from stores.models import Store

PICKUP_STORES = ("BER-01", "HAM-01", "MUC-01", "CGN-01", "FRA-01")
WAREHOUSE = "WHS-01"
STAFF_OF = {
    "BER-01": "berlin",
    "HAM-01": "hamburg",
    "MUC-01": "muenchen",
    "CGN-01": "koeln",
    "FRA-01": "frankfurt",
    WAREHOUSE: "lager",
}
ANNA = "anna.schmidt@example.de"
# The journeys' people get only the orders their stories need (Anna's below, Thomas's drills).
JOURNEY_EMAILS = {person.email for person in JOURNEY_PEOPLE if person.email}
# Journey SKUs stay untouched (the journeys need their exact stock), except the warehouse drill.
KEEP_CLEAR = {"HEM-0001-M-WEI", "WZ-0005-SOLO", "SCH-0003-39-SWZ", "MOE-0006-EIC", "MOE-0013-EIC"}
DRILL_FROM_WAREHOUSE = "WZ-0005-SET"

# Per pickup store: (channel, the state the order is brought to)
PICKUP_PLAN = (
    (Channel.WEB, OrderStatus.PLACED),
    (Channel.APP, OrderStatus.PLACED),
    (Channel.WEB, OrderStatus.READY_FOR_PICKUP),
    (Channel.PHONE, OrderStatus.READY_FOR_PICKUP),
    (Channel.WEB, OrderStatus.COLLECTED),
    (Channel.APP, OrderStatus.CANCELLED),
)
DELIVERY_PLAN = (
    (Channel.WEB, OrderStatus.PLACED),
    (Channel.APP, OrderStatus.PLACED),
    (Channel.WEB, OrderStatus.SHIPPED),
    (Channel.PHONE, OrderStatus.SHIPPED),
    (Channel.WEB, OrderStatus.DELIVERED),
    (Channel.APP, OrderStatus.DELIVERED),
    (Channel.WEB, OrderStatus.CANCELLED),
)


def seed_orders(*, stdout=None) -> None:
    """Orders, then reservations and returns of the demo retailer; safe to run again."""
    _seed_orders(stdout=stdout)
    seed_drill_orders(stdout=stdout)
    try:
        from orders.demo_reservations import seed_reservations
    except ImportError:
        seed_reservations = None
    if seed_reservations is not None:
        seed_reservations(stdout=stdout)
    try:
        from orders.demo_returns import seed_returns
    except ImportError:
        seed_returns = None
    if seed_returns is not None:
        seed_returns(stdout=stdout)


def _say(stdout, text: str) -> None:
    if stdout is not None:
        stdout.write(text)


def _seed_orders(*, stdout=None) -> int:
    """Place the demo orders once (nothing happens when web, app or phone orders exist)."""
    if Order.objects.exclude(fulfilment=Fulfilment.COUNTER).exists():
        _say(stdout, "  orders exist already: none added")
        return 0
    stores = {s.code: s for s in Store.objects.filter(code__in=(*PICKUP_STORES, WAREHOUSE))}
    if len(stores) < len(PICKUP_STORES) + 1:
        _say(stdout, "  demo stores missing: no orders added")
        return 0
    users = {u.username: u for u in get_user_model().objects.filter(username__in=STAFF_OF.values())}
    staff = {
        code: Actor(user=users.get(name), channel=Channel.STORE) for code, name in STAFF_OF.items()
    }
    clients = {c.channel: c for c in ApiClient.objects.filter(is_active=True).order_by("pk")}
    customers = list(
        Customer.objects.filter(merged_into__isnull=True, email__isnull=False)
        .exclude(email__in=JOURNEY_EMAILS)
        .order_by("pk")[:60]
    )
    anna = Customer.objects.filter(email=ANNA).first()
    if not customers:
        _say(stdout, "  no demo customers: no orders added")
        return 0
    rng = random.Random(20)

    def actor_for(channel: str) -> Actor:
        client = clients.get(channel) or clients.get(Channel.WEB)
        return Actor(client=client, channel=channel)

    def lines_at(store: Store, count: int) -> list[tuple[Variant, int]]:
        items = list(
            StockItem.objects.filter(
                store=store, on_hand__gte=F("reserved") + F("safety_stock") + 3
            )
            .exclude(variant__sku__in=KEEP_CLEAR | {DRILL_FROM_WAREHOUSE})
            .select_related("variant__product")
            .order_by("variant__sku")[:80]
        )
        return [
            (item.variant, rng.randint(1, 2)) for item in rng.sample(items, min(count, len(items)))
        ]

    placed = 0

    def place(channel, customer, fulfilment, store, lines, **kwargs) -> Order | None:
        nonlocal placed
        if not lines:
            return None
        try:
            order = services.place_order(
                actor=actor_for(channel),
                customer=customer,
                fulfilment=fulfilment,
                pickup_store=store if fulfilment == Fulfilment.PICKUP else None,
                shipping_store=store if fulfilment == Fulfilment.DELIVERY else None,
                channel=channel,
                lines=lines,
                **kwargs,
            )
        except ApplicationError as exc:
            # A smaller demo catalogue may lack the stock: leave this one out.
            _say(stdout, f"  order left out: {exc.detail}")
            return None
        placed += 1
        return order

    def bring_to(order: Order | None, target: str, store_code: str) -> None:
        if order is None:
            return
        actor = staff[store_code]
        steps: dict[str, list[Callable[[], object]]] = {
            OrderStatus.READY_FOR_PICKUP: [
                lambda: services.mark_ready_for_pickup(actor=actor, order=order)
            ],
            OrderStatus.COLLECTED: [
                lambda: services.mark_ready_for_pickup(actor=actor, order=order),
                lambda: services.hand_over(actor=actor, order=order, pickup_code=order.pickup_code),
            ],
            OrderStatus.SHIPPED: [lambda: services.ship_order(actor=actor, order=order)],
            OrderStatus.DELIVERED: [
                lambda: services.ship_order(actor=actor, order=order),
                lambda: services.deliver_order(actor=actor, order=order),
            ],
            OrderStatus.CANCELLED: [
                lambda: services.cancel_order(
                    actor=actor_for(order.channel), order=order, reason="customer changed plans"
                )
            ],
        }
        for step in steps.get(target, []):
            step()

    # The demo customers are made up: their e-mails and SMS are rendered but not sent anywhere.
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        SMS_BACKEND="common.sms.DummyBackend",
    ):
        for code in PICKUP_STORES:
            store = stores[code]
            for channel, target in PICKUP_PLAN:
                order = place(
                    channel,
                    rng.choice(customers),
                    Fulfilment.PICKUP,
                    store,
                    lines_at(store, rng.randint(1, 2)),
                )
                bring_to(order, target, code)
        warehouse = stores[WAREHOUSE]
        for channel, target in DELIVERY_PLAN:
            order = place(
                channel,
                rng.choice(customers),
                Fulfilment.DELIVERY,
                warehouse,
                lines_at(warehouse, rng.randint(1, 3)),
                shipping_address={
                    "street": "Musterstraße 1",
                    "postcode": "10115",
                    "city": "Berlin",
                },
            )
            bring_to(order, target, WAREHOUSE)

        # Pay at the counter, waiting to be picked in Hamburg.
        place(
            Channel.WEB,
            rng.choice(customers),
            Fulfilment.PICKUP,
            stores["HAM-01"],
            lines_at(stores["HAM-01"], 1),
            payment_status=PaymentStatus.PAY_AT_PICKUP,
        )

        if anna is not None:
            berlin = stores["BER-01"]
            bring_to(
                place(Channel.WEB, anna, Fulfilment.PICKUP, berlin, lines_at(berlin, 2)),
                OrderStatus.READY_FOR_PICKUP,
                "BER-01",
            )
            bring_to(
                place(Channel.APP, anna, Fulfilment.PICKUP, berlin, lines_at(berlin, 1)),
                OrderStatus.COLLECTED,
                "BER-01",
            )
            bring_to(
                place(Channel.WEB, anna, Fulfilment.DELIVERY, warehouse, lines_at(warehouse, 1)),
                OrderStatus.DELIVERED,
                WAREHOUSE,
            )
    _say(stdout, f"  {placed} orders in every channel and state")
    return placed


THOMAS = "thomas.becker@example.de"
DRILL = "WZ-0005-SOLO"


def seed_drill_orders(*, stdout=None) -> list[Order]:
    """Journey 2 for Thomas Becker: the drill the trade centre had, picked and ready to hand
    over (pickup code sent), and the drill set it had not, sent by the warehouse (in transit, to
    be received at the centre). Nothing happens once Thomas has a drill order."""
    thomas = Customer.objects.filter(email=THOMAS, merged_into__isnull=True).first()
    stores = {s.code: s for s in Store.objects.filter(code__in=("CGN-01", WAREHOUSE))}
    drills = {v.sku: v for v in Variant.objects.filter(sku__in=(DRILL, DRILL_FROM_WAREHOUSE))}
    if thomas is None or len(stores) < 2 or len(drills) < 2:
        _say(stdout, "  journey 2 left out: Thomas Becker, the trade centre or the drills missing")
        return []
    his_drills = Order.objects.filter(customer=thomas, lines__sku__in=drills).distinct()
    if his_drills.exists():
        return list(his_drills.order_by("pk"))
    users = {u.username: u for u in get_user_model().objects.filter(username__in=STAFF_OF.values())}
    centre = Actor(user=users.get(STAFF_OF["CGN-01"]), channel=Channel.STORE)
    warehouse = Actor(user=users.get(STAFF_OF[WAREHOUSE]), channel=Channel.STORE)
    webshop = Actor(
        client=ApiClient.objects.filter(channel=Channel.WEB, is_active=True).order_by("pk").first(),
        channel=Channel.WEB,
    )
    made = []
    # Thomas is made up too: his messages are rendered but not sent anywhere.
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        SMS_BACKEND="common.sms.DummyBackend",
    ):
        for sku in (DRILL, DRILL_FROM_WAREHOUSE):
            try:
                order = services.place_order(
                    actor=webshop,
                    customer=thomas,
                    fulfilment=Fulfilment.PICKUP,
                    pickup_store=stores["CGN-01"],
                    channel=Channel.WEB,
                    lines=[(drills[sku], 1)],
                )
                if order.transfer_id is None:
                    order = services.mark_ready_for_pickup(actor=centre, order=order)
                else:
                    dispatch_transfer(actor=warehouse, transfer=order.transfer)
            except ApplicationError as exc:
                _say(stdout, f"  journey 2 order left out: {exc.detail}")
                continue
            made.append(order)
    _say(stdout, f"  journey 2: {len(made)} drill orders of Thomas Becker at the trade centre")
    return made
