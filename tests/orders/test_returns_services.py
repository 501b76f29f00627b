"""Returns: announce, receive, refund, reject — the domain rules, through the services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from common.actor import Actor
from common.errors import Forbidden, IllegalTransition, InvalidInput
from common.models import Channel
from customers.models import StoreCreditEntry, TimelineEvent, TimelineKind
from customers.services import store_credit_balance
from inventory.models import CauseType, MovementKind, StockItem, StockMovement
from orders.models import (
    Order,
    OrderLine,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
    Return,
    ReturnStatus,
)
from orders.services.returns import (
    AlreadyRefunded,
    NothingToRefund,
    RefundFailed,
    ReturnLineRequest,
    ReturnWindowClosed,
    counter_return,
    create_return,
    receive_return,
    refund_return,
    reject_return,
)
from stores.models import StaffRole
from tests.factories import StoreFactory, VariantFactory, WarehouseFactory, staff_user
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


def staff_actor(*stores, role=StaffRole.STORE_STAFF):
    return Actor(user=staff_user(*stores, role=role), channel=Channel.STORE)


def one_line(order, quantity=1, reason="too_small"):
    line = order.lines.get()
    return [ReturnLineRequest(order_line=line.pk, quantity=quantity, reason=reason)]


def received(return_request, actor=SYSTEM, condition="resellable"):
    return receive_return(
        actor=actor,
        return_request=return_request,
        conditions={line.pk: condition for line in return_request.lines.all()},
    )


@pytest.fixture
def shirt():
    return VariantFactory(price=Decimal("30.00"))


@pytest.fixture
def order(store, shirt):
    return bought(store=store, lines=[(shirt, 3, "30.00")])


class TestAnnounce:
    def test_a_return_gets_a_number_history_and_a_timeline_entry(self, order, other_store):
        r = create_return(actor=SYSTEM, order=order, store=other_store, lines=one_line(order, 2))

        assert r.number == f"R-{r.pk:06d}"
        assert r.status == ReturnStatus.REQUESTED
        assert r.store == other_store
        assert [(line.quantity, line.reason) for line in r.lines.all()] == [(2, "too_small")]
        assert list(r.history.values_list("from_status", "to_status")) == [("", "requested")]
        event = TimelineEvent.objects.get(
            customer=order.customer, kind=TimelineKind.RETURN_REQUESTED
        )
        assert r.number in event.summary and event.store == other_store

    def test_never_more_than_handed_over_across_returns(self, order, store):
        create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 2))

        with pytest.raises(InvalidInput) as exc:
            create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 2))

        assert exc.value.code == "quantity_not_returnable"
        assert exc.value.errors == {
            "lines": [{"quantity": [f"At most 1 of {order.lines.get().sku} can be returned."]}]
        }
        assert Return.objects.count() == 1

    def test_only_what_was_handed_over_counts(self, store, shirt):
        order = bought(store=store, lines=[(shirt, 3, "30.00")])
        OrderLine.objects.filter(order=order).update(handed_over=1)

        with pytest.raises(InvalidInput):
            create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 2))

    def test_a_rejected_return_frees_its_units(self, order, store):
        first = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 3))
        reject_return(actor=SYSTEM, return_request=first, reason="Customer did not come")

        second = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 3))

        assert second.lines.get().quantity == 3

    def test_a_store_that_accepts_no_returns_is_refused(self, order):
        outlet = StoreFactory(accepts_returns=False)

        with pytest.raises(InvalidInput) as exc:
            create_return(actor=SYSTEM, order=order, store=outlet, lines=one_line(order))

        assert "store" in exc.value.errors
        assert not Return.objects.exists()

    def test_by_mail_the_warehouse_receives(self, order):
        WarehouseFactory(code="LAG-02", accepts_returns=False)
        warehouse = WarehouseFactory(code="LAG-01")

        r = create_return(actor=SYSTEM, order=order, method="mail", lines=one_line(order))

        assert r.store == warehouse and r.method == "mail"

    def test_by_mail_without_a_warehouse_is_refused(self, order):
        with pytest.raises(InvalidInput) as exc:
            create_return(actor=SYSTEM, order=order, method="mail", lines=one_line(order))
        assert "method" in exc.value.errors

    def test_unknown_line_reason_and_quantity_are_field_errors(self, order, store):
        other = bought(store=store)
        lines = [
            ReturnLineRequest(order_line=other.lines.get().pk, quantity=1, reason="too_small"),
            ReturnLineRequest(order_line=order.lines.get().pk, quantity=0, reason="bored"),
        ]
        with pytest.raises(InvalidInput) as exc:
            create_return(actor=SYSTEM, order=order, store=store, lines=lines)

        assert set(exc.value.errors["lines"][1]) == {"quantity", "reason"}
        assert not Return.objects.exists()

    def test_a_customer_may_return_only_its_own_orders(self, order, store, customer_api):
        actor = Actor(user=customer_api.user, channel=Channel.WEB)

        with pytest.raises(InvalidInput) as exc:
            create_return(actor=actor, order=order, store=store, lines=one_line(order))

        assert exc.value.errors == {"order": ["Unknown order."]}

    def test_staff_take_returns_only_at_their_own_counter(self, order, store, other_store):
        with pytest.raises(Forbidden):
            create_return(
                actor=staff_actor(store), order=order, store=other_store, lines=one_line(order)
            )


class TestReturnWindow:
    def test_after_the_window_the_return_is_refused(self, store, shirt, settings):
        settings.OMNIS_RETURN_WINDOW_DAYS = 30
        order = bought(store=store, lines=[(shirt, 1, "30.00")], days_ago=31)

        with pytest.raises(ReturnWindowClosed) as exc:
            create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))

        assert exc.value.status == 409 and exc.value.extra["window_days"] == 30

    def test_the_receiving_store_may_allow_longer(self, shirt):
        generous = StoreFactory(return_window_days=60)
        order = bought(store=generous, lines=[(shirt, 1, "30.00")], days_ago=45)

        r = create_return(actor=SYSTEM, order=order, store=generous, lines=one_line(order))

        assert r.window_override_reason == ""

    def test_a_manager_overrides_with_a_reason_that_is_recorded(self, store, shirt):
        order = bought(store=store, lines=[(shirt, 1, "30.00")], days_ago=40)
        manager = staff_actor(store, role=StaffRole.MANAGER)

        r = create_return(
            actor=manager,
            order=order,
            store=store,
            lines=one_line(order),
            override_reason="Regular customer, was abroad",
        )

        assert r.window_override_reason == "Regular customer, was abroad"
        assert r.window_override_by == manager.user
        assert "overridden" in r.history.get().note

    def test_store_staff_cannot_override(self, store, shirt):
        order = bought(store=store, lines=[(shirt, 1, "30.00")], days_ago=40)

        with pytest.raises(Forbidden):
            create_return(
                actor=staff_actor(store),
                order=order,
                store=store,
                lines=one_line(order),
                override_reason="please",
            )
        assert not Return.objects.exists()

    def test_the_window_counts_from_delivery(self, store, shirt):
        order = bought(store=store, lines=[(shirt, 1, "30.00")], channel=Channel.WEB, days_ago=5)
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=90))
        order.refresh_from_db()

        assert create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))


class TestReceive:
    def test_resellable_goes_back_on_the_receiving_shelf(self, order, other_store, shirt):
        r = create_return(actor=SYSTEM, order=order, store=other_store, lines=one_line(order, 2))
        actor = staff_actor(other_store)

        received(r, actor)

        r.refresh_from_db()
        line = r.lines.get()
        assert r.status == ReturnStatus.RECEIVED and r.received_at is not None
        assert line.condition == "resellable"
        assert StockItem.objects.get(store=other_store, variant=shirt).on_hand == 2
        movement = StockMovement.objects.get(kind=MovementKind.RETURN_RESTOCK)
        assert (movement.cause_type, movement.cause_id) == (CauseType.RETURN_LINE, str(line.pk))
        assert movement.actor_user == actor.user
        assert OrderLine.objects.get(pk=line.order_line_id).returned == 2
        assert TimelineEvent.objects.filter(kind=TimelineKind.RETURN_RECEIVED).count() == 1

    def test_damaged_never_becomes_stock(self, order, store, shirt):
        r = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 1))

        received(r, condition="damaged")

        movement = StockMovement.objects.get()
        assert movement.kind == MovementKind.DAMAGE and movement.on_hand_delta == 0
        assert movement.cause_id == str(r.lines.get().pk)
        assert StockItem.objects.get(store=store, variant=shirt).on_hand == 0

    def test_the_customer_hears_once_that_the_goods_arrived(
        self, order, store, django_capture_on_commit_callbacks
    ):
        r = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 1))

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            received(r)
        callbacks[0]()  # the task running a second time sends nothing more

        assert [m.subject for m in mail.outbox] == [f"Your return {r.number} has arrived"]
        assert mail.outbox[0].to == [order.customer.email]

    def test_staff_of_another_store_cannot_receive(self, order, store, other_store):
        r = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))

        with pytest.raises(Forbidden):
            received(r, staff_actor(other_store))

        r.refresh_from_db()
        assert r.status == ReturnStatus.REQUESTED and not StockMovement.objects.exists()

    def test_received_at_another_counter_than_announced(self, order, store, other_store):
        r = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))

        receive_return(
            actor=staff_actor(other_store),
            return_request=r,
            store=other_store,
            conditions={r.lines.get().pk: "resellable"},
        )

        r.refresh_from_db()
        assert r.store == other_store

    def test_every_line_needs_a_known_condition(self, order, store):
        r = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))

        with pytest.raises(InvalidInput):
            receive_return(actor=SYSTEM, return_request=r, conditions={})
        with pytest.raises(InvalidInput):
            receive_return(actor=SYSTEM, return_request=r, conditions={r.lines.get().pk: "meh"})

        r.refresh_from_db()
        assert r.status == ReturnStatus.REQUESTED and not StockMovement.objects.exists()

    def test_receiving_twice_is_a_conflict(self, order, store):
        r = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))
        received(r)

        with pytest.raises(IllegalTransition):
            received(r)

        assert StockMovement.objects.count() == 1
        assert order.lines.get().returned == 1


class TestRefund:
    def test_to_the_original_payment_through_the_provider(
        self, order, store, django_capture_on_commit_callbacks
    ):
        r = received(
            create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 2))
        )

        with django_capture_on_commit_callbacks(execute=True):
            (refund,) = refund_return(actor=staff_actor(store), return_request=r, method="original")
            # Written pending: the provider is asked only after commit.
            assert refund.status == RefundStatus.PENDING and not mail.outbox

        r.refresh_from_db()
        order.refresh_from_db()
        refund.refresh_from_db()
        assert (refund.method, refund.amount, refund.provider) == (
            "original",
            Decimal("60.00"),
            "manual",
        )
        assert (refund.status, refund.provider_reference) == ("paid", f"MAN-{r.number}")
        assert r.status == ReturnStatus.REFUNDED and r.lines.get().refund_amount == Decimal("60.00")
        assert order.payment_status == PaymentStatus.PARTIALLY_REFUNDED
        assert TimelineEvent.objects.filter(kind=TimelineKind.REFUND_ISSUED).count() == 1
        assert mail.outbox[-1].subject == f"Refund of €60.00 for your return {r.number}"

    def test_cash_sales_are_paid_back_in_cash(self, store, shirt):
        order = bought(store=store, lines=[(shirt, 1, "30.00")], payment_method="cash")
        r = received(create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order)))

        (refund,) = refund_return(actor=SYSTEM, return_request=r, method="original")

        assert refund.provider == "cash"
        order.refresh_from_db()
        assert order.payment_status == PaymentStatus.REFUNDED

    def test_line_discounts_pro_rata_and_rounding_never_exceed_the_line(self, store, shirt):
        # 3 × 10.00 less 1.00: each unit is worth 9.666…; three separate returns pay back 29.00.
        order = bought(store=store, lines=[(shirt, 3, "10.00", "1.00")])
        amounts = []
        for _ in range(3):
            r = received(
                create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))
            )
            amounts += [
                x.amount for x in refund_return(actor=SYSTEM, return_request=r, method="original")
            ]

        assert amounts == [Decimal("9.67"), Decimal("9.66"), Decimal("9.67")]
        assert sum(amounts) == Decimal("29.00")

    def test_an_order_wide_discount_is_shared_pro_rata(self, store):
        a, b = VariantFactory(), VariantFactory()
        order = bought(
            store=store, lines=[(a, 1, "60.00"), (b, 1, "40.00")], order_discount=Decimal("10.00")
        )
        line_a = order.lines.get(variant=a)
        r = received(
            create_return(
                actor=SYSTEM,
                order=order,
                store=store,
                lines=[ReturnLineRequest(order_line=line_a.pk, quantity=1, reason="defective")],
            )
        )

        (refund,) = refund_return(actor=SYSTEM, return_request=r, method="original")

        assert refund.amount == Decimal("54.00")

    def test_as_store_credit(self, order, store):
        r = received(create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order)))

        (refund,) = refund_return(actor=SYSTEM, return_request=r, method="store_credit")

        assert (refund.method, refund.provider) == ("store_credit", "store_credit")
        assert store_credit_balance(order.customer) == Decimal("30.00")
        assert TimelineEvent.objects.filter(kind=TimelineKind.STORE_CREDIT).count() == 1

    def test_what_was_paid_with_store_credit_returns_as_store_credit(self, store, shirt):
        order = bought(store=store, lines=[(shirt, 2, "30.00")], store_credit_used=Decimal("15.00"))
        r = received(
            create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order, 2))
        )

        refunds = refund_return(actor=SYSTEM, return_request=r, method="original")

        assert sorted((x.method, x.amount) for x in refunds) == [
            ("original", Decimal("45.00")),
            ("store_credit", Decimal("15.00")),
        ]
        assert store_credit_balance(order.customer) == Decimal("15.00")

    def test_twice_is_a_conflict_and_changes_nothing(self, order, store):
        r = received(create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order)))
        refund_return(actor=SYSTEM, return_request=r, method="store_credit")

        with pytest.raises(AlreadyRefunded):
            refund_return(actor=SYSTEM, return_request=r, method="store_credit")

        assert Refund.objects.count() == 1
        assert store_credit_balance(order.customer) == Decimal("30.00")

    def test_not_before_the_goods_arrived(self, order, store):
        r = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))

        with pytest.raises(IllegalTransition):
            refund_return(actor=SYSTEM, return_request=r, method="original")
        assert not Refund.objects.exists()

    def test_never_more_than_the_order_total(self, store, shirt):
        order = bought(store=store, lines=[(shirt, 2, "30.00")])
        Order.objects.filter(pk=order.pk).update(total=Decimal("40.00"), subtotal=Decimal("40.00"))
        first = received(
            create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))
        )
        second = received(
            create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))
        )
        # The order-wide factor makes each unit worth 20.00; shift it so the cap is what binds.
        Refund.objects.create(
            return_request=first, order=order, method="original", amount=Decimal("30.00")
        )

        (refund,) = refund_return(actor=SYSTEM, return_request=second, method="original")

        assert refund.amount == Decimal("10.00")
        with pytest.raises(NothingToRefund):
            refund_return(actor=SYSTEM, return_request=first, method="original")

    def test_staff_of_another_store_cannot_refund(self, order, store, other_store):
        r = received(create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order)))

        with pytest.raises(Forbidden):
            refund_return(actor=staff_actor(other_store), return_request=r, method="original")

    def test_an_unknown_provider_refuses_the_refund_and_writes_nothing(
        self, order, store, settings
    ):
        settings.OMNIS_REFUND_PROVIDER = "nowhere"
        r = received(create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order)))
        mails_before = len(mail.outbox)

        with pytest.raises(RefundFailed) as exc:
            refund_return(actor=SYSTEM, return_request=r, method="original")

        r.refresh_from_db()
        order.refresh_from_db()
        assert exc.value.status == 502
        assert r.status == ReturnStatus.RECEIVED and r.refunded_at is None
        assert not Refund.objects.exists() and not StoreCreditEntry.objects.exists()
        assert r.lines.get().refund_amount == 0
        assert order.payment_status == PaymentStatus.PAID
        assert not TimelineEvent.objects.filter(kind=TimelineKind.REFUND_ISSUED).exists()
        assert len(mail.outbox) == mails_before


class TestRejectAndCounter:
    def test_reject_needs_a_reason_and_only_before_receipt(self, order, store):
        r = create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))
        with pytest.raises(InvalidInput):
            reject_return(actor=SYSTEM, return_request=r, reason=" ")

        reject_return(actor=SYSTEM, return_request=r, reason="Not bought here")

        r.refresh_from_db()
        assert r.status == ReturnStatus.REJECTED and r.rejection_reason == "Not bought here"
        assert TimelineEvent.objects.filter(kind=TimelineKind.RETURN_REJECTED).count() == 1
        other = received(
            create_return(actor=SYSTEM, order=order, store=store, lines=one_line(order))
        )
        with pytest.raises(IllegalTransition):
            reject_return(actor=SYSTEM, return_request=other, reason="too late")

    def test_the_counter_does_it_all_in_one_step(self, order, other_store, shirt):
        actor = staff_actor(other_store)

        r, refunds = counter_return(
            actor=actor,
            order=order,
            store=other_store,
            lines=one_line(order, 1),
            conditions=["resellable"],
            refund_method="original",
        )

        assert r.status == ReturnStatus.REFUNDED
        assert [x.amount for x in refunds] == [Decimal("30.00")]
        assert StockItem.objects.get(store=other_store, variant=shirt).on_hand == 1

    def test_the_counter_writes_nothing_when_a_step_fails(self, order, store, settings):
        settings.OMNIS_REFUND_PROVIDER = "nowhere"

        with pytest.raises(RefundFailed):
            counter_return(
                actor=SYSTEM,
                order=order,
                store=store,
                lines=one_line(order, 1),
                conditions=["resellable"],
                refund_method=RefundMethod.ORIGINAL,
            )

        assert not Return.objects.exists() and not StockMovement.objects.exists()
        assert order.lines.get().returned == 0
