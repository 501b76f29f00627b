import pytest

from common.actor import Actor
from inventory import services
from inventory.models import StockItem, StockMovement, TransferStatus
from tests.factories import StoreFactory, VariantFactory
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


def on_hand(variant, store) -> int:
    return StockItem.objects.get(variant=variant, store=store).on_hand


class TestAvailability:
    url = "/api/v1/availability/"

    def test_stock_per_sku_per_store(self, web, store, other_store):
        a, b = VariantFactory(), VariantFactory()
        stocked(a, store, 5, safety_stock=1)
        stocked(b, other_store, 2)
        services.reserve(actor=SYSTEM, store=store, lines=[(a, 2, "1")], cause_type="manual")
        response = web.get(self.url, {"sku": [a.sku, b.sku]})
        assert response.status_code == 200, response.json()
        rows = {(r["sku"], r["store"]): r for r in response.json()["results"]}
        assert response.json()["count"] == 4
        assert {k: rows[(a.sku, "BER-01")][k] for k in ("on_hand", "reserved", "available")} == {
            "on_hand": 5,
            "reserved": 2,
            "available": 2,
        }
        assert rows[(b.sku, "HAM-01")]["available"] == 2
        assert rows[(b.sku, "BER-01")]["available"] == 0

    def test_one_store(self, web, store, other_store):
        v = VariantFactory()
        stocked(v, other_store, 3)
        response = web.get(self.url, {"sku": v.sku, "store": "HAM-01"})
        assert [(r["store"], r["available"]) for r in response.json()["results"]] == [("HAM-01", 3)]

    def test_pickup_stores_sorted_by_distance(self, web, store, other_store):
        StoreFactory(code="LAG-01", is_warehouse=True, offers_pickup=False)
        v = VariantFactory()
        response = web.get(self.url, {"sku": v.sku, "pickup": "true", "near": "53.55,10.0"})
        results = response.json()["results"]
        assert [r["store"] for r in results] == ["HAM-01", "BER-01"]
        assert results[0]["distance_km"] < results[1]["distance_km"]

    @pytest.mark.parametrize(
        "params, field",
        [
            ({}, "sku"),
            ({"sku": "NOPE-1"}, "sku"),
            ({"sku": "__known__", "store": "XXX-99"}, "store"),
            ({"sku": "__known__", "near": "north"}, "near"),
            ({"sku": "__known__", "pickup": "maybe"}, "pickup"),
        ],
    )
    def test_bad_input_is_a_400_with_the_field(self, web, store, params, field):
        v = VariantFactory()
        params = {k: (v.sku if val == "__known__" else val) for k, val in params.items()}
        response = web.get(self.url, params)
        assert response.status_code == 400
        assert field in response.json()["errors"]

    def test_needs_authentication(self, anon):
        assert anon.get(self.url, {"sku": "X"}).status_code == 401

    def test_fixed_number_of_queries(self, web, django_assert_max_num_queries):
        stores = [StoreFactory() for _ in range(2)]
        variants = [VariantFactory() for _ in range(2)]
        for v in variants:
            stocked(v, stores[0], 1)
        with django_assert_max_num_queries(6) as small:
            web.get(self.url, {"sku": [v.sku for v in variants]})
        stores += [StoreFactory() for _ in range(8)]
        variants += [VariantFactory() for _ in range(10)]
        for v in variants:
            for s in stores:
                stocked(v, s, 2)
        with django_assert_max_num_queries(len(small.captured_queries)):
            response = web.get(
                self.url, {"sku": [v.sku for v in variants], "page_size": 100, "near": "52,13"}
            )
        assert response.json()["count"] == 120


class TestStockReceipts:
    url = "/api/v1/staff/stock/receipts/"

    def test_goods_received_in_own_store(self, staff, store):
        v = VariantFactory()
        response = staff.post(
            self.url,
            {"store": "BER-01", "lines": [{"sku": v.sku, "quantity": 4}], "reason": "LS 17"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["lines"] == [
            {"sku": v.sku, "store": "BER-01", "on_hand": 4, "reserved": 0, "available": 4}
        ]
        movement = StockMovement.objects.get()
        assert movement.actor_user == staff.user
        assert movement.reason == "LS 17"

    def test_replay_with_the_same_key_changes_nothing(self, staff, store):
        v = VariantFactory()
        body = {"store": "BER-01", "lines": [{"sku": v.sku, "quantity": 4}]}
        first = staff.post(self.url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
        second = staff.post(self.url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
        assert second.status_code == first.status_code == 201
        assert second.json() == first.json()
        assert on_hand(v, store) == 4

    def test_foreign_store_is_forbidden(self, staff, store, other_store):
        v = VariantFactory()
        response = staff.post(
            self.url,
            {"store": "HAM-01", "lines": [{"sku": v.sku, "quantity": 1}]},
            format="json",
        )
        assert response.status_code == 403
        assert not StockMovement.objects.exists()

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"store": "BER-01", "lines": [{"sku": "NOPE-1", "quantity": 1}]}, "lines"),
            ({"store": "XXX-99", "lines": [{"sku": "__v__", "quantity": 1}]}, "store"),
            ({"store": "BER-01", "lines": [{"sku": "__v__", "quantity": 0}]}, "lines"),
            ({"store": "BER-01", "lines": [{"sku": "__v__", "quantity": "a"}]}, "lines"),
            ({"store": "BER-01", "lines": []}, "lines"),
            ({"lines": [{"sku": "__v__", "quantity": 1}]}, "store"),
        ],
    )
    def test_bad_input(self, staff, store, body, field):
        v = VariantFactory()
        body["lines"] = [
            {**line, "sku": v.sku if line["sku"] == "__v__" else line["sku"]}
            for line in body["lines"]
        ]
        response = staff.post(self.url, body, format="json")
        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert not StockMovement.objects.exists()

    def test_channel_clients_are_not_staff(self, web, store):
        v = VariantFactory()
        response = web.post(
            self.url, {"store": "BER-01", "lines": [{"sku": v.sku, "quantity": 1}]}, format="json"
        )
        assert response.status_code == 403


class TestStockAdjustments:
    url = "/api/v1/staff/stock/adjustments/"

    def test_count_sets_on_hand(self, manager, store):
        v = VariantFactory()
        stocked(v, store, 10)
        body = {"store": "BER-01", "sku": v.sku, "counted": 8, "reason": "Inventur"}
        response = manager.post(self.url, body, format="json")
        assert response.status_code == 201
        assert response.json()["difference"] == -2
        assert on_hand(v, store) == 8
        again = manager.post(self.url, body, format="json")
        assert again.status_code == 200
        assert again.json()["difference"] == 0
        assert_ledger_consistent()

    def test_count_below_reserved_is_a_409(self, manager, store):
        v = VariantFactory()
        stocked(v, store, 5)
        services.reserve(actor=SYSTEM, store=store, lines=[(v, 4, "1")], cause_type="manual")
        response = manager.post(
            self.url,
            {"store": "BER-01", "sku": v.sku, "counted": 3, "reason": "x"},
            format="json",
        )
        assert response.status_code == 409
        assert response.json()["code"] == "count_below_reserved"
        assert on_hand(v, store) == 5

    def test_foreign_store_is_forbidden(self, manager, other_store):
        v = VariantFactory()
        response = manager.post(
            self.url, {"store": "HAM-01", "sku": v.sku, "counted": 3, "reason": "x"}, format="json"
        )
        assert response.status_code == 403

    @pytest.mark.parametrize(
        "change, field",
        [({"sku": "NOPE-1"}, "sku"), ({"counted": -1}, "counted"), ({"reason": ""}, "reason")],
    )
    def test_bad_input(self, manager, store, change, field):
        v = VariantFactory()
        body = {"store": "BER-01", "sku": v.sku, "counted": 3, "reason": "x"} | change
        response = manager.post(self.url, body, format="json")
        assert response.status_code == 400
        assert field in response.json()["errors"]


class TestStaffTransfers:
    @pytest.fixture
    def transfer(self, store, other_store):
        v = VariantFactory()
        stocked(v, other_store, 5)
        return services.create_transfer(
            actor=SYSTEM, from_store=other_store, to_store=store, lines=[(v, 2)]
        )

    def test_source_staff_dispatch_and_destination_staff_receive(
        self, staff, store, other_store, transfer
    ):
        from common.auth import issue_user_token
        from tests.conftest import token_client
        from tests.factories import staff_user

        hamburg = token_client(issue_user_token(staff_user(other_store)))
        url = f"/api/v1/staff/transfers/{transfer.pk}/"
        assert staff.post(url + "dispatch/").status_code == 403
        response = hamburg.post(url + "dispatch/", HTTP_IDEMPOTENCY_KEY="d-1")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == TransferStatus.IN_TRANSIT
        replay = hamburg.post(url + "dispatch/", HTTP_IDEMPOTENCY_KEY="d-1")
        assert replay.json() == response.json()
        assert hamburg.post(url + "receive/").status_code == 403
        received = staff.post(url + "receive/")
        assert received.status_code == 200
        assert received.json()["status"] == TransferStatus.RECEIVED
        assert received.json()["lines"][0]["quantity"] == 2
        assert staff.post(url + "receive/").status_code == 409
        assert_ledger_consistent()

    def test_unknown_transfer_is_404(self, staff):
        assert staff.post("/api/v1/staff/transfers/999999/dispatch/").status_code == 404

    def test_list_by_store_and_status(self, staff, store, transfer, django_assert_max_num_queries):
        for _ in range(3):
            v = VariantFactory()
            stocked(v, transfer.from_store, 1)
            services.create_transfer(
                actor=SYSTEM, from_store=transfer.from_store, to_store=store, lines=[(v, 1)]
            )
        with django_assert_max_num_queries(8):
            response = staff.get("/api/v1/staff/transfers/", {"store": "BER-01"})
        assert response.status_code == 200
        assert response.json()["count"] == 4
        assert response.json()["results"][0]["lines"][0]["quantity"] == 1
        assert staff.get("/api/v1/staff/transfers/", {"status": "received"}).json()["count"] == 0
        assert staff.get("/api/v1/staff/transfers/", {"store": "HAM-01"}).status_code == 403
        assert staff.get("/api/v1/staff/transfers/", {"status": "lost"}).status_code == 400
