"""Many callers at once against real PostgreSQL: no unit is promised twice, nobody deadlocks."""

import io
import random
import threading
from collections import Counter
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection

from common.actor import Actor
from inventory import services
from inventory.exceptions import InsufficientStock, StockConflict
from inventory.models import MovementKind, StockItem, StockMovement
from inventory.services import stock as stock_module
from tests.conftest import requires_postgres
from tests.factories import StoreFactory, VariantFactory
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.system()


def run_threads(count: int, work) -> list:
    """Run work(i) in `count` threads released together; returns each result or exception."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each caller got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a caller hung"
    return results


def test_fifty_callers_for_ten_units_exactly_ten_succeed():
    store = StoreFactory()
    variant = VariantFactory()
    stocked(variant, store, 10)

    def reserve_one(i: int) -> str:
        services.reserve(
            actor=SYSTEM, store=store, lines=[(variant, 1, str(i))], cause_type="order_line"
        )
        return "ok"

    results = run_threads(50, reserve_one)
    outcome = Counter(type(r).__name__ if isinstance(r, Exception) else r for r in results)
    assert outcome == {"ok": 10, "InsufficientStock": 40}
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert all(r.short_lines[0]["available"] == 0 for r in refused)
    item = StockItem.objects.get(variant=variant, store=store)
    assert (item.on_hand, item.reserved) == (10, 10)
    assert StockMovement.objects.filter(kind=MovementKind.RESERVE).count() == 10
    assert_ledger_consistent()


def test_overlapping_multi_line_reservations_in_random_order_never_deadlock():
    store = StoreFactory()
    variants = [VariantFactory() for _ in range(6)]
    for v in variants:
        stocked(v, store, 40)

    def shop(i: int) -> Counter:
        rng = random.Random(i)
        done: Counter = Counter()
        for n in range(8):
            picked = rng.sample(variants, rng.randint(2, 5))  # random order on purpose
            lines = [(v, rng.randint(1, 3), f"{i}-{n}") for v in picked]
            try:
                services.reserve(actor=SYSTEM, store=store, lines=lines, cause_type="order_line")
            except InsufficientStock:
                continue
            if rng.random() < 0.3:
                services.release(actor=SYSTEM, store=store, lines=lines, cause_type="order_line")
            elif rng.random() < 0.5:
                services.sell(actor=SYSTEM, store=store, lines=lines, cause_type="order_line")
                for v, q, _ in lines:
                    done[("sold", v.pk)] += q
            else:
                for v, q, _ in lines:
                    done[("reserved", v.pk)] += q
        return done

    results = run_threads(24, shop)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    totals: Counter = sum(results, Counter())
    for v in variants:
        item = StockItem.objects.get(variant=v, store=store)
        assert item.reserved == totals[("reserved", v.pk)]
        assert item.on_hand == 40 - totals[("sold", v.pk)]
    assert_ledger_consistent()


def test_counts_receipts_and_sales_at_once_keep_the_ledger():
    store = StoreFactory()
    variants = [VariantFactory() for _ in range(4)]
    for v in variants:
        stocked(v, store, 20)

    def work(i: int) -> None:
        rng = random.Random(1000 + i)
        for n in range(6):
            v = rng.choice(variants)
            action = i % 4
            try:
                if action == 0:
                    services.receive(actor=SYSTEM, store=store, lines=[(v, rng.randint(1, 3))])
                elif action == 1:
                    services.sell(
                        actor=SYSTEM,
                        store=store,
                        lines=[(v, 1, f"{i}-{n}")],
                        cause_type="order_line",
                        from_reserved=False,
                    )
                elif action == 2:
                    services.adjust_to_count(
                        actor=SYSTEM,
                        store=store,
                        variant=v,
                        counted=rng.randint(15, 25),
                        reason="count",
                    )
                else:
                    services.reserve(
                        actor=SYSTEM,
                        store=store,
                        lines=[(x, 1, f"{i}-{n}") for x in rng.sample(variants, 3)],
                        cause_type="order_line",
                    )
            except InsufficientStock:
                pass
            except StockConflict:
                pass

    results = run_threads(16, work)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert_ledger_consistent()


def test_imports_of_the_same_new_rows_at_once_count_each_row_once():
    stores = [StoreFactory() for _ in range(2)]
    variants = [VariantFactory() for _ in range(30)]

    def import_counts(i: int) -> services.CountOutcome:
        rng = random.Random(i)
        keys = [(s, v) for s in stores for v in variants]
        rng.shuffle(keys)  # every caller in its own order
        return services.apply_counts(
            actor=SYSTEM,
            counts=[services.StockCount(s, v.pk, 12) for s, v in keys],
            reason="ERP",
        )

    results = run_threads(6, import_counts)
    assert [r for r in results if isinstance(r, Exception)] == []
    # One caller created each row; everybody else found the count already there.
    assert sum(r.changed for r in results) == 60
    assert StockItem.objects.count() == 60
    assert set(StockItem.objects.values_list("on_hand", flat=True)) == {12}
    assert_ledger_consistent()


def test_a_line_whose_update_matched_no_row_is_short_even_if_stock_came_back_meanwhile():
    """The conditional UPDATE found too little; by the error's re-read the stock looks enough.
    The line is short all the same: counting it as reserved would write a reserve movement
    although `reserved` never rose. The other line, raised by the same statement, is put back."""
    store = StoreFactory()
    held, other = VariantFactory(), VariantFactory()  # held's row gets the lower id
    stocked(held, store, 5)
    stocked(other, store, 5)
    services.reserve(
        actor=SYSTEM, store=store, lines=[(held, 5, "someone-else")], cause_type="order_line"
    )
    original = stock_module._available_by_variant

    def came_back(store, variant_ids):
        # What a re-read would show had two units come back after the UPDATE.
        return {vid: (item_id, 2) for vid, (item_id, _) in original(store, variant_ids).items()}

    patched = mock.patch.object(stock_module, "_available_by_variant", came_back)
    with patched, pytest.raises(InsufficientStock) as refused:
        services.reserve(
            actor=SYSTEM,
            store=store,
            lines=[(held, 2, "mine"), (other, 1, "mine")],
            cause_type="order_line",
        )
    assert refused.value.short_lines[0]["available"] == 1
    assert [s["sku"] for s in refused.value.short_lines] == [held.sku]
    assert StockItem.objects.get(variant=held, store=store).reserved == 5
    assert StockItem.objects.get(variant=other, store=store).reserved == 0
    assert not StockMovement.objects.filter(cause_id="mine").exists()
    assert_ledger_consistent()
    call_command("check_stock", stdout=io.StringIO())
