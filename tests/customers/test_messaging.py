"""Messages by the customer's channel: e-mail or SMS, the other when the first has no address,
nothing for "none"; one SMS (160 GSM-7 characters); marketing SMS wait for the quiet hours to end;
the HTTP provider backend."""

import json
import logging
import threading
import zoneinfo
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from common import outbox, sms
from common.actor import Actor
from common.models import Channel, OutboxMessage, OutboxStatus, SentNotification
from customers import messaging
from customers.models import Customer
from customers.privacy.consents import update_consents
from customers.services import add_to_wishlist
from orders.models import Order
from orders.services.nudges import send_low_stock_nudges
from tests.factories import CustomerFactory, StoreFactory
from tests.orders.factories_orders import committed, pickup_order, ready_order, stocked_variant
from tests.orders.factories_reservations import variant_in_stock

pytestmark = pytest.mark.django_db

MOBILE = "+491701234567"
LANDLINE = "+49301234567"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def phone_only(**kwargs) -> Customer:
    return CustomerFactory(
        **{"email": None, "phone": MOBILE, "contact_channel": "sms", "first_name": "Lukas"} | kwargs
    )


def assert_one_sms(text: str) -> None:
    assert sms.gsm7_length(text) <= 160 and sms.is_gsm7(text), text


class TestThePhoneDeskCustomerWithOnlyAPhoneNumber:
    def test_gets_the_reservation_confirmation_and_the_pickup_code_by_sms(
        self, phone_desk, staff, store, django_capture_on_commit_callbacks
    ):
        jacket = variant_in_stock(store, 3, product__name="Regenjacke Nordkap")
        response = phone_desk.post(
            "/api/v1/customers/",
            {"phone": "0170 1234567", "first_name": "Lukas", "contact_channel": "sms"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        lukas = response.json()["id"]

        with django_capture_on_commit_callbacks(execute=True):
            response = phone_desk.post(
                "/api/v1/reservations/",
                {
                    "customer": lukas,
                    "store": store.code,
                    "lines": [{"sku": jacket.sku, "quantity": 1}],
                },
                format="json",
                HTTP_IDEMPOTENCY_KEY="call-lukas-1",
            )
        assert response.status_code == 201, response.json()
        assert mail.outbox == []
        [confirmation] = sms.outbox
        assert confirmation["to"] == MOBILE
        assert f"reservation {response.json()['id']}" in confirmation["text"]
        assert store.name in confirmation["text"] and "Regenjacke Nordkap" in confirmation["text"]
        assert_one_sms(confirmation["text"])

        variant = stocked_variant(store, 5)
        body = {
            "customer": lukas,
            "fulfilment": "pickup",
            "pickup_store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "payment_reference": "psp_pay_lukas",
        }
        with django_capture_on_commit_callbacks(execute=True):
            response = phone_desk.post("/api/v1/orders/", body, format="json")
        assert response.status_code == 201, response.json()
        number = response.json()["number"]
        assert number in sms.outbox[-1]["text"]  # the order confirmation

        with django_capture_on_commit_callbacks(execute=True):
            response = staff.post(f"/api/v1/staff/orders/{number}/ready/")
        assert response.status_code == 200
        code = response.json()["pickup_code"]
        ready = sms.outbox[-1]
        assert ready["to"] == MOBILE
        assert f"Pickup code {code}" in ready["text"]
        assert store.name in ready["text"] and store.street in ready["text"]
        assert_one_sms(ready["text"])
        assert len(sms.outbox) == 3 and mail.outbox == []
        # One key per message and channel.
        assert SentNotification.objects.filter(
            key=f"order:{Order.objects.get(number=number).pk}:ready:sms", recipient=MOBILE
        ).exists()


class TestTheChannel:
    def test_email_preferred_but_no_address_goes_by_sms(self, store):
        order = pickup_order(store, customer=phone_only(contact_channel="email"))
        assert mail.outbox == []
        assert [m["to"] for m in sms.outbox] == [MOBILE]
        assert order.number in sms.outbox[0]["text"]

    @pytest.mark.parametrize("channel", ["sms", "phone"])
    def test_sms_and_phone_call_customers_get_automatic_messages_by_sms(self, store, channel):
        customer = CustomerFactory(phone=MOBILE, contact_channel=channel)
        ready_order(store, customer=customer)
        assert mail.outbox == []
        assert len(sms.outbox) == 2  # confirmation, ready with code

    def test_email_customers_keep_getting_email(self, store):
        customer = CustomerFactory(phone=MOBILE, contact_channel="email")
        ready_order(store, customer=customer)
        assert [m.to for m in mail.outbox] == [[customer.email]] * 2
        assert sms.outbox == []

    def test_none_sends_nothing_at_all(self, store):
        customer = CustomerFactory(phone=MOBILE, contact_channel="none")
        order = ready_order(store, customer=customer)
        assert mail.outbox == [] and sms.outbox == []
        assert not SentNotification.objects.exists()
        order.refresh_from_db()
        assert order.status == "ready_for_pickup" and order.pickup_code  # shown on /me/

    def test_sms_to_a_landline_falls_back_to_email(self, store):
        customer = CustomerFactory(phone=LANDLINE, contact_channel="sms")
        pickup_order(store, customer=customer)
        assert [m.to for m in mail.outbox] == [[customer.email]]
        assert sms.outbox == []

    def test_sms_to_a_landline_without_email_is_skipped_with_a_log_line(self, store, caplog):
        customer = CustomerFactory(email=None, phone=LANDLINE, contact_channel="sms")
        with caplog.at_level(logging.INFO, logger="customers.messaging"):
            pickup_order(store, customer=customer)
        assert mail.outbox == [] and sms.outbox == []
        assert f"customer {customer.pk} not sent" in caplog.text

    def test_a_message_relayed_twice_is_sent_once(self, store):
        from orders.tasks.orders import send_order_confirmation

        order = pickup_order(store, customer=phone_only())
        assert send_order_confirmation(order.pk) is False
        assert len(sms.outbox) == 1

    def test_can_receive_sms(self):
        assert messaging.can_receive_sms(MOBILE)
        assert not messaging.can_receive_sms(LANDLINE)
        assert not messaging.can_receive_sms(None)
        assert messaging.can_receive_sms("+12015550123")  # US: mobile or landline, cannot tell


class TestChoosingSmsForALandlineIsRefused:
    def test_staff_patch_is_400_with_a_field_error_and_nothing_changes(self, phone_desk):
        customer = CustomerFactory(phone=LANDLINE, contact_channel="email")
        response = phone_desk.patch(
            f"/api/v1/customers/{customer.pk}/", {"contact_channel": "sms"}, format="json"
        )
        assert response.status_code == 400
        assert "contact_channel" in response.json()["errors"]
        customer.refresh_from_db()
        assert customer.contact_channel == "email"

    def test_a_mobile_number_may_choose_sms(self, phone_desk):
        customer = CustomerFactory(phone=LANDLINE, contact_channel="email")
        response = phone_desk.patch(
            f"/api/v1/customers/{customer.pk}/",
            {"contact_channel": "sms", "phone": MOBILE},
            format="json",
        )
        assert response.status_code == 200, response.json()
        assert response.json()["contact_channel"] == "sms"

    def test_me_patch_is_400(self, customer_api):
        customer_api.customer.phone = LANDLINE
        customer_api.customer.save()
        response = customer_api.patch("/api/v1/me/", {"contact_channel": "sms"}, format="json")
        assert response.status_code == 400
        assert "contact_channel" in response.json()["errors"]
        customer_api.customer.refresh_from_db()
        assert customer_api.customer.contact_channel == "email"

    def test_creating_a_customer_is_400(self, phone_desk):
        response = phone_desk.post(
            "/api/v1/customers/", {"phone": LANDLINE, "contact_channel": "sms"}, format="json"
        )
        assert response.status_code == 400
        assert "contact_channel" in response.json()["errors"]
        assert not Customer.objects.exists()

    def test_the_admin_form_says_so(self, admin_client):
        customer = CustomerFactory(phone=LANDLINE, contact_channel="email")
        change = reverse("admin:customers_customer_change", args=[customer.pk])
        form = admin_client.get(change).context["adminform"].form
        data = {
            name: ("" if value is None else value)
            for name, value in form.initial.items()
            if name in form.fields
        }
        data.update({"contact_channel": "sms", "sizes": "{}", "favourite_categories": "[]"})
        for prefix in ("notes", "wishlist", "store_credit", "timeline"):
            data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"
        response = admin_client.post(change, data)
        assert response.status_code == 200
        assert "landline" in str(response.context["adminform"].form.errors["contact_channel"])
        customer.refresh_from_db()
        assert customer.contact_channel == "email"


class TestOneSms:
    def test_typography_becomes_gsm7_and_umlauts_stay(self):
        text = "„Grüße“ – 2× ‘Jacke’…\u00a0Straße, Çağrı, Łódź 🙂"
        assert sms.to_gsm7(text) == "\"Grüße\" - 2x 'Jacke'... Straße, Çagri, Lodz ?"
        assert sms.is_gsm7(sms.to_gsm7(text))

    def test_a_long_text_is_cut_at_a_word_to_160(self):
        text = "Omnis: " + " ".join(["Wort"] * 60)
        cut = sms.fit_sms(text)
        assert sms.gsm7_length(cut) <= 160 and cut.endswith("Wort...")
        assert sms.fit_sms("short") == "short"

    def test_extension_characters_count_twice(self):
        text = "€" * 100
        assert sms.gsm7_length(text) == 200
        cut = sms.fit_sms(text)
        assert sms.gsm7_length(cut) <= 160 and cut.endswith("...")

    def test_the_pickup_code_and_the_store_survive_a_long_store_address(self):
        store = StoreFactory(
            code="LNG-01",
            name="Omnis Haus & Mode Einkaufszentrum am Alexanderplatz",
            street="Karl-Liebknecht-Straße 13, Eingang gegenüber der Weltzeituhr, 2. Obergeschoss",
        )
        order = ready_order(store, customer=phone_only())
        text = sms.outbox[-1]["text"]
        assert_one_sms(text)
        assert f"Pickup code {order.pickup_code} at Omnis Haus & Mode" in text

    @pytest.mark.parametrize(
        "template",
        [
            "order_confirmation",
            "order_ready_for_pickup",
            "order_pickup_reminder",
            "order_cancelled",
            "order_refunded",
            "refund_issued",
            "reservation_confirmation",
            "reservation_reminder",
            "reservation_released",
            "return_received",
            "wishlist_low_stock",
            "nudge",
        ],
    )
    def test_every_message_has_an_sms_text(self, template, store):
        order = pickup_order(store)
        text = messaging.render_sms(
            template,
            {
                "order": order,
                "store": store,
                "customer": order.customer,
                "lines": [],
                "refunds": [],
                "total": "10.00",
                "return": None,
                "reservation": None,
                "variant": None,
                "available": 1,
                "low": True,
                "reason": "viewed_again",
                "expires_at_local": timezone.now(),
            },
        )
        assert text.startswith("Omnis: ")
        assert_one_sms(text)


class TestQuietHours:
    def at(self, monkeypatch, when: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: when)

    def nudge(self, store, **customer):
        shoes = stocked_variant(store, 1)
        anna = CustomerFactory(**({"marketing_consent": True, "preferred_store": store} | customer))
        if anna.contact_channel == "sms":
            update_consents(
                actor=Actor(channel=Channel.PHONE),
                customer=anna,
                changes=[{"purpose": "marketing", "channel": "sms", "given": True}],
            )
        add_to_wishlist(actor=Actor(channel=Channel.APP), customer=anna, variant=shoes)
        with committed():
            assert send_low_stock_nudges() == 1
        return OutboxMessage.objects.get(topic="orders.send_nudge")

    def test_a_marketing_sms_at_night_waits_until_nine_local_time(self, store, monkeypatch):
        self.at(monkeypatch, datetime(2026, 12, 4, 21, 30, tzinfo=BERLIN))
        message = self.nudge(store, email=None, phone=MOBILE, contact_channel="sms")
        assert sms.outbox == []
        assert message.status == OutboxStatus.PENDING and message.attempts == 0
        assert message.next_attempt_at == datetime(2026, 12, 5, 9, 0, tzinfo=BERLIN)
        assert not SentNotification.objects.exists()

        # The sweep before nine leaves it; at nine it goes, once.
        self.at(monkeypatch, datetime(2026, 12, 5, 8, 59, tzinfo=BERLIN))
        assert outbox.sweep() == {}
        self.at(monkeypatch, datetime(2026, 12, 5, 9, 0, tzinfo=BERLIN))
        assert outbox.sweep() == {"sent": 1}
        assert len(sms.outbox) == 1 and "only one" in sms.outbox[0]["text"]
        message.refresh_from_db()
        assert message.status == OutboxStatus.SENT and message.attempts == 1

    def test_by_day_it_goes_at_once(self, store, monkeypatch):
        self.at(monkeypatch, datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN))
        self.nudge(store, email=None, phone=MOBILE, contact_channel="sms")
        assert len(sms.outbox) == 1

    def test_marketing_email_has_no_quiet_hours(self, store, monkeypatch):
        self.at(monkeypatch, datetime(2026, 12, 4, 23, 0, tzinfo=BERLIN))
        self.nudge(store, phone=MOBILE, contact_channel="email")
        assert len(mail.outbox) == 1

    def test_transactional_sms_go_at_night(self, store, monkeypatch):
        self.at(monkeypatch, datetime(2026, 12, 4, 23, 0, tzinfo=BERLIN))
        ready_order(store, customer=phone_only())
        assert len(sms.outbox) == 2

    def test_the_preferred_stores_local_time_counts(self, store):
        lisbon = StoreFactory(code="LIS-01", time_zone="Europe/Lisbon")
        customer = phone_only(preferred_store=lisbon)
        # 20:30 in Berlin is 19:30 in Lisbon: not yet quiet there.
        evening = datetime(2026, 12, 4, 20, 30, tzinfo=BERLIN)
        assert messaging.quiet_until(evening, messaging.local_zone(customer, store)) is None
        assert messaging.quiet_until(evening, messaging.local_zone(CustomerFactory(), store))
        # Early morning: quiet until nine the same day.
        early = datetime(2026, 12, 5, 7, 0, tzinfo=BERLIN)
        assert messaging.quiet_until(early, BERLIN) == datetime(2026, 12, 5, 9, 0, tzinfo=BERLIN)
        assert messaging.local_zone(CustomerFactory(), None) == BERLIN  # TIME_ZONE


class Receiver:
    """An SMS provider on 127.0.0.1 that records what it is sent and answers `status`."""

    def __init__(self):
        self.status = 200
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "type": self.headers.get("Content-Type"),
                        "body": json.loads(body),
                        "status": receiver.status,
                    }
                )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://omnis:s3cret@127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


class TestHttpBackend:
    def test_posts_json_with_basic_auth(self, receiver):
        sms.HttpBackend(url=receiver.url).send(MOBILE, "Omnis: hello")
        [request] = receiver.received
        assert request["path"] == "/send"
        assert request["body"] == {"to": MOBILE, "text": "Omnis: hello"}
        assert request["type"] == "application/json"
        assert request["auth"] == "Basic b21uaXM6czNjcmV0"  # omnis:s3cret

    def test_not_2xx_raises(self, receiver):
        receiver.status = 500
        with pytest.raises(sms.SmsNotAccepted, match="HTTP 500"):
            sms.HttpBackend(url=receiver.url).send(MOBILE, "Omnis: hello")

    def test_unreachable_raises(self):
        with pytest.raises(sms.SmsNotAccepted, match="unreachable"):
            sms.HttpBackend(url="http://127.0.0.1:9/send", timeout=2).send(MOBILE, "x")

    def test_a_500_is_retried_by_the_outbox_and_sent_once_later(self, receiver, store, settings):
        settings.SMS_URL = receiver.url
        settings.SMS_BACKEND = "common.sms.HttpBackend"
        receiver.status = 500
        order = pickup_order(store, customer=phone_only())
        message = OutboxMessage.objects.get(topic="orders.send_order_confirmation")
        assert message.status == OutboxStatus.PENDING and message.attempts == 1
        assert "HTTP 500" in message.last_error
        assert not SentNotification.objects.filter(sent_at__isnull=False).exists()

        receiver.status = 200
        assert outbox.sweep(now=timezone.now() + timedelta(minutes=5)) == {"sent": 1}
        assert outbox.sweep(now=timezone.now() + timedelta(minutes=10)) == {}
        assert [r["status"] for r in receiver.received] == [500, 200]
        assert order.number in receiver.received[-1]["body"]["text"]
