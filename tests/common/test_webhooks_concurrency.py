"""A stock change while its coalesced event is being sent is neither lost nor held up (PostgreSQL:
real transactions in threads)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection

from common import outbox, webhooks
from common.actor import Actor
from common.models import Channel, WebhookDelivery
from inventory import services as stock
from tests.conftest import requires_postgres
from tests.factories import VariantFactory, api_client_with_key

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.system()


def test_a_change_during_the_send_gets_its_own_delivery_without_waiting_for_it(
    store, settings, monkeypatch
):
    settings.OMNIS_WEBHOOK_TIMEOUT_SECONDS = 10
    # Rows are carried out only when this test says so (not at once after each commit).
    monkeypatch.setattr(outbox, "_after_commit", lambda *args: None)
    arrived, release = threading.Event(), threading.Event()
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            arrived.set()
            release.wait(10)  # the shop is slow: the sender holds its delivery meanwhile
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client, _ = api_client_with_key("webshop", Channel.WEB)
        webhooks.subscribe(
            client=client,
            url=f"http://127.0.0.1:{server.server_address[1]}/",
            events=["stock.changed"],
        )
        shirt = VariantFactory(sku="SHIRT-M")
        stock.receive(actor=SYSTEM, store=store, lines=[(shirt, 5)])
        first = WebhookDelivery.objects.get()

        sender = threading.Thread(target=_send, args=(first.outbox_message_id,))
        sender.start()
        assert arrived.wait(10)
        # A second movement while the first event (on_hand 5) is on its way.
        changed = threading.Thread(target=_receive, args=(store, shirt, 3))
        changed.start()
        changed.join(5)
        assert not changed.is_alive(), "the stock change waited for the webhook"
        release.set()
        sender.join(10)
        outbox.sweep()
    finally:
        release.set()
        server.shutdown()
        server.server_close()

    assert [b["data"]["on_hand"] for b in bodies] == [5, 8]
    assert [b["sequence"] for b in bodies] == [1, 2]
    assert sorted(d.state for d in WebhookDelivery.objects.all()) == ["delivered", "delivered"]


def _send(message_id):
    try:
        outbox.deliver(message_id)
    finally:
        connection.close()


def _receive(store, variant, quantity):
    try:
        stock.receive(actor=SYSTEM, store=store, lines=[(variant, quantity)])
    finally:
        connection.close()
