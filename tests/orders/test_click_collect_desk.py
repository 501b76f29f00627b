"""Click & collect finished in the desk: hand-over by the QR code of the ready e-mail (API and
desk), transfers sent and received, cancelling with a reason after a confirmation."""

import pytest
from django.test import Client

from inventory.models import StockItem, TransferStatus
from orders.models.orders import OrderStatus
from orders.services.orders import pickup_qr_payload
from tests.factories import staff_user
from tests.inventory.ledger import assert_ledger_consistent
from tests.orders.factories_orders import (
    committed,
    pickup_order,
    ready_order,
    stocked_variant,
    warehouse,
)

pytestmark = pytest.mark.django_db

BAD_TEXT = ["", "letters", "9" * 20, "x" * 5000, "UNKNOWN"]


def desk(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class TestQrPayload:
    def test_api_hands_over_with_the_qr_payload(self, staff, store):
        order = ready_order(store)
        response = staff.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": pickup_qr_payload(order)},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["status"] == OrderStatus.COLLECTED

    def test_api_payload_of_another_order_is_a_wrong_code(self, staff, store):
        order, other = ready_order(store), ready_order(store)
        # The other order's number with this order's code: still not this order's QR code.
        forged = f"OMNIS-PICKUP:{other.number}:{order.pickup_code}"
        response = staff.post(
            f"/api/v1/staff/orders/{order.number}/hand-over/",
            {"pickup_code": forged},
            format="json",
        )
        assert response.status_code == 409 and response.json()["code"] == "wrong_pickup_code"
        order.refresh_from_db()
        assert order.status == OrderStatus.READY_FOR_PICKUP and order.pickup_code_attempts == 1

    def test_desk_hands_over_with_the_qr_payload_and_refuses_another_orders(self, store):
        order, other = ready_order(store), ready_order(store)
        client = desk(staff_user(store))
        response = client.post(
            f"/desk/pickups/{order.number}/hand-over/",
            {"pickup_code": pickup_qr_payload(other)},
            follow=True,
        )
        assert "does not match" in response.content.decode()
        order.refresh_from_db()
        assert order.status == OrderStatus.READY_FOR_PICKUP and order.pickup_code_attempts == 1
        client.post(
            f"/desk/pickups/{order.number}/hand-over/", {"pickup_code": pickup_qr_payload(order)}
        )
        order.refresh_from_db()
        assert order.status == OrderStatus.COLLECTED
        assert_ledger_consistent()

    def test_scanning_finds_the_order_to_hand_over(self, store, other_store):
        order = ready_order(store)
        client = desk(staff_user(store))
        for scanned in (pickup_qr_payload(order), order.pickup_code.lower()):
            page = client.get("/desk/pickups/scan/", {"code": scanned}).content.decode()
            assert 'id="hand-over"' in page and order.number in page
        elsewhere = ready_order(other_store)
        page = client.get("/desk/pickups/scan/", {"code": pickup_qr_payload(elsewhere)})
        assert 'id="error-code"' in page.content.decode()

    @pytest.mark.parametrize("text", BAD_TEXT)
    def test_scan_bad_input_is_said_next_to_the_field(self, store, text):
        ready_order(store)
        response = desk(staff_user(store)).get("/desk/pickups/scan/", {"code": text})
        assert response.status_code == 200
        assert 'id="error-code"' in response.content.decode()


class TestTransfers:
    def test_warehouse_dispatches_store_receives_and_the_order_can_be_picked(self, store):
        depot = warehouse()
        variant = stocked_variant(depot, 3)
        order = pickup_order(store, [(variant, 1)])
        transfer = order.transfer
        assert transfer is not None and transfer.status == TransferStatus.REQUESTED
        at_depot = desk(staff_user(depot))
        at_store = desk(staff_user(store))
        assert str(transfer.pk) in at_depot.get("/desk/transfers/").content.decode()
        # The store cannot send what the warehouse holds.
        assert at_store.post(f"/desk/transfers/{transfer.pk}/dispatch/").status_code == 404
        at_depot.post(f"/desk/transfers/{transfer.pk}/dispatch/")
        transfer.refresh_from_db()
        assert transfer.status == TransferStatus.IN_TRANSIT
        assert at_depot.post(f"/desk/transfers/{transfer.pk}/receive/").status_code == 404
        response = at_store.post(f"/desk/transfers/{transfer.pk}/receive/", follow=True)
        assert order.number in response.content.decode()
        transfer.refresh_from_db()
        assert transfer.status == TransferStatus.RECEIVED
        item = StockItem.objects.get(store=store, variant=variant)
        assert (item.on_hand, item.reserved) == (1, 1)
        with committed():
            at_store.post(f"/desk/pickups/{order.number}/ready/")
        order.refresh_from_db()
        assert order.status == OrderStatus.READY_FOR_PICKUP
        assert_ledger_consistent()

    def test_receiving_twice_says_so(self, store):
        depot = warehouse()
        order = pickup_order(store, [(stocked_variant(depot, 1), 1)])
        desk(staff_user(depot)).post(f"/desk/transfers/{order.transfer_id}/dispatch/")
        at_store = desk(staff_user(store))
        at_store.post(f"/desk/transfers/{order.transfer_id}/receive/")
        response = at_store.post(f"/desk/transfers/{order.transfer_id}/receive/", follow=True)
        assert response.status_code == 200 and "not received" in response.content.decode()


class TestCancel:
    def test_cancel_asks_for_a_reason_then_confirmation(self, store):
        variant = stocked_variant(store, 2)
        order = pickup_order(store, [(variant, 2)])
        client = desk(staff_user(store))
        url = f"/desk/orders/{order.number}/cancel/"
        assert client.get(url).status_code == 200
        asked = client.post(url, {"reason": "Customer called: no longer needed"})
        assert 'id="confirm"' in asked.content.decode()
        order.refresh_from_db()
        assert order.status == OrderStatus.PLACED, "asks first"
        with committed():
            response = client.post(
                url, {"reason": "Customer called: no longer needed", "confirmed": "1"}
            )
        assert response.status_code == 302
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
        assert "no longer needed" in order.history.last().note
        assert StockItem.objects.get(store=store, variant=variant).reserved == 0
        assert_ledger_consistent()

    @pytest.mark.parametrize("reason", ["", "   ", "x" * 5000])
    def test_bad_reasons_are_said_next_to_the_field(self, store, reason):
        order = pickup_order(store)
        response = desk(staff_user(store)).post(
            f"/desk/orders/{order.number}/cancel/", {"reason": reason, "confirmed": "1"}
        )
        assert response.status_code == 200 and 'id="error-reason"' in response.content.decode()
        order.refresh_from_db()
        assert order.status == OrderStatus.PLACED

    def test_a_collected_order_cannot_be_cancelled(self, store):
        order = ready_order(store)
        client = desk(staff_user(store))
        client.post(f"/desk/pickups/{order.number}/hand-over/", {"pickup_code": order.pickup_code})
        response = client.post(
            f"/desk/orders/{order.number}/cancel/", {"reason": "oops", "confirmed": "1"}
        )
        assert response.status_code == 200 and 'id="error-reason"' in response.content.decode()

    def test_other_stores_orders_and_unknown_numbers_are_not_found(self, store, other_store):
        order = pickup_order(other_store)
        client = desk(staff_user(store))
        assert client.get(f"/desk/orders/{order.number}/cancel/").status_code == 404
        assert client.get(f"/desk/orders/{'9' * 20}/cancel/").status_code == 404
