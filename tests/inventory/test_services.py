import pytest

from common.actor import Actor
from common.errors import IllegalTransition
from inventory import services
from inventory.exceptions import InsufficientStock, InvalidStockRequest, StockConflict
from inventory.models import (
    CauseType,
    MovementKind,
    StockItem,
    StockMovement,
    TransferStatus,
)
from tests.factories import StoreFactory, UserFactory, VariantFactory
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


def item(variant, store) -> StockItem:
    return StockItem.objects.get(variant=variant, store=store)


class TestReceive:
    def test_goods_in_raise_on_hand_with_a_receipt_per_line(self, store):
        user = UserFactory()
        a, b = VariantFactory(), VariantFactory()
        services.receive(
            actor=Actor(user=user), store=store, lines=[(a, 5), (b, 2)], reason="delivery 42"
        )
        assert item(a, store).on_hand == 5
        assert item(b, store).on_hand == 2
        receipts = StockMovement.objects.filter(kind=MovementKind.RECEIPT)
        assert receipts.count() == 2
        assert {m.actor_user_id for m in receipts} == {user.pk}
        assert {m.reason for m in receipts} == {"delivery 42"}
        assert_ledger_consistent()

    @pytest.mark.parametrize("quantity", [0, -1, "3", 1.5, True])
    def test_bad_quantity_is_refused_and_nothing_written(self, store, quantity):
        with pytest.raises(InvalidStockRequest) as exc:
            services.receive(actor=SYSTEM, store=store, lines=[(VariantFactory(), quantity)])
        assert exc.value.status == 400
        assert "lines" in exc.value.errors
        assert not StockMovement.objects.exists()

    def test_empty_lines_are_refused(self, store):
        with pytest.raises(InvalidStockRequest):
            services.receive(actor=SYSTEM, store=store, lines=[])


class TestAdjustToCount:
    def test_count_sets_on_hand_and_records_the_difference(self, store):
        v = VariantFactory()
        stocked(v, store, 10)
        movement = services.adjust_to_count(
            actor=SYSTEM, store=store, variant=v, counted=7, reason="inventur"
        )
        assert movement.kind == MovementKind.ADJUSTMENT
        assert movement.on_hand_delta == -3
        assert item(v, store).on_hand == 7
        assert_ledger_consistent()

    def test_same_count_again_writes_nothing(self, store):
        v = VariantFactory()
        stocked(v, store, 4)
        assert (
            services.adjust_to_count(actor=SYSTEM, store=store, variant=v, counted=4, reason="x")
            is None
        )
        assert StockMovement.objects.count() == 1

    def test_count_below_reserved_is_a_conflict(self, store):
        v = VariantFactory()
        stocked(v, store, 5)
        services.reserve(actor=SYSTEM, store=store, lines=[(v, 3, "1")], cause_type="order_line")
        with pytest.raises(StockConflict):
            services.adjust_to_count(actor=SYSTEM, store=store, variant=v, counted=2, reason="x")
        assert item(v, store).on_hand == 5

    def test_negative_count_is_invalid(self, store):
        with pytest.raises(InvalidStockRequest) as exc:
            services.adjust_to_count(
                actor=SYSTEM, store=store, variant=VariantFactory(), counted=-1, reason="x"
            )
        assert "counted" in exc.value.errors


class TestReserve:
    def test_reserves_every_line_with_its_cause(self, store):
        a, b = VariantFactory(), VariantFactory()
        stocked(a, store, 5)
        stocked(b, store, 5)
        services.reserve(
            actor=SYSTEM,
            store=store,
            lines=[(a, 2, "11"), (b, 1, "12")],
            cause_type=CauseType.ORDER_LINE,
        )
        assert item(a, store).reserved == 2
        assert item(b, store).reserved == 1
        causes = set(
            StockMovement.objects.filter(kind=MovementKind.RESERVE).values_list(
                "cause_type", "cause_id", "reserved_delta"
            )
        )
        assert causes == {("order_line", "11", 2), ("order_line", "12", 1)}
        assert_ledger_consistent()

    def test_safety_stock_is_not_promised(self, store):
        v = VariantFactory()
        stocked(v, store, 5, safety_stock=2)
        with pytest.raises(InsufficientStock) as exc:
            services.reserve(actor=SYSTEM, store=store, lines=[(v, 4, "1")], cause_type="manual")
        assert exc.value.short_lines == [
            {"sku": v.sku, "store": store.code, "requested": 4, "available": 3}
        ]
        services.reserve(actor=SYSTEM, store=store, lines=[(v, 3, "1")], cause_type="manual")
        assert item(v, store).available == 0

    def test_all_or_nothing_and_every_short_line_named(self, store):
        ok, short1, short2, missing = (VariantFactory() for _ in range(4))
        stocked(ok, store, 10)
        stocked(short1, store, 1)
        stocked(short2, store, 2)
        with pytest.raises(InsufficientStock) as exc:
            services.reserve(
                actor=SYSTEM,
                store=store,
                lines=[(ok, 3, "1"), (short1, 2, "2"), (short2, 3, "3"), (missing, 1, "4")],
                cause_type=CauseType.ORDER_LINE,
            )
        assert exc.value.code == "insufficient_stock"
        assert {(s["sku"], s["requested"], s["available"]) for s in exc.value.short_lines} == {
            (short1.sku, 2, 1),
            (short2.sku, 3, 2),
            (missing.sku, 1, 0),
        }
        assert item(ok, store).reserved == 0
        assert not StockMovement.objects.filter(kind=MovementKind.RESERVE).exists()

    def test_two_lines_of_one_sku_count_together(self, store):
        v = VariantFactory()
        stocked(v, store, 3)
        with pytest.raises(InsufficientStock) as exc:
            services.reserve(
                actor=SYSTEM, store=store, lines=[(v, 2, "1"), (v, 2, "2")], cause_type="manual"
            )
        assert exc.value.short_lines[0]["requested"] == 4


class TestReleaseAndSell:
    def test_release_returns_units_to_available(self, store):
        v = VariantFactory()
        stocked(v, store, 3)
        services.reserve(actor=SYSTEM, store=store, lines=[(v, 2, "7")], cause_type="order_line")
        services.release(actor=SYSTEM, store=store, lines=[(v, 2, "7")], cause_type="order_line")
        assert item(v, store).reserved == 0
        assert_ledger_consistent()

    def test_release_more_than_reserved_is_a_conflict(self, store):
        v = VariantFactory()
        stocked(v, store, 3)
        with pytest.raises(StockConflict):
            services.release(actor=SYSTEM, store=store, lines=[(v, 1, "7")], cause_type="manual")

    def test_sale_from_reservation_lowers_both(self, store):
        v = VariantFactory()
        stocked(v, store, 3)
        services.reserve(actor=SYSTEM, store=store, lines=[(v, 2, "7")], cause_type="order_line")
        services.sell(actor=SYSTEM, store=store, lines=[(v, 2, "7")], cause_type="order_line")
        stock = item(v, store)
        assert (stock.on_hand, stock.reserved) == (1, 0)
        assert_ledger_consistent()

    def test_sale_from_reservation_needs_the_reservation(self, store):
        v = VariantFactory()
        stocked(v, store, 3)
        with pytest.raises(StockConflict):
            services.sell(actor=SYSTEM, store=store, lines=[(v, 1, "7")], cause_type="order_line")

    def test_counter_sale_cannot_take_reserved_units(self, store):
        v = VariantFactory()
        stocked(v, store, 3)
        services.reserve(actor=SYSTEM, store=store, lines=[(v, 2, "7")], cause_type="order_line")
        with pytest.raises(InsufficientStock) as exc:
            services.sell(
                actor=SYSTEM,
                store=store,
                lines=[(v, 2, "8")],
                cause_type="order_line",
                from_reserved=False,
            )
        assert exc.value.short_lines[0]["available"] == 1
        services.sell(
            actor=SYSTEM,
            store=store,
            lines=[(v, 1, "8")],
            cause_type="order_line",
            from_reserved=False,
        )
        stock = item(v, store)
        assert (stock.on_hand, stock.reserved) == (2, 2)
        assert_ledger_consistent()


class TestReturnsAndDamage:
    def test_restock_return(self, store):
        v = VariantFactory()
        movement = services.restock_return(
            actor=SYSTEM, store=store, variant=v, quantity=1, cause_id="99"
        )
        assert (movement.kind, movement.cause_type, movement.cause_id) == (
            MovementKind.RETURN_RESTOCK,
            CauseType.RETURN_LINE,
            "99",
        )
        assert item(v, store).on_hand == 1
        assert_ledger_consistent()

    def test_damage_on_the_shelf(self, store):
        v = VariantFactory()
        stocked(v, store, 3)
        services.reserve(actor=SYSTEM, store=store, lines=[(v, 2, "7")], cause_type="order_line")
        with pytest.raises(StockConflict):
            services.mark_damaged(actor=SYSTEM, store=store, variant=v, quantity=2)
        services.mark_damaged(actor=SYSTEM, store=store, variant=v, quantity=1, reason="torn")
        assert item(v, store).on_hand == 2
        assert_ledger_consistent()

    def test_damaged_return_never_becomes_stock(self, store):
        v = VariantFactory()
        movement = services.mark_damaged(
            actor=SYSTEM, store=store, variant=v, quantity=1, cause_id="55", returned=True
        )
        assert (movement.on_hand_delta, movement.reserved_delta) == (0, 0)
        assert (movement.cause_type, movement.cause_id) == (CauseType.RETURN_LINE, "55")
        assert item(v, store).on_hand == 0

    def test_safety_stock_cannot_be_negative(self, store):
        with pytest.raises(InvalidStockRequest):
            services.set_safety_stock(
                actor=SYSTEM, store=store, variant=VariantFactory(), quantity=-1
            )


class TestTransfers:
    def test_full_journey_reserves_for_the_destined_cause_on_arrival(self, store):
        warehouse = StoreFactory(is_warehouse=True)
        v = VariantFactory()
        stocked(v, warehouse, 5)
        transfer = services.create_transfer(
            actor=SYSTEM,
            from_store=warehouse,
            to_store=store,
            lines=[(v, 2)],
            destined_cause_type=CauseType.ORDER_LINE,
            destined_cause_ids=["31"],
        )
        assert transfer.status == TransferStatus.REQUESTED
        assert item(v, warehouse).reserved == 2

        services.dispatch_transfer(actor=SYSTEM, transfer=transfer)
        assert transfer.status == TransferStatus.IN_TRANSIT
        assert (item(v, warehouse).on_hand, item(v, warehouse).reserved) == (3, 0)

        services.receive_transfer(actor=SYSTEM, transfer=transfer)
        assert transfer.status == TransferStatus.RECEIVED
        arrived = item(v, store)
        assert (arrived.on_hand, arrived.reserved) == (2, 2)
        reserve = StockMovement.objects.get(stock_item=arrived, kind=MovementKind.RESERVE)
        assert (reserve.cause_type, reserve.cause_id) == ("order_line", "31")
        # The order can now sell what arrived for it.
        services.sell(actor=SYSTEM, store=store, lines=[(v, 2, "31")], cause_type="order_line")
        assert_ledger_consistent()

    def test_per_line_causes(self, store):
        warehouse = StoreFactory(is_warehouse=True)
        a, b = VariantFactory(), VariantFactory()
        stocked(a, warehouse, 5)
        stocked(b, warehouse, 5)
        transfer = services.create_transfer(
            actor=SYSTEM,
            from_store=warehouse,
            to_store=store,
            lines=[(a, 1), (b, 2)],
            destined_cause_type=CauseType.ORDER_LINE,
            destined_cause_ids=["1", "2"],
        )
        services.dispatch_transfer(actor=SYSTEM, transfer=transfer)
        services.receive_transfer(actor=SYSTEM, transfer=transfer)
        reserves = set(
            StockMovement.objects.filter(
                kind=MovementKind.RESERVE, stock_item__store=store
            ).values_list("cause_id", "reserved_delta")
        )
        assert reserves == {("1", 1), ("2", 2)}

    def test_not_enough_at_the_source(self, store):
        warehouse = StoreFactory(is_warehouse=True)
        v = VariantFactory()
        stocked(v, warehouse, 1)
        with pytest.raises(InsufficientStock):
            services.create_transfer(
                actor=SYSTEM, from_store=warehouse, to_store=store, lines=[(v, 2)]
            )
        from inventory.models import Transfer

        assert not Transfer.objects.exists()

    def test_cancel_releases_and_only_while_requested(self, store):
        warehouse = StoreFactory(is_warehouse=True)
        v = VariantFactory()
        stocked(v, warehouse, 3)
        transfer = services.create_transfer(
            actor=SYSTEM, from_store=warehouse, to_store=store, lines=[(v, 3)]
        )
        services.cancel_transfer(actor=SYSTEM, transfer=transfer)
        assert transfer.status == TransferStatus.CANCELLED
        assert item(v, warehouse).reserved == 0
        with pytest.raises(IllegalTransition):
            services.dispatch_transfer(actor=SYSTEM, transfer=transfer)
        assert_ledger_consistent()

    def test_receive_before_dispatch_is_illegal(self, store):
        warehouse = StoreFactory(is_warehouse=True)
        v = VariantFactory()
        stocked(v, warehouse, 3)
        transfer = services.create_transfer(
            actor=SYSTEM, from_store=warehouse, to_store=store, lines=[(v, 1)]
        )
        with pytest.raises(IllegalTransition):
            services.receive_transfer(actor=SYSTEM, transfer=transfer)

    def test_same_store_is_invalid(self, store):
        with pytest.raises(InvalidStockRequest) as exc:
            services.create_transfer(
                actor=SYSTEM, from_store=store, to_store=store, lines=[(VariantFactory(), 1)]
            )
        assert "to_store" in exc.value.errors
