"""Random sequences of stock operations; after every step the stock equals a simple model and
invariant 1 holds (quantities = ledger sum, 0 <= reserved <= on_hand)."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from common.actor import Actor
from common.errors import IllegalTransition
from inventory import services
from inventory.exceptions import InsufficientStock, StockConflict
from inventory.models import StockItem, TransferStatus
from tests.factories import StoreFactory, VariantFactory
from tests.inventory.ledger import assert_ledger_consistent

SYSTEM = Actor.system()
STORES = 2
SKUS = 3

store_ix = st.integers(0, STORES - 1)
sku_ix = st.integers(0, SKUS - 1)
qty = st.integers(1, 5)


class StockLedgerMachine(RuleBasedStateMachine):
    reservations = Bundle("reservations")
    transfers = Bundle("transfers")

    def __init__(self) -> None:
        super().__init__()
        # Each example runs in a savepoint that teardown rolls back: a clean slate per example.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.stores = [StoreFactory() for _ in range(STORES)]
        self.variants = [VariantFactory() for _ in range(SKUS)]
        # (store, sku) -> [on_hand, reserved, safety_stock]
        self.model = {(s, v): [0, 0, 0] for s in range(STORES) for v in range(SKUS)}
        self.transfer_model: dict[int, str] = {}
        self.causes = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _cause(self) -> str:
        self.causes += 1
        return str(self.causes)

    def available(self, s: int, v: int) -> int:
        on_hand, reserved, safety = self.model[(s, v)]
        return on_hand - reserved - safety

    # --- rules -----------------------------------------------------------------------------

    @rule(s=store_ix, v=sku_ix, q=qty)
    def receive(self, s, v, q):
        services.receive(actor=SYSTEM, store=self.stores[s], lines=[(self.variants[v], q)])
        self.model[(s, v)][0] += q

    @rule(
        target=reservations,
        s=store_ix,
        lines=st.lists(st.tuples(sku_ix, st.integers(1, 3)), min_size=1, max_size=3),
    )
    def reserve(self, s, lines):
        wanted: dict[int, int] = {}
        for v, q in lines:
            wanted[v] = wanted.get(v, 0) + q
        fits = all(self.available(s, v) >= q for v, q in wanted.items())
        caused = [(v, q, self._cause()) for v, q in lines]
        try:
            services.reserve(
                actor=SYSTEM,
                store=self.stores[s],
                lines=[(self.variants[v], q, c) for v, q, c in caused],
                cause_type="order_line",
            )
        except InsufficientStock as exc:
            assert not fits
            short = {line["sku"] for line in exc.short_lines}
            assert short == {
                self.variants[v].sku for v, q in wanted.items() if self.available(s, v) < q
            }
            return []
        assert fits
        for v, q in wanted.items():
            self.model[(s, v)][1] += q
        return [(s, caused)]

    @rule(held=consumes(reservations))
    def release(self, held):
        for s, caused in held:
            services.release(
                actor=SYSTEM,
                store=self.stores[s],
                lines=[(self.variants[v], q, c) for v, q, c in caused],
                cause_type="order_line",
            )
            for v, q, _ in caused:
                self.model[(s, v)][1] -= q

    @rule(held=consumes(reservations))
    def sell_reserved(self, held):
        for s, caused in held:
            services.sell(
                actor=SYSTEM,
                store=self.stores[s],
                lines=[(self.variants[v], q, c) for v, q, c in caused],
                cause_type="order_line",
            )
            for v, q, _ in caused:
                self.model[(s, v)][0] -= q
                self.model[(s, v)][1] -= q

    @rule(s=store_ix, v=sku_ix, q=qty)
    def counter_sale(self, s, v, q):
        on_hand, reserved, _ = self.model[(s, v)]
        try:
            services.sell(
                actor=SYSTEM,
                store=self.stores[s],
                lines=[(self.variants[v], q, self._cause())],
                cause_type="order_line",
                from_reserved=False,
            )
        except InsufficientStock:
            assert on_hand - reserved < q
            return
        assert on_hand - reserved >= q
        self.model[(s, v)][0] -= q

    @rule(s=store_ix, v=sku_ix, q=qty)
    def restock_return(self, s, v, q):
        services.restock_return(
            actor=SYSTEM, store=self.stores[s], variant=self.variants[v], quantity=q, cause_id="r"
        )
        self.model[(s, v)][0] += q

    @rule(s=store_ix, v=sku_ix, q=qty, returned=st.booleans())
    def damage(self, s, v, q, returned):
        on_hand, reserved, _ = self.model[(s, v)]
        try:
            services.mark_damaged(
                actor=SYSTEM,
                store=self.stores[s],
                variant=self.variants[v],
                quantity=q,
                returned=returned,
            )
        except StockConflict:
            assert not returned and on_hand - reserved < q
            return
        if not returned:
            assert on_hand - reserved >= q
            self.model[(s, v)][0] -= q

    @rule(s=store_ix, v=sku_ix, counted=st.integers(0, 15))
    def count(self, s, v, counted):
        try:
            services.adjust_to_count(
                actor=SYSTEM,
                store=self.stores[s],
                variant=self.variants[v],
                counted=counted,
                reason="count",
            )
        except StockConflict:
            assert counted < self.model[(s, v)][1]
            return
        self.model[(s, v)][0] = counted

    @rule(s=store_ix, v=sku_ix, q=st.integers(0, 3))
    def safety_stock(self, s, v, q):
        services.set_safety_stock(
            actor=SYSTEM, store=self.stores[s], variant=self.variants[v], quantity=q
        )
        self.model[(s, v)][2] = q

    @rule(target=transfers, v=sku_ix, q=qty, destined=st.booleans(), top_up=st.booleans())
    def create_transfer(self, v, q, destined, top_up):
        if top_up and self.available(0, v) < q:
            self.receive(0, v, q)
        fits = self.available(0, v) >= q
        try:
            transfer = services.create_transfer(
                actor=SYSTEM,
                from_store=self.stores[0],
                to_store=self.stores[1],
                lines=[(self.variants[v], q)],
                destined_cause_type="order_line" if destined else "",
                destined_cause_ids=[self._cause()] if destined else None,
            )
        except InsufficientStock:
            assert not fits
            return multiple()
        assert fits
        self.model[(0, v)][1] += q
        self.transfer_model[transfer.pk] = TransferStatus.REQUESTED
        return (transfer, v, q, destined)

    @rule(entry=transfers)
    def dispatch_transfer(self, entry):
        self._move_transfer(entry, "dispatch")

    @rule(entry=transfers)
    def receive_transfer(self, entry):
        self._move_transfer(entry, "receive")

    @rule(entry=transfers)
    def cancel_transfer(self, entry):
        self._move_transfer(entry, "cancel")

    def _move_transfer(self, entry, step):
        transfer, v, q, destined = entry
        status = self.transfer_model[transfer.pk]
        legal = {
            "dispatch": status == TransferStatus.REQUESTED,
            "receive": status == TransferStatus.IN_TRANSIT,
            "cancel": status == TransferStatus.REQUESTED,
        }[step]
        service = {
            "dispatch": services.dispatch_transfer,
            "receive": services.receive_transfer,
            "cancel": services.cancel_transfer,
        }[step]
        try:
            service(actor=SYSTEM, transfer=transfer)
        except IllegalTransition:
            assert not legal
            return
        assert legal
        if step == "dispatch":
            self.model[(0, v)][0] -= q
            self.model[(0, v)][1] -= q
            self.transfer_model[transfer.pk] = TransferStatus.IN_TRANSIT
        elif step == "receive":
            self.model[(1, v)][0] += q
            if destined:
                self.model[(1, v)][1] += q
            self.transfer_model[transfer.pk] = TransferStatus.RECEIVED
        else:
            self.model[(0, v)][1] -= q
            self.transfer_model[transfer.pk] = TransferStatus.CANCELLED

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def stock_matches_model_and_ledger(self):
        rows = {
            (i.store_id, i.variant_id): (i.on_hand, i.reserved, i.safety_stock)
            for i in StockItem.objects.all()
        }
        for (s, v), expected in self.model.items():
            actual = rows.get((self.stores[s].pk, self.variants[v].pk), (0, 0, 0))
            assert actual == tuple(expected), (s, v)
        assert_ledger_consistent()


@pytest.mark.django_db
def test_any_sequence_of_stock_operations_keeps_the_invariants():
    run_state_machine_as_test(
        StockLedgerMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
