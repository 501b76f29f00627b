"""orders.services.orders: placing, the click & collect workflow, delivery, cancelling, expiry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from common.actor import Actor
from common.errors import IllegalTransition, InvalidInput
from common.models import Channel
from customers.models import TimelineEvent, TimelineKind
from customers.services import add_store_credit_entry, store_credit_balance
from inventory import services as stock
from inventory.exceptions import InsufficientStock
from inventory.models import CauseType, StockItem, StockMovement, TransferStatus
from orders.models.orders import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    PaymentStatus,
)
from orders.services import orders as services
from stores.selectors import pickup_deadline
from tests.factories import CustomerFactory, VariantFactory
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_orders import (
    committed,
    delivery_order,
    pickup_order,
    ready_order,
    staff_actor,
    stocked_variant,
    warehouse,
    web_actor,
)

pytestmark = pytest.mark.django_db


def item(variant, store) -> StockItem:
    return StockItem.objects.get(variant=variant, store=store)


class TestOrderNumbers:
    def test_numbers_count_up_per_channel_with_the_channel_prefix(self):
        first = services.next_order_number(Channel.WEB)
        second = services.next_order_number(Channel.WEB)
        phone = services.next_order_number(Channel.PHONE)
        assert first.startswith("W-") and len(first) == 8
        assert int(second[2:]) == int(first[2:]) + 1
        assert phone.startswith("P-")
        assert services.next_order_number(Channel.STORE).startswith("S-")
        assert services.next_order_number(Channel.APP).startswith("A-")

    def test_unknown_channel_is_refused(self):
        with pytest.raises(InvalidInput):
            services.next_order_number("fax")


class TestCounterSale:
    def test_counter_sale_is_collected_with_history_and_no_stock_movement(self, store):
        variant = VariantFactory(price=Decimal("12.50"))
        customer = CustomerFactory()
        actor = staff_actor(store)
        order = services.create_counter_sale(
            actor=actor, customer=customer, store=store, lines=[(variant, 2)], note="reservation 7"
        )
        assert order.number.startswith("S-")
        assert (order.channel, order.fulfilment, order.status) == ("store", "counter", "collected")
        assert order.total == Decimal("25.00")
        assert order.collected_at is not None
        line = order.lines.get()
        assert (line.quantity, line.handed_over, line.unit_price) == (2, 2, Decimal("12.50"))
        steps = list(order.history.values_list("from_status", "to_status"))
        assert steps == [("", "placed"), ("placed", "collected")]
        assert not StockMovement.objects.exists()
        kinds = set(TimelineEvent.objects.filter(customer=customer).values_list("kind", flat=True))
        assert {TimelineKind.ORDER_PLACED, TimelineKind.ORDER_COLLECTED} <= kinds

    def test_counter_sale_needs_lines(self, store):
        with pytest.raises(InvalidInput):
            services.create_counter_sale(
                actor=staff_actor(store), customer=CustomerFactory(), store=store, lines=[]
            )
        assert not Order.objects.exists()


class TestSetOrderStatus:
    @pytest.mark.parametrize(
        "start, target",
        [
            (OrderStatus.COLLECTED, OrderStatus.CANCELLED),
            (OrderStatus.CANCELLED, OrderStatus.READY_FOR_PICKUP),
            (OrderStatus.DELIVERED, OrderStatus.SHIPPED),
            (OrderStatus.SHIPPED, OrderStatus.CANCELLED),
            (OrderStatus.READY_FOR_PICKUP, OrderStatus.SHIPPED),
            (OrderStatus.PLACED, OrderStatus.DELIVERED),
        ],
    )
    def test_illegal_steps_are_refused_and_nothing_is_written(self, store, start, target):
        order = pickup_order(store)
        Order.objects.filter(pk=order.pk).update(status=start)
        order.refresh_from_db()
        before = OrderStatusChange.objects.count()
        with pytest.raises(IllegalTransition) as exc:
            services.set_order_status(actor=web_actor(), order=order, status=target)
        assert exc.value.code == "illegal_transition"
        assert OrderStatusChange.objects.count() == before
        order.refresh_from_db()
        assert order.status == start

    def test_a_step_writes_history_and_timeline(self, store):
        order = pickup_order(store)
        services.set_order_status(
            actor=web_actor(), order=order, status=OrderStatus.CANCELLED, note="x"
        )
        change = order.history.last()
        assert (change.from_status, change.to_status, change.channel) == (
            "placed",
            "cancelled",
            "web",
        )
        assert TimelineEvent.objects.filter(
            customer=order.customer, kind=TimelineKind.ORDER_CANCELLED, subject_id=order.number
        ).exists()


class TestPlaceOrder:
    def test_pickup_order_reserves_at_the_store_with_captured_prices(self, store):
        variant = stocked_variant(store, 5, price=Decimal("99.00"))
        order = pickup_order(store, [(variant, 2)])
        assert order.status == OrderStatus.PLACED
        assert order.number.startswith("W-")
        assert order.total == Decimal("198.00")
        assert order.fulfilment_store == store and order.transfer is None
        assert item(variant, store).reserved == 2
        line = order.lines.get()
        movement = StockMovement.objects.get(kind="reserve", cause_type=CauseType.ORDER_LINE)
        assert movement.cause_id == str(line.pk)
        assert order.history.get().to_status == "placed"
        assert len(mail.outbox) == 1 and order.number in mail.outbox[0].subject
        assert_ledger_consistent()

    def test_short_stock_without_warehouse_names_each_short_line_and_writes_nothing(self, store):
        enough = stocked_variant(store, 5)
        short = stocked_variant(store, 1)
        none = VariantFactory()
        with pytest.raises(InsufficientStock) as exc:
            pickup_order(store, [(enough, 1), (short, 2), (none, 1)])
        skus = {line["sku"] for line in exc.value.short_lines}
        assert skus == {short.sku, none.sku}
        assert not Order.objects.exists() and not OrderLine.objects.exists()
        assert item(enough, store).reserved == 0
        assert not mail.outbox

    def test_store_lacking_stock_gets_a_transfer_from_the_warehouse(self, store):
        whs = warehouse()
        in_store = stocked_variant(store, 3)
        from_whs = stocked_variant(store, 0)
        stocked(from_whs, whs, 10)
        order = pickup_order(store, [(in_store, 1), (from_whs, 4)])
        assert order.transfer is not None
        assert (order.transfer.from_store, order.transfer.to_store) == (whs, store)
        assert item(in_store, store).reserved == 1
        assert item(from_whs, whs).reserved == 4
        assert list(order.lines.values_list("sku", "via_transfer")) == [
            (in_store.sku, False),
            (from_whs.sku, True),
        ]
        assert_ledger_consistent()

    def test_warehouse_also_short_is_insufficient_stock(self, store):
        whs = warehouse()
        variant = stocked_variant(store, 1)
        stocked(variant, whs, 1)
        with pytest.raises(InsufficientStock):
            pickup_order(store, [(variant, 2)])
        assert not Order.objects.exists()
        assert item(variant, whs).reserved == 0

    def test_delivery_reserves_at_the_warehouse_that_has_it(self):
        first = warehouse("WHA-01")
        second = warehouse("WHB-01")
        variant = VariantFactory()
        stocked(variant, first, 1)
        stocked(variant, second, 5)
        order = delivery_order(first, [(variant, 3)])
        assert order.fulfilment_store == second
        assert item(variant, second).reserved == 3
        assert order.pickup_store is None

    @pytest.mark.parametrize(
        "kwargs, field",
        [
            ({"lines": []}, "lines"),
            ({"quantity": 0}, "lines"),
            ({"quantity": -1}, "lines"),
            ({"payment_status": "refunded"}, "payment_status"),
            ({"no_pickup": True}, "pickup_store"),
            ({"pickup_store": None}, "pickup_store"),
            ({"fulfilment": "drone"}, "fulfilment"),
            ({"store_credit_amount": Decimal("5.00")}, "store_credit"),
        ],
    )
    def test_bad_input_is_a_field_error_and_writes_nothing(self, store, kwargs, field):
        variant = stocked_variant(store, 5)
        if kwargs.pop("no_pickup", False):
            store.offers_pickup = False
            store.save()
        quantity = kwargs.pop("quantity", 1)
        args = {
            "actor": web_actor(),
            "customer": CustomerFactory(),
            "fulfilment": Fulfilment.PICKUP,
            "pickup_store": store,
            "lines": [(variant, quantity)],
        } | kwargs
        with pytest.raises(InvalidInput) as exc:
            services.place_order(**args)
        assert field in exc.value.errors
        assert not Order.objects.exists()
        assert item(variant, store).reserved == 0

    def test_pay_at_pickup_is_not_for_delivery(self):
        whs = warehouse()
        variant = stocked_variant(whs, 5)
        with pytest.raises(InvalidInput) as exc:
            services.place_order(
                actor=web_actor(),
                customer=CustomerFactory(),
                fulfilment=Fulfilment.DELIVERY,
                lines=[(variant, 1)],
                payment_status=PaymentStatus.PAY_AT_PICKUP,
            )
        assert "payment_status" in exc.value.errors

    def test_store_credit_is_spent_on_the_order_and_given_back_on_cancel(self, store):
        customer = CustomerFactory()
        add_store_credit_entry(customer=customer, amount=Decimal("30.00"), reason="return")
        variant = stocked_variant(store, 5, price=Decimal("20.00"))
        order = services.place_order(
            actor=web_actor(),
            customer=customer,
            fulfilment=Fulfilment.PICKUP,
            pickup_store=store,
            lines=[(variant, 2)],
            store_credit_amount=Decimal("25.00"),
        )
        assert order.store_credit_used == Decimal("25.00")
        assert store_credit_balance(customer) == Decimal("5.00")
        services.cancel_order(actor=web_actor(), order=order)
        assert store_credit_balance(customer) == Decimal("30.00")

    def test_store_credit_above_total_is_refused(self, store):
        customer = CustomerFactory()
        add_store_credit_entry(customer=customer, amount=Decimal("100.00"), reason="return")
        variant = stocked_variant(store, 5, price=Decimal("20.00"))
        with pytest.raises(InvalidInput) as exc:
            services.place_order(
                actor=web_actor(),
                customer=customer,
                fulfilment=Fulfilment.PICKUP,
                pickup_store=store,
                lines=[(variant, 1)],
                store_credit_amount=Decimal("20.01"),
            )
        assert "store_credit" in exc.value.errors

    def test_a_crash_after_reserving_leaves_nothing_behind(self, store, monkeypatch):
        variant = stocked_variant(store, 5)

        def crash(*args, **kwargs):
            raise RuntimeError("power cut")

        # The last write of placing: history, timeline and the confirmation, after the stock.
        monkeypatch.setattr(services, "insert_rows", crash)
        with pytest.raises(RuntimeError):
            pickup_order(store, [(variant, 2)])
        assert not Order.objects.exists()
        assert item(variant, store).reserved == 0
        assert not StockMovement.objects.filter(kind="reserve").exists()
        assert_ledger_consistent()


class TestReadyForPickup:
    def test_ready_gives_a_code_a_deadline_and_sends_the_qr_mail(self, store):
        store.pickup_window_days = 5
        store.save()
        order = ready_order(store)
        assert order.status == OrderStatus.READY_FOR_PICKUP
        assert len(order.pickup_code) == 6
        assert set(order.pickup_code) <= set(services.PICKUP_CODE_ALPHABET)
        # Closing time (20:00 in the store) on the fifth opening day after the ready day.
        assert order.pickup_deadline == pickup_deadline(store, order.ready_at)
        assert order.pickup_deadline.astimezone(store.zone).strftime("%H:%M") == "20:00"
        ready_mail = mail.outbox[-1]
        assert order.pickup_code in ready_mail.subject and order.pickup_code in ready_mail.body
        assert ready_mail.attachments[0][2] == "image/png"
        assert ready_mail.attachments[0][1].startswith(b"\x89PNG")
        html = ready_mail.alternatives[0][0]
        assert "data:image/png;base64," in html

    def test_codes_of_open_orders_differ(self, store, monkeypatch):
        first = ready_order(store)
        drawn = iter([first.pickup_code, first.pickup_code, "KKKKKK"])
        monkeypatch.setattr(services, "_new_pickup_code", lambda: next(drawn))
        second = ready_order(store)
        assert second.pickup_code == "KKKKKK"

    def test_delivery_order_cannot_be_ready(self):
        order = delivery_order(warehouse())
        with pytest.raises(services.OrderConflict):
            services.mark_ready_for_pickup(actor=web_actor(), order=order)

    def test_ready_twice_is_illegal(self, store):
        order = ready_order(store)
        with pytest.raises(IllegalTransition):
            services.mark_ready_for_pickup(actor=web_actor(), order=order)

    def test_waits_for_the_warehouse_transfer(self, store):
        whs = warehouse()
        variant = stocked_variant(store, 0)
        stocked(variant, whs, 5)
        order = pickup_order(store, [(variant, 2)])
        actor = staff_actor(store, whs)
        with pytest.raises(services.AwaitingTransfer) as exc:
            services.mark_ready_for_pickup(actor=actor, order=order)
        assert exc.value.code == "awaiting_transfer"
        stock.dispatch_transfer(actor=actor, transfer=order.transfer)
        with pytest.raises(services.AwaitingTransfer):
            services.mark_ready_for_pickup(actor=actor, order=order)
        stock.receive_transfer(actor=actor, transfer=order.transfer)
        services.mark_ready_for_pickup(actor=actor, order=order)
        assert item(variant, store).reserved == 2 and item(variant, whs).on_hand == 3
        services.hand_over(actor=actor, order=order, pickup_code=order.pickup_code)
        assert item(variant, store).on_hand == 0 and item(variant, store).reserved == 0
        assert_ledger_consistent()


class TestHandOver:
    def test_full_hand_over_sells_the_reserved_stock(self, store):
        variant = stocked_variant(store, 5)
        order = ready_order(store, lines=[(variant, 2)])
        services.hand_over(
            actor=staff_actor(store), order=order, pickup_code=order.pickup_code.lower()
        )
        assert order.status == OrderStatus.COLLECTED and order.collected_at
        stock_item = item(variant, store)
        assert (stock_item.on_hand, stock_item.reserved) == (3, 0)
        assert order.lines.get().handed_over == 2
        assert_ledger_consistent()

    def test_wrong_code_is_refused_and_the_attempt_counted(self, store):
        variant = stocked_variant(store, 5)
        order = ready_order(store, lines=[(variant, 2)])
        for _ in range(2):
            with pytest.raises(services.WrongPickupCode) as exc:
                services.hand_over(actor=staff_actor(store), order=order, pickup_code="XXXXXX")
            assert exc.value.code == "wrong_pickup_code"
        order.refresh_from_db()
        assert order.pickup_code_attempts == 2
        assert order.status == OrderStatus.READY_FOR_PICKUP
        assert item(variant, store).reserved == 2

    def test_partial_hand_over_sells_some_and_releases_the_rest(self, store):
        drill = stocked_variant(store, 5)
        bits = stocked_variant(store, 5)
        order = ready_order(
            store, lines=[(drill, 2), (bits, 3)], payment_status=PaymentStatus.PAY_AT_PICKUP
        )
        drill_line, bits_line = order.lines.order_by("pk")
        services.hand_over(
            actor=staff_actor(store),
            order=order,
            pickup_code=order.pickup_code,
            lines=[(drill_line, 1)],
        )
        order.refresh_from_db()
        assert order.status == OrderStatus.COLLECTED
        assert order.payment_status == PaymentStatus.PAID
        drill_line.refresh_from_db()
        bits_line.refresh_from_db()
        assert (drill_line.handed_over, drill_line.cancelled) == (1, 1)
        assert (bits_line.handed_over, bits_line.cancelled) == (0, 3)
        assert (item(drill, store).on_hand, item(drill, store).reserved) == (4, 0)
        assert (item(bits, store).on_hand, item(bits, store).reserved) == (5, 0)
        assert_ledger_consistent()

    @pytest.mark.parametrize("quantity", [3, -1])
    def test_partial_hand_over_beyond_the_line_is_refused(self, store, quantity):
        order = ready_order(store)
        line = order.lines.get()
        with pytest.raises(InvalidInput):
            services.hand_over(
                actor=staff_actor(store),
                order=order,
                pickup_code=order.pickup_code,
                lines=[(line, quantity)],
            )
        order.refresh_from_db()
        assert order.status == OrderStatus.READY_FOR_PICKUP

    def test_handing_over_nothing_is_refused(self, store):
        order = ready_order(store)
        with pytest.raises(InvalidInput):
            services.hand_over(
                actor=staff_actor(store),
                order=order,
                pickup_code=order.pickup_code,
                lines=[(order.lines.get(), 0)],
            )

    def test_placed_order_cannot_be_handed_over(self, store):
        order = pickup_order(store)
        with pytest.raises(IllegalTransition):
            services.hand_over(actor=staff_actor(store), order=order, pickup_code="ANY")

    def test_second_hand_over_is_illegal(self, store):
        order = ready_order(store)
        code = order.pickup_code
        services.hand_over(actor=staff_actor(store), order=order, pickup_code=code)
        with pytest.raises(IllegalTransition):
            services.hand_over(actor=staff_actor(store), order=order, pickup_code=code)


class TestDelivery:
    def test_ship_sells_at_the_warehouse_and_deliver_completes(self):
        whs = warehouse()
        variant = stocked_variant(whs, 5)
        order = delivery_order(whs, [(variant, 2)])
        actor = staff_actor(whs)
        services.ship_order(actor=actor, order=order)
        assert order.status == OrderStatus.SHIPPED and order.shipped_at
        assert (item(variant, whs).on_hand, item(variant, whs).reserved) == (3, 0)
        with pytest.raises(IllegalTransition):
            services.cancel_order(actor=actor, order=order)
        services.deliver_order(actor=actor, order=order)
        assert order.status == OrderStatus.DELIVERED
        assert order.lines.get().handed_over == 2
        assert_ledger_consistent()

    def test_pickup_order_cannot_ship_and_placed_cannot_be_delivered(self, store):
        order = pickup_order(store)
        with pytest.raises(services.OrderConflict):
            services.ship_order(actor=web_actor(), order=order)
        delivery = delivery_order(warehouse())
        with pytest.raises(IllegalTransition):
            services.deliver_order(actor=web_actor(), order=delivery)


class TestCancel:
    def test_cancel_releases_what_is_reserved_and_mails(self, store):
        variant = stocked_variant(store, 5)
        order = ready_order(store, lines=[(variant, 2)])
        with committed():
            services.cancel_order(actor=web_actor(), order=order, reason="changed my mind")
        assert order.status == OrderStatus.CANCELLED and order.cancelled_at
        assert item(variant, store).reserved == 0
        # The cancellation, then the refund once the payment service has paid it back.
        assert "cancelled" in mail.outbox[-2].subject
        assert mail.outbox[-1].subject == f"Refund of €39.80 for your order {order.number}"
        with pytest.raises(IllegalTransition):
            services.cancel_order(actor=web_actor(), order=order)
        assert_ledger_consistent()

    def test_cancel_calls_off_a_transfer_not_yet_dispatched(self, store):
        whs = warehouse()
        variant = stocked_variant(store, 0)
        stocked(variant, whs, 5)
        order = pickup_order(store, [(variant, 2)])
        services.cancel_order(actor=web_actor(), order=order)
        order.transfer.refresh_from_db()
        assert order.transfer.status == TransferStatus.CANCELLED
        assert item(variant, whs).reserved == 0
        assert_ledger_consistent()

    def test_goods_in_transit_for_a_cancelled_order_are_released_on_arrival(self, store):
        whs = warehouse()
        variant = stocked_variant(store, 0)
        stocked(variant, whs, 5)
        order = pickup_order(store, [(variant, 2)])
        actor = staff_actor(store, whs)
        stock.dispatch_transfer(actor=actor, transfer=order.transfer)
        services.cancel_order(actor=web_actor(), order=order)
        stock.receive_transfer(actor=actor, transfer=order.transfer)
        # The receipt tells orders at once: the goods are back on the shelf, free to sell.
        assert (item(variant, store).on_hand, item(variant, store).reserved) == (2, 0)
        services.expire_uncollected_orders()
        assert (item(variant, store).on_hand, item(variant, store).reserved) == (2, 0)
        assert services.on_transfer_received(actor=actor, transfer=order.transfer) == 0
        assert_ledger_consistent()


class TestExpireUncollected:
    def test_reminds_a_day_before_and_cancels_after_the_window_once(self, store):
        variant = stocked_variant(store, 5)
        order = ready_order(store, lines=[(variant, 2)])
        deadline = order.pickup_deadline
        assert services.expire_uncollected_orders(now=deadline - timedelta(days=2)) == {
            "reminded": 0,
            "cancelled": 0,
        }
        sent_before = len(mail.outbox)
        with committed():
            result = services.expire_uncollected_orders(now=deadline - timedelta(hours=20))
        assert result == {"reminded": 1, "cancelled": 0}
        assert "Reminder" in mail.outbox[-1].subject
        assert services.expire_uncollected_orders(now=deadline - timedelta(hours=10)) == {
            "reminded": 0,
            "cancelled": 0,
        }
        assert len(mail.outbox) == sent_before + 1
        after = deadline + timedelta(minutes=1)
        assert services.expire_uncollected_orders(now=after)["cancelled"] == 1
        assert services.expire_uncollected_orders(now=after)["cancelled"] == 0
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
        assert item(variant, store).reserved == 0
        assert order.history.last().actor_user is None

    def test_the_management_command_runs_the_same_sweep(self, store):
        from django.core.management import call_command

        order = ready_order(store)
        Order.objects.filter(pk=order.pk).update(
            pickup_deadline=timezone.now() - timedelta(hours=1)
        )
        call_command("expire_uncollected_orders")
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED


class TestTasks:
    def test_a_task_run_twice_sends_once(self, store):
        from orders.tasks import orders as tasks

        order = ready_order(store)
        count = len(mail.outbox)
        assert tasks.send_ready_for_pickup(order.pk) is False
        assert tasks.send_order_confirmation(order.pk) is False
        assert len(mail.outbox) == count

    def test_unknown_order_sends_nothing(self, db):
        from orders.tasks import orders as tasks

        assert tasks.send_order_confirmation(999999) is False


def test_stock_timeline_and_actor_channel_for_staff_orders(store):
    actor = Actor(user=staff_actor(store).user, channel=Channel.PHONE)
    order = pickup_order(store, actor=actor)
    assert order.number.startswith("P-")
    assert order.created_by_user == actor.user
