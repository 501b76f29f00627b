"""Soak: every stock workflow at once from many threads, then check that every unit adds up.

    .venv/bin/python bench/soak.py [--threads 16] [--seconds 60] [--seed 1]

Creates (drops first) the database omnis_bench_soak: two stores and a warehouse, SKUs stocked
everywhere, customers (some with store credit) and a webshop API client. Then N threads, for the
given time, pick at random: multi-line reservations of stock that are sold, released or kept;
goods in and shelf sales; click & collect and delivery orders (some through the API with an
Idempotency-Key), readied and handed over (partly, too), shipped or cancelled; customer
reservations collected (partly, too) or cancelled; transfers requested, dispatched, received or
called off; returns announced and received. All through the services, as the channels do.

Domain refusals (insufficient_stock, illegal_transition, …) are expected and counted. A failure
is anything else: a deadlock or serialization failure that reached the caller (busy_try_again),
any database error, any other exception, an API answer of 500 or above. At the end: check_stock
must be clean and each stock item's reserved quantity must equal what the open reservations,
open orders, requested transfers and the threads' own kept holds account for there. Prints a
table per operation and exits non-zero on any failure. tests/test_soak.py runs a short version.
"""

import argparse
import random
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

SOAK_DATABASE = "omnis_bench_soak"


@dataclass
class World:
    stores: list  # the two shops, the warehouse created between them (ids interleave)
    warehouse: object
    variants: list
    customers: list
    credit_customers: list
    api_key: str


@dataclass
class Report:
    done: Counter = field(default_factory=Counter)  # operation → finished without a refusal
    refused: Counter = field(default_factory=Counter)  # (operation, code) → domain refusals
    failures: list = field(default_factory=list)  # (operation, description)
    holds: Counter = field(default_factory=Counter)  # (store id, variant id) → kept by threads
    seconds: float = 0.0
    absorbed: Counter = field(default_factory=Counter)  # retried transactions, by SQLSTATE
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_world(*, skus: int = 12, customers: int = 30, prefix: str = "SOAK") -> World:
    """Stores, stock through the ledger, customers and an API client (call with Django set up)."""
    from common.actor import Actor
    from common.models import Channel
    from common.services import create_or_rotate_api_client
    from customers.models import Customer
    from customers.services import add_store_credit_entry
    from inventory import services as stock
    from inventory.models import Category, Product, Variant
    from inventory.validators import ean13_check_digit
    from stores.models import Store

    def store(code: str, **flags) -> Store:
        return Store.objects.create(
            code=code,
            name=f"Soak {code}",
            street="Teststraße 1",
            postcode="10115",
            city="Berlin",
            latitude=Decimal("52.52"),
            longitude=Decimal("13.40"),
            **flags,
        )

    first = store(f"{prefix}-A")
    warehouse = store(f"{prefix}-W", is_warehouse=True)  # between the shops' ids on purpose
    second = store(f"{prefix}-B")
    category = Category.objects.create(name=f"{prefix} goods", slug=f"{prefix.lower()}-goods")
    product = Product.objects.create(name=f"{prefix} shirt", category=category)
    variants = []
    for i in range(skus):
        first12 = f"27{abs(hash(prefix)) % 1000:03d}{i:07d}"
        variants.append(
            Variant.objects.create(
                product=product,
                sku=f"{prefix}-{i:04d}",
                ean=first12 + str(ean13_check_digit(first12)),
                price=Decimal("10.00"),
            )
        )
    system = Actor.system()
    for where, units in ((first, 25), (warehouse, 60), (second, 25)):
        stock.receive(actor=system, store=where, lines=[(v, units) for v in variants])
    people = [
        Customer.objects.create(
            first_name="Soak", last_name=f"Kunde {i}", email=f"{prefix}{i}@x.de"
        )
        for i in range(customers)
    ]
    credit = people[: customers // 3]
    for person in credit:
        add_store_credit_entry(customer=person, amount=Decimal("1000.00"), reason="Soak")
    _, key, _ = create_or_rotate_api_client(name=f"{prefix.lower()}-webshop", channel=Channel.WEB)
    return World([first, second], warehouse, variants, people, credit, key)


# --- the operations --------------------------------------------------------------------------


def _lines(rng: random.Random, world: World, most: int = 3) -> list:
    return [(v, rng.randint(1, 3)) for v in rng.sample(world.variants, rng.randint(1, most))]


def _pick(rng: random.Random, queryset):
    ids = list(queryset.order_by("-pk").values_list("pk", flat=True)[:40])
    return queryset.model.objects.get(pk=rng.choice(ids)) if ids else None


def op_stock_hold(rng, world, report, actor, me):
    """Reserve several lines at a location; then sell, release or keep them (kept: `me`)."""
    from inventory import services as stock

    where = rng.choice([*world.stores, world.warehouse])
    cause = uuid.uuid4().hex[:12]
    lines = [(v, q, cause) for v, q in _lines(rng, world, 4)]
    stock.reserve(actor=actor, store=where, lines=lines, cause_type="manual")
    roll = rng.random()
    if roll < 0.35:
        stock.sell(actor=actor, store=where, lines=lines, cause_type="manual")
    elif roll < 0.7:
        stock.release(actor=actor, store=where, lines=list(reversed(lines)), cause_type="manual")
    else:
        me.append((where, lines))
        with report.lock:
            for v, q, _ in lines:
                report.holds[(where.pk, v.pk)] += q


def op_settle_hold(rng, world, report, actor, me):
    """Release or sell a hold this thread kept earlier."""
    from inventory import services as stock

    if not me:
        return
    where, lines = me.pop(rng.randrange(len(me)))
    if rng.random() < 0.5:
        stock.release(actor=actor, store=where, lines=lines, cause_type="manual")
    else:
        stock.sell(actor=actor, store=where, lines=lines, cause_type="manual")
    with report.lock:
        for v, q, _ in lines:
            report.holds[(where.pk, v.pk)] -= q


def op_goods_in(rng, world, report, actor, me):
    from inventory import services as stock

    where = rng.choice([*world.stores, world.warehouse])
    stock.receive(actor=actor, store=where, lines=_lines(rng, world, 4), reason="Soak delivery")


def op_shelf_sale(rng, world, report, actor, me):
    from inventory import services as stock

    where = rng.choice(world.stores)
    lines = [(v, 1, "counter") for v, _ in _lines(rng, world, 2)]
    stock.sell(actor=actor, store=where, lines=lines, cause_type="manual", from_reserved=False)


def op_place_order(rng, world, report, actor, me):
    from orders.services.orders import place_order

    customer = rng.choice(world.customers)
    credit = None
    if customer in world.credit_customers and rng.random() < 0.5:
        credit = Decimal("5.00")
    if rng.random() < 0.75:
        place_order(
            actor=actor,
            customer=customer,
            fulfilment="pickup",
            pickup_store=rng.choice(world.stores),
            lines=_lines(rng, world),
            store_credit_amount=credit,
        )
    else:
        place_order(
            actor=actor,
            customer=customer,
            fulfilment="delivery",
            lines=_lines(rng, world),
            store_credit_amount=credit,
        )


class ApiRefusal(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def op_api_order(rng, world, report, actor, me, client=None):
    """A webshop order through POST /api/v1/orders/, sent twice with one Idempotency-Key."""
    body = {
        "customer": rng.choice(world.customers).pk,
        "fulfilment": "pickup",
        "pickup_store": rng.choice(world.stores).code,
        "lines": [{"sku": v.sku, "quantity": q} for v, q in _lines(rng, world)],
        "payment_reference": f"psp_soak_{uuid.uuid4().hex[:12]}",
    }
    key = uuid.uuid4().hex
    for _ in range(2):
        response = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        if response.status_code >= 500:
            raise RuntimeError(f"API answered {response.status_code}: {response.content[:300]!r}")
    if response.status_code == 409:  # a domain refusal, like the services' ApplicationError
        raise ApiRefusal(response.json().get("code") or "conflict")
    if response.status_code != 201:
        raise RuntimeError(f"API answered {response.status_code}: {response.content[:300]!r}")


def op_hand_over(rng, world, report, actor, me):
    from orders.models import Order
    from orders.services.orders import hand_over, mark_ready_for_pickup

    order = _pick(rng, Order.objects.filter(status__in=["placed", "ready_for_pickup"]))
    if order is None or order.fulfilment != "pickup":
        return
    if order.status == "placed":
        mark_ready_for_pickup(actor=actor, order=order)
        order.refresh_from_db()
    lines = None
    if rng.random() < 0.5:  # partly: the customer leaves some of it
        order_lines = list(order.lines.order_by("pk"))
        lines = [(ln, rng.randint(0, ln.quantity)) for ln in order_lines]
        if not any(q for _, q in lines):
            lines[0] = (order_lines[0], 1)
    hand_over(actor=actor, order=order, pickup_code=order.pickup_code or "", lines=lines)


def op_ship(rng, world, report, actor, me):
    from orders.models import Order
    from orders.services.orders import ship_order

    order = _pick(rng, Order.objects.filter(status="placed", fulfilment="delivery"))
    if order is not None:
        ship_order(actor=actor, order=order)


def op_cancel_order(rng, world, report, actor, me):
    from orders.models import Order
    from orders.services.orders import cancel_order

    order = _pick(rng, Order.objects.filter(status__in=["placed", "ready_for_pickup"]))
    if order is not None:
        cancel_order(actor=actor, order=order, reason="Soak")


def op_reservation(rng, world, report, actor, me):
    from orders.services.reservations import reserve_for_customer

    reserve_for_customer(
        actor=actor,
        store=rng.choice(world.stores),
        customer=rng.choice(world.customers),
        lines=_lines(rng, world),
    )


def op_settle_reservation(rng, world, report, actor, me):
    from orders.models import Reservation
    from orders.services.reservations import cancel_reservation, collect_reservation

    reservation = _pick(rng, Reservation.objects.filter(status="active"))
    if reservation is None:
        return
    if rng.random() < 0.4:
        cancel_reservation(actor=actor, reservation=reservation, note="Soak")
        return
    lines = None
    if rng.random() < 0.5:
        lines = [(ln, rng.randint(0, ln.quantity)) for ln in reservation.lines.order_by("pk")]
        if not any(q for _, q in lines):
            lines[0] = (lines[0][0], 1)
    collect_reservation(actor=actor, reservation=reservation, lines=lines)


def op_transfer(rng, world, report, actor, me):
    from inventory import services as stock

    source, destination = rng.sample([*world.stores, world.warehouse], 2)
    stock.create_transfer(
        actor=actor,
        from_store=source,
        to_store=destination,
        lines=_lines(rng, world),
        reason="Soak",
    )


def op_move_transfer(rng, world, report, actor, me):
    """Dispatch, receive (orders' transfers too) or call off a transfer of our own."""
    from inventory import services as stock
    from inventory.models import Transfer

    transfer = _pick(rng, Transfer.objects.filter(status__in=["requested", "in_transit"]))
    if transfer is None:
        return
    if transfer.status == "in_transit":
        stock.receive_transfer(actor=actor, transfer=transfer)
    elif not transfer.destined_cause_type and rng.random() < 0.3:
        stock.cancel_transfer(actor=actor, transfer=transfer, reason="Soak")
    else:
        stock.dispatch_transfer(actor=actor, transfer=transfer)


def op_return(rng, world, report, actor, me):
    from django.db.models import F

    from orders.models import Order
    from orders.services.returns import ReturnLineRequest, create_return, receive_return

    order = _pick(
        rng,
        Order.objects.filter(
            status__in=["collected", "delivered"], lines__returned__lt=F("lines__handed_over")
        ).distinct(),
    )
    if order is None:
        return
    lines = [
        ReturnLineRequest(order_line=ln.pk, quantity=1, reason="too_small")
        for ln in order.lines.order_by("-pk")  # line order on purpose unlike the stock rows
        if ln.handed_over > ln.returned
    ]
    request = create_return(actor=actor, order=order, lines=lines, store=rng.choice(world.stores))
    receive_return(
        actor=actor,
        return_request=request,
        conditions={
            ln.pk: "damaged" if rng.random() < 0.2 else "resellable" for ln in request.lines.all()
        },
    )


OPERATIONS = [  # (name, function, weight)
    ("stock hold", op_stock_hold, 14),
    ("settle hold", op_settle_hold, 6),
    ("goods in", op_goods_in, 4),
    ("shelf sale", op_shelf_sale, 4),
    ("place order", op_place_order, 12),
    ("API order", op_api_order, 5),
    ("ready + hand over", op_hand_over, 8),
    ("ship", op_ship, 3),
    ("cancel order", op_cancel_order, 5),
    ("reserve for customer", op_reservation, 8),
    ("collect/cancel resv.", op_settle_reservation, 6),
    ("transfer", op_transfer, 4),
    ("move transfer", op_move_transfer, 6),
    ("return", op_return, 5),
]


# --- running and checking --------------------------------------------------------------------


def soak(world: World, *, threads: int, seconds: float, seed: int = 1, progress=None) -> Report:
    """Run the operations from `threads` threads for `seconds`; `progress(report, elapsed)` is
    called about every two seconds from the calling thread."""
    from django.db import DatabaseError, connection
    from rest_framework.test import APIClient

    from common import retry
    from common.actor import Actor
    from common.errors import ApplicationError

    report = Report()
    before = Counter(retry.absorbed)
    names = [name for name, _, _ in OPERATIONS]
    weights = [weight for _, _, weight in OPERATIONS]
    functions = {name: function for name, function, _ in OPERATIONS}
    stop = threading.Event()
    start = threading.Barrier(threads + 1)

    def caller(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        actor = Actor.system()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.api_key}")
        mine: list = []
        try:
            start.wait()
            while not stop.is_set():
                name = rng.choices(names, weights)[0]
                extra = {"client": client} if name == "API order" else {}
                try:
                    functions[name](rng, world, report, actor, mine, **extra)
                except retry.Busy as exc:
                    outcome = ("failure", f"deadlock surfaced: {exc}")
                except ApplicationError as exc:
                    outcome = ("refused", exc.code)
                except ApiRefusal as exc:
                    outcome = ("refused", exc.code)
                except DatabaseError as exc:
                    outcome = ("failure", f"{type(exc).__name__}: {exc}")
                except Exception:  # noqa: BLE001 - every unexpected error is reported
                    outcome = ("failure", traceback.format_exc(limit=6))
                else:
                    outcome = ("done", "")
                with report.lock:
                    if outcome[0] == "done":
                        report.done[name] += 1
                    elif outcome[0] == "refused":
                        report.refused[(name, outcome[1])] += 1
                    else:
                        report.failures.append((name, outcome[1]))
        finally:
            connection.close()

    pool = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        time.sleep(min(2.0, max(0.0, seconds - (time.monotonic() - began))))
        if progress:
            progress(report, time.monotonic() - began)
    stop.set()
    for t in pool:
        t.join(timeout=120)
    if any(t.is_alive() for t in pool):
        report.failures.append(("soak", "a thread hung"))
    report.seconds = time.monotonic() - began
    report.absorbed = Counter(retry.absorbed) - before
    return report


def expected_reserved() -> Counter:
    """(store id, variant id) → units the open promises account for: active reservations, open
    orders (lines travelling by a transfer count once it is received), requested transfers."""
    from inventory.models import TransferLine, TransferStatus
    from orders.models import OrderLine, ReservationLine

    expected: Counter = Counter()
    for store_id, variant_id, quantity in ReservationLine.objects.filter(
        reservation__status="active"
    ).values_list("reservation__store_id", "variant_id", "quantity"):
        expected[(store_id, variant_id)] += quantity
    open_lines = OrderLine.objects.filter(order__status__in=["placed", "ready_for_pickup"])
    for store_id, variant_id, quantity, via, transfer_status in open_lines.values_list(
        "order__fulfilment_store_id",
        "variant_id",
        "quantity",
        "via_transfer",
        "order__transfer__status",
    ):
        if not via or transfer_status == TransferStatus.RECEIVED:
            expected[(store_id, variant_id)] += quantity
    for store_id, variant_id, quantity in TransferLine.objects.filter(
        transfer__status="requested"
    ).values_list("transfer__from_store_id", "variant_id", "quantity"):
        expected[(store_id, variant_id)] += quantity
    return expected


def check(report: Report) -> list[str]:
    """Problems after the run: check_stock's offenders and unaccounted reserved units."""
    import io

    from django.core.management import CommandError, call_command

    from inventory.models import StockItem

    problems: list[str] = []
    out = io.StringIO()
    try:
        call_command("check_stock", stdout=out)
    except CommandError as exc:
        problems.append(f"check_stock: {exc}\n{out.getvalue()}")
    expected = expected_reserved() + +report.holds
    for item in StockItem.objects.all():
        wanted = expected.get((item.store_id, item.variant_id), 0)
        if item.reserved != wanted:
            problems.append(
                f"stock item {item.pk} (store {item.store_id}, variant {item.variant_id}): "
                f"reserved {item.reserved}, open promises account for {wanted}"
            )
    return problems


def summary(report: Report) -> str:
    from _setup import table

    rows = []
    for name, _, _ in OPERATIONS:
        refused = {code: n for (op, code), n in report.refused.items() if op == name}
        failed = sum(1 for op, _ in report.failures if op == name)
        codes = ", ".join(f"{code} {n}" for code, n in sorted(refused.items())) or "-"
        rows.append([name, report.done[name], sum(refused.values()), failed, codes])
    total = sum(report.done.values())
    return table(["operation", "done", "refused", "failures", "refusals by code"], rows) + (
        f"\n\n{total} operations done in {report.seconds:.0f} s ({total / report.seconds:.0f}/s), "
        f"{sum(report.refused.values())} refused as expected, {len(report.failures)} failures; "
        f"transactions run again after a deadlock/serialization failure: "
        f"{sum(v for k, v in report.absorbed.items() if k != 'busy')} "
        f"({dict(report.absorbed) or 'none'})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", default=None)
    parser.add_argument("--database", default=SOAK_DATABASE)
    args = parser.parse_args()

    import logging
    import os

    from _setup import DEFAULT_SERVER, django_on_fresh_database

    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
    django_on_fresh_database(args.server or DEFAULT_SERVER, args.database)
    logging.getLogger("celery").setLevel(logging.WARNING)  # e-mail tasks run eagerly here
    logging.getLogger("django.request").setLevel(logging.ERROR)  # 409s are expected
    logging.getLogger("omnis.requests").setLevel(logging.WARNING)
    world = build_world()

    def progress(report: Report, elapsed: float) -> None:
        print(
            f"  {elapsed:4.0f} s  {sum(report.done.values()):6d} done  "
            f"{sum(report.refused.values()):6d} refused  {len(report.failures):3d} failures",
            file=sys.stderr,
            flush=True,
        )

    print(f"soak: {args.threads} threads for {args.seconds:.0f} s", flush=True)
    report = soak(
        world, threads=args.threads, seconds=args.seconds, seed=args.seed, progress=progress
    )
    print(summary(report))
    for name, description in report.failures[:10]:
        print(f"\nFAILURE in {name}:\n{description}")
    problems = check(report)
    for problem in problems[:20]:
        print(f"PROBLEM: {problem}")
    if not problems:
        print("check_stock clean; every reserved unit is accounted for by an open promise.")
    return 1 if report.failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
