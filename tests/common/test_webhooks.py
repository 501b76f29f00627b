"""Webhooks to channel clients: signed deliveries to a real HTTP receiver, retries under one id,
the delivery log, replays, ordering per object, coalesced stock events, and the API's rules."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.test import TestCase
from django.utils import timezone
from standardwebhooks import Webhook

from common import outbox, webhooks
from common.actor import Actor
from common.errors import InvalidInput
from common.models import (
    Channel,
    OutboxMessage,
    OutboxStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from inventory import services as stock
from orders.services.orders import cancel_order
from orders.services.reservations import cancel_reservation
from orders.services.returns import (
    ReturnLineRequest,
    create_return,
    receive_return,
    refund_return,
)
from tests.conftest import token_client
from tests.factories import VariantFactory, api_client_with_key
from tests.orders.factories_orders import pickup_order
from tests.orders.factories_reservations import reservation_for
from tests.orders.factories_returns import bought

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()
URL = "/api/v1/webhooks/"


class Receiver:
    """A webshop's endpoint on 127.0.0.1: answers from a script ("500", "timeout", "ok"; "ok"
    once the script is used up), verifies nothing itself and remembers every request. Like a
    careful receiver it processes an event id once: a repeated id is answered 200, not applied."""

    def __init__(self, script=()):
        self.script = list(script)
        self.requests: list[dict] = []
        self.applied: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with receiver.lock:
                    action = receiver.script.pop(0) if receiver.script else "ok"
                    receiver.requests.append(
                        {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                    )
                if action == "500":
                    self.send_response(500)
                    self.end_headers()
                    return
                if action == "timeout":
                    time.sleep(1.0)  # longer than the client waits; then it is applied anyway
                with receiver.lock:
                    event_id = self.headers["webhook-id"]
                    if event_id not in {e["id"] for e in receiver.applied}:
                        receiver.applied.append(json.loads(body))
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass  # the sender stopped waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.OMNIS_WEBHOOK_TIMEOUT_SECONDS = 0.3
    made = []

    def make(script=()):
        made.append(Receiver(script))
        return made[-1]

    yield make
    for r in made:
        r.close()


def committed():
    return TestCase.captureOnCommitCallbacks(execute=True)


def subscribe(web, url, events):
    response = web.post(URL, {"url": url, "events": events}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def publish(event_type, data, subject):
    """What a service does: publish inside its transaction; the relay sends after commit."""
    with committed(), transaction.atomic():
        webhooks.publish(event_type, data, subject=subject)


def sweep_at(hours: float):
    return outbox.sweep(now=timezone.now() + timedelta(hours=hours))


def sweep_until_settled(start_hours=0.1, step_hours=0.5, rounds=40):
    for i in range(rounds):
        if not WebhookDelivery.objects.filter(state="pending").exists():
            return
        sweep_at(start_hours + i * step_hours)
    raise AssertionError("deliveries still pending")


class TestDelivery:
    def test_fails_twice_times_out_once_then_is_taken_once_under_one_signed_id(self, web, receiver):
        endpoint = receiver(["500", "500", "timeout"])
        created = subscribe(web, endpoint.url, ["order.status_changed"])

        publish("order.status_changed", {"order": "W-000001", "status": "ready"}, "order:W-1")
        assert len(endpoint.requests) == 1  # sent right after commit, answered 500
        sweep_at(0.1)
        sweep_at(0.2)  # the timeout
        sweep_at(1)

        delivery = WebhookDelivery.objects.get()
        assert delivery.state == "delivered" and delivery.attempts == 4
        assert len(endpoint.requests) == 4
        assert {r["headers"]["webhook-id"] for r in endpoint.requests} == {delivery.event_id}
        assert {r["body"] for r in endpoint.requests} == {endpoint.requests[0]["body"]}
        assert [e["id"] for e in endpoint.applied] == [delivery.event_id]
        for request in endpoint.requests:
            body = Webhook(created["secret"]).verify(request["body"], request["headers"])
            assert body == {
                "id": delivery.event_id,
                "type": "order.status_changed",
                "created_at": body["created_at"],
                "sequence": 1,
                "data": {"order": "W-000001", "status": "ready"},
            }

        log = web.get(f"{URL}{created['id']}/deliveries/").json()
        assert log["count"] == 4
        assert [(a["attempt"], a["status_code"], a["state"]) for a in log["results"]] == [
            (4, 200, "delivered"),
            (3, None, "pending"),
            (2, 500, "pending"),
            (1, 500, "pending"),
        ]
        assert {a["event_id"] for a in log["results"]} == {delivery.event_id}
        assert {a["type"] for a in log["results"]} == {"order.status_changed"}
        assert "timed out" in log["results"][1]["error"]

    def test_a_wrong_secret_does_not_verify(self, web, receiver):
        endpoint = receiver()
        subscribe(web, endpoint.url, ["order.created"])
        publish("order.created", {"order": "W-000002"}, "order:W-2")

        other = webhooks.new_secret()
        with pytest.raises(Exception, match="signature"):
            Webhook(other).verify(endpoint.requests[0]["body"], endpoint.requests[0]["headers"])

    def test_after_24_hours_of_failures_it_is_dead_and_a_replay_delivers_it_under_its_id(
        self, web, receiver
    ):
        endpoint = receiver(["500"] * 100)
        created = subscribe(web, endpoint.url, ["order.status_changed"])
        publish("order.status_changed", {"order": "W-000003"}, "order:W-3")

        for hour in range(1, 24):
            sweep_at(hour)
            assert WebhookDelivery.objects.get().state == "pending", hour
        sweep_at(24.1)

        delivery = WebhookDelivery.objects.get()
        assert delivery.state == "dead"
        assert OutboxMessage.objects.get(pk=delivery.outbox_message_id).status == OutboxStatus.DEAD
        newest = web.get(f"{URL}{created['id']}/deliveries/").json()["results"][0]
        assert newest["state"] == "dead" and newest["attempt"] == delivery.attempts

        endpoint.script.clear()  # the shop is fixed
        with committed():
            response = web.post(f"{URL}{created['id']}/deliveries/{delivery.event_id}/redeliver/")
        assert response.status_code == 202

        delivery.refresh_from_db()
        assert delivery.state == "delivered"
        assert endpoint.requests[-1]["headers"]["webhook-id"] == delivery.event_id
        assert endpoint.requests[-1]["body"] == endpoint.requests[0]["body"]
        assert [e["id"] for e in endpoint.applied] == [delivery.event_id]

    def test_a_delivered_event_can_be_replayed_but_a_pending_one_not(self, web, receiver):
        endpoint = receiver(["500"])
        created = subscribe(web, endpoint.url, ["order.status_changed"])
        publish("order.status_changed", {"order": "W-000004"}, "order:W-4")
        event_id = WebhookDelivery.objects.get().event_id
        redeliver = f"{URL}{created['id']}/deliveries/{event_id}/redeliver/"

        assert web.post(redeliver).status_code == 409  # still being delivered
        sweep_at(1)
        with committed():
            assert web.post(redeliver).status_code == 202

        assert [r["headers"]["webhook-id"] for r in endpoint.requests] == [event_id] * 3
        assert WebhookAttempt.objects.filter(delivery__event_id=event_id).count() == 3

    def test_receiver_down_for_a_while_then_back_loses_nothing_and_keeps_the_order(
        self, web, receiver
    ):
        endpoint = receiver(["500"] * 12)
        subscribe(web, endpoint.url, ["order.status_changed"])
        for status in ("ready_for_pickup", "collected"):
            for number in ("W-10", "W-11"):
                publish("order.status_changed", {"status": status}, f"order:{number}")
        publish("order.status_changed", {"status": "placed"}, "order:W-12")

        sweep_until_settled()

        ids = [r["headers"]["webhook-id"] for r in endpoint.requests]
        assert len(endpoint.applied) == 5
        assert len({e["id"] for e in endpoint.applied}) == 5  # no loss, no event applied twice
        assert set(ids) == {e["id"] for e in endpoint.applied}
        by_subject = {}
        for delivery in WebhookDelivery.objects.order_by("pk"):
            by_subject.setdefault(delivery.subject, []).append(delivery.event_id)
        applied_order = [e["id"] for e in endpoint.applied]
        for subject, event_ids in by_subject.items():
            positions = [applied_order.index(i) for i in event_ids]
            assert positions == sorted(positions), subject
            sequences = [e["sequence"] for e in endpoint.applied if e["id"] in event_ids]
            assert sequences == sorted(sequences) == list(range(1, len(event_ids) + 1))
        # Waiting behind an earlier event is not an attempt: the log shows only real requests.
        assert WebhookAttempt.objects.count() == len(endpoint.requests)

    def test_a_removed_subscription_gets_nothing_more(self, web, receiver):
        endpoint = receiver(["500"])
        created = subscribe(web, endpoint.url, ["order.status_changed"])
        publish("order.status_changed", {"order": "W-5"}, "order:W-5")

        assert web.delete(f"{URL}{created['id']}/").status_code == 204
        sweep_at(1)
        publish("order.status_changed", {"order": "W-5"}, "order:W-5")

        assert len(endpoint.requests) == 1
        assert WebhookDelivery.objects.get().state == "dead"


class TestSubscribe:
    @pytest.mark.parametrize(
        ("url", "events", "field"),
        [
            ("file:///etc/passwd", ["order.created"], "url"),
            ("https://shop.example/hooks", [], "events"),
            ("https://shop.example/hooks", ["order.created", "order.exploded"], "events"),
        ],
    )
    def test_the_service_refuses_what_the_api_refuses(self, web, url, events, field):
        with pytest.raises(InvalidInput) as refused:
            webhooks.subscribe(client=web.api_client, url=url, events=events)
        assert list(refused.value.errors) == [field]


class TestPublishing:
    def test_without_subscribers_publishing_writes_nothing_and_asks_at_most_once(
        self, django_assert_max_num_queries
    ):
        with django_assert_max_num_queries(1):
            for n in range(20):
                webhooks.publish("order.status_changed", {"n": n}, subject=f"order:{n}")
                webhooks.publish_coalesced("stock.changed", subjects=[f"stock:{n}"])
        assert not WebhookDelivery.objects.exists()
        assert not OutboxMessage.objects.exists()

    def test_unknown_event_type_is_a_programming_error(self):
        with pytest.raises(LookupError):
            webhooks.publish("order.exploded", {}, subject="order:1")

    def test_a_rolled_back_change_sends_nothing(self, web, receiver):
        endpoint = receiver()
        subscribe(web, endpoint.url, ["order.status_changed"])

        with committed(), pytest.raises(RuntimeError), transaction.atomic():
            webhooks.publish("order.status_changed", {}, subject="order:W-9")
            raise RuntimeError("the service failed after publishing")

        assert not WebhookDelivery.objects.exists() and endpoint.requests == []

    def test_only_subscribed_types_and_active_subscriptions(self, web, receiver):
        endpoint = receiver()
        subscribe(web, endpoint.url, ["reservation.status_changed"])

        publish("order.status_changed", {}, "order:W-8")
        publish("reservation.status_changed", {"reservation": 8}, "reservation:8")

        assert [e["type"] for e in endpoint.applied] == ["reservation.status_changed"]


class TestCoalescedStock:
    def test_a_burst_is_one_delivery_per_sku_and_store_with_the_stock_when_sent(
        self, web, receiver, store, other_store
    ):
        endpoint = receiver(["500"])
        subscribe(web, endpoint.url, ["stock.changed"])
        shirt, socks = VariantFactory(sku="SHIRT-M"), VariantFactory(sku="SOCKS")

        # Many movements, none sent yet (nothing committed for real inside the test).
        with transaction.atomic():
            stock.receive(actor=SYSTEM, store=store, lines=[(shirt, 5), (socks, 2)])
            stock.receive(actor=SYSTEM, store=store, lines=[(shirt, 3)])
            stock.receive(actor=SYSTEM, store=other_store, lines=[(shirt, 1)])
            stock.reserve(actor=SYSTEM, store=store, lines=[(shirt, 2, "x")], cause_type="manual")
        assert WebhookDelivery.objects.count() == 3  # shirt@BER, socks@BER, shirt@HAM

        ber_shirt = WebhookDelivery.objects.get(subject=f"stock:{_item(shirt, store)}")
        outbox.deliver(ber_shirt.outbox_message_id)  # fails: 500; the data is now fixed
        stock.receive(actor=SYSTEM, store=store, lines=[(shirt, 10)])  # a new delivery
        sweep_until_settled()

        applied = {
            (e["data"]["sku"], e["data"]["store"], e["sequence"]): e for e in endpoint.applied
        }
        assert applied[("SHIRT-M", "BER-01", 1)]["data"] == {
            "sku": "SHIRT-M",
            "store": "BER-01",
            "on_hand": 8,
            "reserved": 2,
            "available": 6,
        }
        assert applied[("SHIRT-M", "BER-01", 2)]["data"]["on_hand"] == 18
        assert applied[("SOCKS", "BER-01", 1)]["data"]["available"] == 2
        assert applied[("SHIRT-M", "HAM-01", 1)]["data"]["on_hand"] == 1
        assert len(endpoint.applied) == 4
        first_tries = [
            r for r in endpoint.requests if r["headers"]["webhook-id"] == ber_shirt.event_id
        ]
        assert len(first_tries) == 2 and first_tries[0]["body"] == first_tries[1]["body"]


def _item(variant, store):
    from inventory.models import StockItem

    return StockItem.objects.get(variant=variant, store=store).pk


class TestDomainEvents:
    @pytest.fixture
    def subscribed(self, web, receiver):
        subscription = webhooks.subscribe(
            client=web.api_client,
            url=receiver().url,
            events=[t for t in webhooks.EVENT_TYPES if t != "stock.changed"],
        )
        return subscription

    def events(self, subscription):
        return list(
            subscription.deliveries.order_by("pk").values_list("event_type", "sequence", "data")
        )

    def test_an_order_placed_and_cancelled(self, subscribed, store):
        order = pickup_order(store)
        cancel_order(actor=SYSTEM, order=order, reason="changed mind")

        events = self.events(subscribed)
        assert [(t, s) for t, s, _ in events] == [
            ("order.created", 1),
            ("order.status_changed", 2),
            ("refund.created", 3),  # a paid order cancelled: its money goes back
        ]
        assert events[0][2]["order"] == order.number and events[0][2]["status"] == "placed"
        assert events[1][2] == {
            "order": order.number,
            "status": "cancelled",
            "previous_status": "placed",
            "payment_status": "paid",
        }
        assert events[2][2]["order"] == order.number and events[2][2]["return"] is None
        assert events[2][2]["amount"] == str(order.total) and events[2][2]["status"] == "pending"

    def test_a_reservation_cancelled(self, subscribed, store):
        reservation = reservation_for(store)
        cancel_reservation(actor=SYSTEM, reservation=reservation)

        (event_type, sequence, data), *_ = self.events(subscribed)[-1:]
        assert event_type == "reservation.status_changed" and data["status"] == "released"
        assert data["reservation"] == reservation.pk and data["store"] == store.code

    def test_a_return_received_and_refunded(self, subscribed, store):
        order = bought(store=store, lines=[(VariantFactory(), 1, "30.00")])
        line = order.lines.get()
        request = create_return(
            actor=SYSTEM,
            order=order,
            store=store,
            lines=[ReturnLineRequest(order_line=line.pk, quantity=1, reason="too_small")],
        )
        receive_return(
            actor=SYSTEM,
            return_request=request,
            conditions={rl.pk: "resellable" for rl in request.lines.all()},
        )
        refund_return(actor=SYSTEM, return_request=request, method="store_credit")

        events = [(t, s, d) for t, s, d in self.events(subscribed) if t != "order.created"]
        assert [(t, s, d.get("status")) for t, s, d in events] == [
            ("return.status_changed", 1, "received"),
            ("return.status_changed", 2, "refunded"),
            ("refund.created", 3, "paid"),  # store credit is booked at once
        ]
        assert events[2][2]["amount"] == "30.00" and events[2][2]["method"] == "store_credit"


class TestApi:
    def test_no_token_is_401_customer_and_staff_logins_403(self, anon, customer_api, staff):
        body = {"url": "https://shop.example/hooks", "events": ["order.created"]}
        assert anon.post(URL, body, format="json").status_code == 401
        assert anon.get(URL).status_code == 401
        assert customer_api.post(URL, body, format="json").status_code == 403
        assert staff.post(URL, body, format="json").status_code == 403
        assert staff.get(URL).status_code == 403
        assert not WebhookSubscription.objects.exists()

    def test_secret_is_shown_once_and_lists_show_only_own_subscriptions(self, web):
        created = subscribe(web, "https://shop.example/hooks", ["order.created", "stock.changed"])
        assert created["secret"].startswith("whsec_")
        assert created["events"] == ["order.created", "stock.changed"]
        other_client, key = api_client_with_key("app-backend", Channel.APP)
        other = token_client(key)
        subscribe(other, "https://app.example/hooks", ["order.created"])

        listed = web.get(URL).json()
        assert listed["count"] == 1
        assert listed["results"] == [
            {
                "id": created["id"],
                "url": "https://shop.example/hooks",
                "events": ["order.created", "stock.changed"],
                "created_at": created["created_at"],
            }
        ]
        assert WebhookSubscription.objects.get(pk=created["id"]).secret == created["secret"]

    def test_another_clients_subscription_is_404(self, web):
        _, key = api_client_with_key("app-backend", Channel.APP)
        theirs = subscribe(token_client(key), "https://app.example/hooks", ["order.created"])

        assert web.delete(f"{URL}{theirs['id']}/").status_code == 404
        assert web.get(f"{URL}{theirs['id']}/deliveries/").status_code == 404
        assert web.post(f"{URL}{theirs['id']}/deliveries/msg_x/redeliver/").status_code == 404
        assert WebhookSubscription.objects.get(pk=theirs["id"]).deleted_at is None

    def test_delete_removes_it_from_the_list(self, web):
        created = subscribe(web, "https://shop.example/hooks", ["order.created"])

        assert web.delete(f"{URL}{created['id']}/").status_code == 204
        assert web.get(URL).json()["count"] == 0
        assert web.delete(f"{URL}{created['id']}/").status_code == 404

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"url": "ftp://shop.example/hooks", "events": ["order.created"]}, "url"),
            ({"url": "javascript:alert(1)", "events": ["order.created"]}, "url"),
            ({"url": "not a url", "events": ["order.created"]}, "url"),
            ({"events": ["order.created"]}, "url"),
            ({"url": "https://shop.example/hooks", "events": ["order.exploded"]}, "events"),
            ({"url": "https://shop.example/hooks", "events": []}, "events"),
            ({"url": "https://shop.example/hooks", "events": "order.created"}, "events"),
        ],
    )
    def test_bad_input_is_400_with_the_field(self, web, body, field):
        response = web.post(URL, body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert not WebhookSubscription.objects.exists()

    def test_the_schema_documents_the_endpoints_and_the_event(self, anon):
        schema = anon.get("/api/schema/", {"format": "json"}).json()
        assert {"/api/v1/webhooks/", "/api/v1/webhooks/{id}/deliveries/"} <= set(schema["paths"])
        assert "WebhookEvent" in schema["components"]["schemas"]


def test_a_long_line_of_waiting_events_is_sent_in_order_once_the_first_goes_through(web, receiver):
    endpoint = receiver(["500"])
    subscribe(web, endpoint.url, ["order.status_changed"])
    with committed():
        with transaction.atomic():
            webhooks.publish("order.status_changed", {"n": 0}, subject="order:W-20")
        for n in range(1, 60):  # each waits for the first (500) without a request of its own
            with transaction.atomic():
                webhooks.publish("order.status_changed", {"n": n}, subject="order:W-20")
    assert len(endpoint.requests) == 1

    with committed():
        outbox.deliver(WebhookDelivery.objects.order_by("pk").first().outbox_message_id)

    assert [e["data"]["n"] for e in endpoint.applied] == list(range(60))
