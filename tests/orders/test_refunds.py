"""Refunds follow the money: a refund is a row written with the change, the payment service is
asked after commit (through the outbox) and pays at most once per refund."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from common import outbox
from common.actor import Actor
from customers.services import add_store_credit_entry, store_credit_balance
from inventory.exceptions import InsufficientStock
from orders.models import Fulfilment, OrderStatus, PaymentStatus, Refund, ReturnStatus
from orders.payments import register_refund_provider
from orders.services import orders as order_services
from orders.services.returns import (
    ReturnLineRequest,
    create_return,
    exchange_return,
    receive_return,
    refund_return,
)
from tests.factories import CustomerFactory, VariantFactory
from tests.inventory.factories_stock import stocked
from tests.orders.factories_orders import (
    committed,
    ready_order,
    staff_actor,
    stocked_variant,
    web_actor,
)
from tests.orders.factories_returns import bought, staff_api

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


class RecordingProvider:
    """A payment service that pays at most once per idempotency key and can be told to fail."""

    name = "recording"
    failures = 0
    calls: list = []
    paid: dict = {}

    def refund(self, order, amount, reference, idempotency_key=None):
        cls = type(self)
        cls.calls.append((idempotency_key, amount))
        if cls.failures:
            cls.failures -= 1
            raise TimeoutError("payment service timed out")
        cls.paid.setdefault(idempotency_key, (amount, f"REC-{len(cls.paid) + 1}"))
        return cls.paid[idempotency_key][1]


@pytest.fixture
def provider(settings):
    RecordingProvider.failures = 0
    RecordingProvider.calls = []
    RecordingProvider.paid = {}
    register_refund_provider("recording", RecordingProvider)
    settings.OMNIS_REFUND_PROVIDER = "recording"
    return RecordingProvider


def received_return(order, store):
    r = create_return(
        actor=SYSTEM,
        order=order,
        store=store,
        lines=[
            ReturnLineRequest(order_line=line.pk, quantity=line.handed_over, reason="too_small")
            for line in order.lines.order_by("pk")
            if line.handed_over
        ],
    )
    return receive_return(
        actor=SYSTEM,
        return_request=r,
        conditions={line.pk: "resellable" for line in r.lines.all()},
    )


def refunds_of(order) -> list[tuple]:
    return sorted(order.refunds.values_list("method", "amount", "status"))


def refund_mails() -> list[str]:
    return [m.subject for m in mail.outbox if m.subject.startswith("Refund")]


# --- exchange --------------------------------------------------------------------------------


def test_an_exchange_whose_replacement_fails_pays_nothing_and_the_retry_pays_once(store, provider):
    order = bought(store=store, lines=[(VariantFactory(price=Decimal("40.00")), 1, "40.00")])
    r = received_return(order, store)
    scarf = VariantFactory(price=Decimal("25.00"))  # not in stock yet

    with committed(), pytest.raises(InsufficientStock):
        exchange_return(
            actor=staff_actor(store),
            return_request=r,
            lines=[(scarf, 1)],
            fulfilment=Fulfilment.PICKUP,
            pickup_store=store,
        )

    assert provider.calls == []
    assert not Refund.objects.exists() and store_credit_balance(order.customer) == 0

    stocked(scarf, store, 1)
    with committed():
        r, replacement, _ = exchange_return(
            actor=staff_actor(store),
            return_request=r,
            lines=[(scarf, 1)],
            fulfilment=Fulfilment.PICKUP,
            pickup_store=store,
        )

    assert r.status == ReturnStatus.REFUNDED and replacement.store_credit_used == Decimal("25.00")
    money = order.refunds.get(method="original")
    # Only the difference went to the payment service, once, under the refund's own key.
    assert provider.calls == [(f"omnis-refund-{money.pk}", Decimal("15.00"))]
    assert refunds_of(order) == [
        ("original", Decimal("15.00"), "paid"),
        ("store_credit", Decimal("25.00"), "paid"),
    ]


# --- the provider after commit ---------------------------------------------------------------


def test_a_provider_failing_after_commit_leaves_the_refund_pending_until_a_retry_pays_it_once(
    store, provider
):
    order = bought(store=store, lines=[(VariantFactory(price=Decimal("30.00")), 1, "30.00")])
    r = received_return(order, store)
    provider.failures = 2

    with committed():
        (refund,) = refund_return(actor=SYSTEM, return_request=r, method="original")

    r.refresh_from_db()
    refund.refresh_from_db()
    assert r.status == ReturnStatus.REFUNDED  # the request succeeded; the money is on its way
    assert refund.status == "pending" and len(provider.calls) == 1
    assert refund_mails() == []  # the customer hears when the money is back, not before

    later = timezone.now() + timedelta(hours=1)
    outbox.sweep(now=later)
    refund.refresh_from_db()
    assert refund.status == "pending" and len(provider.calls) == 2

    outbox.sweep(now=later + timedelta(hours=2))
    outbox.sweep(now=later + timedelta(days=1))  # nothing left to pay; the e-mail goes out

    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.provider_reference) == ("paid", "REC-1")
    assert {key for key, _ in provider.calls} == {f"omnis-refund-{refund.pk}"}
    assert len(provider.calls) == 3 and len(provider.paid) == 1
    assert order.payment_status == PaymentStatus.REFUNDED
    assert refund_mails() == [f"Refund of €30.00 for your return {r.number}"]


def test_after_the_last_attempt_the_refund_is_failed_and_a_manager_can_retry_it(
    store, provider, settings
):
    from orders.selectors.refunds import refunds_needing_attention
    from orders.services.refunds import retry_refund

    settings.OMNIS_OUTBOX_MAX_ATTEMPTS = 2
    order = bought(store=store, lines=[(VariantFactory(price=Decimal("30.00")), 1, "30.00")])
    r = received_return(order, store)
    provider.failures = 2

    with committed():
        (refund,) = refund_return(actor=SYSTEM, return_request=r, method="original")
    outbox.sweep(now=timezone.now() + timedelta(hours=1))

    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == "failed" and "timed out" in refund.last_error
    assert order.payment_status == PaymentStatus.PAID  # no money went back
    assert list(refunds_needing_attention()) == [refund]

    with committed():
        retry_refund(actor=SYSTEM, refund=refund)

    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == "paid" and order.payment_status == PaymentStatus.REFUNDED
    assert len(provider.paid) == 1 and not refunds_needing_attention().exists()


# --- money back for what was not handed over -------------------------------------------------


def test_cancelling_a_paid_click_and_collect_order_refunds_it_in_full(store, provider):
    order = ready_order(store)  # 2 × 19.90, paid

    with committed():
        order_services.cancel_order(actor=web_actor(), order=order, reason="changed my mind")

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert refunds_of(order) == [("original", Decimal("39.80"), "paid")]
    assert order.payment_status == PaymentStatus.REFUNDED
    assert len(provider.calls) == 1
    assert refund_mails() == [f"Refund of €39.80 for your order {order.number}"]


def test_a_cancelled_order_paid_partly_with_store_credit_gives_each_part_back_its_way(
    store, provider
):
    customer = CustomerFactory()
    add_store_credit_entry(customer=customer, amount=Decimal("10.00"), reason="Goodwill")
    variant = stocked_variant(store, 5)
    with committed():
        order = order_services.place_order(
            actor=web_actor(),
            customer=customer,
            fulfilment=Fulfilment.PICKUP,
            pickup_store=store,
            lines=[(variant, 2)],
            store_credit_amount=Decimal("10.00"),
        )

    with committed():
        order_services.cancel_order(actor=web_actor(), order=order)

    order.refresh_from_db()
    assert refunds_of(order) == [
        ("original", Decimal("29.80"), "paid"),
        ("store_credit", Decimal("10.00"), "paid"),
    ]
    assert store_credit_balance(customer) == Decimal("10.00")
    assert [amount for _, amount in provider.calls] == [Decimal("29.80")]
    assert order.payment_status == PaymentStatus.REFUNDED


def test_a_partial_hand_over_refunds_what_was_not_taken(store, provider):
    drill = stocked_variant(store, 5, price=Decimal("50.00"))
    bits = stocked_variant(store, 5, price=Decimal("10.00"))
    order = ready_order(store, lines=[(drill, 2), (bits, 3)])  # 130.00, paid
    drill_line, _ = order.lines.order_by("pk")

    with committed():
        order_services.hand_over(
            actor=staff_actor(store),
            order=order,
            pickup_code=order.pickup_code,
            lines=[(drill_line, 1)],
        )

    order.refresh_from_db()
    assert refunds_of(order) == [("original", Decimal("80.00"), "paid")]
    assert order.payment_status == PaymentStatus.PARTIALLY_REFUNDED

    # Returning the drill that was handed over brings the refunds to exactly what was paid.
    with committed():
        refund_return(actor=SYSTEM, return_request=received_return(order, store), method="original")
    order.refresh_from_db()
    assert sum(amount for _, amount, _ in refunds_of(order)) == Decimal("130.00")
    assert order.payment_status == PaymentStatus.REFUNDED


def test_an_uncollected_paid_order_is_refunded_when_it_expires(store, provider):
    order = ready_order(store)

    with committed():
        result = order_services.expire_uncollected_orders(
            now=order.pickup_deadline + timedelta(minutes=1)
        )

    order.refresh_from_db()
    assert result["cancelled"] == 1 and order.status == OrderStatus.CANCELLED
    assert refunds_of(order) == [("original", Decimal("39.80"), "paid")]
    assert order.payment_status == PaymentStatus.REFUNDED


def test_a_pay_at_pickup_order_gets_no_refund_on_cancel(store, provider):
    order = ready_order(store, payment_status=PaymentStatus.PAY_AT_PICKUP)

    with committed():
        order_services.cancel_order(actor=web_actor(), order=order)

    order.refresh_from_db()
    assert not order.refunds.exists() and provider.calls == []
    assert order.payment_status == PaymentStatus.PAY_AT_PICKUP


# --- what the API shows ----------------------------------------------------------------------


def test_order_and_return_responses_show_the_refunds_with_their_status(store, provider, web):
    provider.failures = 1
    order = ready_order(store)
    with committed():
        order_services.cancel_order(actor=web_actor(), order=order)

    body = web.get(f"/api/v1/orders/{order.number}/").json()
    assert body["payment_status"] == "refunded"
    assert [(x["amount"], x["status"], x["method"], x["overdue"]) for x in body["refunds"]] == [
        ("39.80", "pending", "original", False)
    ]

    # Pending longer than OMNIS_REFUND_PENDING_ALERT: flagged for the manager.
    Refund.objects.update(created_at=timezone.now() - timedelta(hours=2))
    body = web.get(f"/api/v1/orders/{order.number}/").json()
    assert body["refunds"][0]["overdue"] is True

    bought_order = bought(store=store)
    r = received_return(bought_order, store)
    with committed():
        refund_return(actor=SYSTEM, return_request=r, method="store_credit")
    body = staff_api(store).get(f"/api/v1/returns/{r.pk}/").json()
    assert [(x["amount"], x["status"], x["method"]) for x in body["refunds"]] == [
        ("19.90", "paid", "store_credit")
    ]


# --- the manager's view ----------------------------------------------------------------------


def test_the_admin_lists_refunds_needing_attention_and_asks_the_provider_again(store, provider):
    from django.test import Client

    from tests.factories import UserFactory

    provider.failures = 1
    stuck, fine = ready_order(store), ready_order(store)
    with committed():
        order_services.cancel_order(actor=web_actor(), order=stuck)
    with committed():
        order_services.cancel_order(actor=web_actor(), order=fine)
    Refund.objects.filter(order=stuck).update(
        status="failed", created_at=timezone.now() - timedelta(hours=3)
    )
    admin = Client()
    admin.force_login(UserFactory(is_superuser=True, is_staff=True))

    listed = admin.get("/admin/orders/refund/?attention=yes").content.decode()
    assert stuck.number in listed and fine.number not in listed
    assert admin.get(f"/admin/orders/order/{stuck.pk}/change/").status_code == 200

    with committed():
        response = admin.post(
            "/admin/orders/refund/",
            {
                "action": "retry_at_provider",
                "_selected_action": [Refund.objects.get(order=stuck).pk],
            },
            follow=True,
        )
    assert "1 refund(s) sent to the payment service again." in response.content.decode()
    assert Refund.objects.get(order=stuck).status == "paid"
