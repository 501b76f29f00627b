"""German by default, English on request: the desk, the admin, money and dates, and every customer
message in the customer's language; the API keeps its English contract; no German text missing."""

import ast
import re
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client
from django.utils import translation

from common import sms
from common.formatting import local_date, local_datetime, local_time, money
from orders.models.orders import PaymentStatus
from tests.factories import CustomerFactory, StoreFactory, staff_user
from tests.orders.factories_orders import pickup_order, ready_order

GERMAN_PO = settings.BASE_DIR / "locale" / "de" / "LC_MESSAGES" / "django.po"
SOURCES = ["common", "config", "customers", "inventory", "orders", "stores", "templates", "locale"]
MOBILE = "+491701234567"


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgid_plural, msgstr (by index) and flags."""
    entries, entry, field = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = line.strip()
        if not line:
            if entry is not None and entry["msgid"]:
                entries.append(entry)
            entry = None
            continue
        if entry is None:
            entry = {"msgid": "", "msgid_plural": None, "msgstr": {}, "flags": ""}
        if line.startswith("#,"):
            entry["flags"] += line
        elif line.startswith("#"):
            continue
        elif match := re.match(r'(msgid_plural|msgid|msgstr)(?:\[(\d)\])? (".*")$', line):
            key, index, value = match.group(1), match.group(2), ast.literal_eval(match.group(3))
            field = (key, int(index or 0))
            if key == "msgstr":
                entry["msgstr"][field[1]] = value
            else:
                entry[key] = value
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += value
            else:
                entry[field[0]] += value
    return entries


def untranslated(entries: list[dict]) -> list[str]:
    return [
        e["msgid"]
        for e in entries
        if "fuzzy" in e["flags"] or not e["msgstr"] or not all(e["msgstr"].values())
    ]


def desk_client(store, **headers) -> Client:
    client = Client(headers=headers)
    client.force_login(staff_user(store))
    return client


class TestTheGermanCatalogue:
    def test_every_msgid_is_translated_and_none_is_fuzzy(self):
        entries = read_po(GERMAN_PO)
        assert len(entries) > 400
        assert untranslated(entries) == []

    @pytest.mark.skipif(not shutil.which("xgettext"), reason="makemessages needs GNU gettext")
    def test_makemessages_finds_no_string_without_a_german_text(self, tmp_path, monkeypatch):
        # On a copy: the committed catalogue must already hold every string of the code.
        for name in SOURCES:
            shutil.copytree(settings.BASE_DIR / name, tmp_path / name)
        monkeypatch.chdir(tmp_path)
        call_command("makemessages", locale=["de"], no_obsolete=True, verbosity=0)
        missing = untranslated(read_po(tmp_path / "locale/de/LC_MESSAGES/django.po"))
        assert missing == [], "run makemessages and translate (docs/operations.md, Languages)"

    def test_the_compiled_catalogue_matches_the_po_file(self):
        with translation.override("de"):
            for entry in read_po(GERMAN_PO):
                if entry["msgid_plural"] is None:
                    assert translation.gettext(entry["msgid"]) == entry["msgstr"][0], entry
                else:
                    text = translation.ngettext(entry["msgid"], entry["msgid_plural"], 1)
                    assert text == entry["msgstr"][0], "run compilemessages"


class TestTheDesk:
    def test_speaks_german_by_default(self, german, store):
        page = desk_client(store).get("/desk/pickups/")
        text = page.content.decode()
        assert '<html lang="de">' in text
        assert "Abholungen" in text and "Kasse" in text and "Rückgaben" in text
        assert "Pickups" not in text
        assert page["Content-Language"] == "de"

    def test_speaks_english_when_the_browser_asks(self, german, store):
        text = desk_client(store, accept_language="en").get("/desk/pickups/").content.decode()
        assert "Pickups" in text and "Abholungen" not in text

    def test_the_language_switcher_keeps_english_for_the_user(self, german, store):
        client = desk_client(store)
        switched = client.post("/i18n/setlang/", {"language": "en", "next": "/desk/returns/"})
        assert switched.status_code == 302 and switched["Location"] == "/desk/returns/"
        text = client.get("/desk/returns/").content.decode()
        assert "Returns counter" in text and "Rückgabetheke" not in text
        client.post("/i18n/setlang/", {"language": "de", "next": "/desk/returns/"})
        assert "Rückgabetheke" in client.get("/desk/returns/").content.decode()

    def test_a_bad_form_answers_in_the_users_language(self, german, store):
        order = pickup_order(store)
        url = f"/desk/orders/{order.number}/cancel/"
        german_page = desk_client(store).post(url, {"reason": ""}).content.decode()
        assert "Bitte angeben, warum die Bestellung storniert wird." in german_page
        english = desk_client(store, accept_language="en").post(url, {"reason": ""})
        assert "Say why the order is cancelled." in english.content.decode()

    def test_an_amount_to_pay_reads_as_german_money(self, german, store):
        order = ready_order(store, payment_status=PaymentStatus.PAY_AT_PICKUP)
        order.total = Decimal("1021.90")
        order.save(update_fields=["total"])
        page = desk_client(store).get("/desk/pickups/").content.decode()
        assert "1.021,90 €" in page and "EUR" not in page


class TestMoneyAndTime:
    @pytest.mark.parametrize(
        ("language", "expected"),
        [("de", "21,90 €"), ("en", "€21.90")],
    )
    def test_money_in_the_readers_language(self, language, expected):
        with translation.override(language):
            assert money(Decimal("21.9"), "EUR") == expected
            template = Template("{% load omnis %}{{ amount|money:'EUR' }}")
            assert template.render(Context({"amount": Decimal("21.90")})) == expected

    def test_money_groups_thousands_and_keeps_the_sign(self):
        with translation.override("de"):
            assert money(Decimal("-1234.5")) == "-1.234,50 €"
        with translation.override("en"):
            assert money(Decimal("-1234.5")) == "-€1,234.50"
            assert money(Decimal("3"), "CHF") == "CHF 3.00"
        assert money(None) == ""

    def test_one_format_per_kind_in_the_stores_time_zone(self):
        moment = datetime(2026, 5, 21, 16, 5, tzinfo=UTC)
        london = StoreFactory.build(time_zone="Europe/London")
        with translation.override("de"):
            assert local_datetime(moment, "Europe/Berlin") == "21.05.2026 18:05"
            assert local_datetime(moment, london) == "21.05.2026 17:05"
            assert local_date(moment, london) == "21.05.2026"
            assert local_time(moment, london) == "17:05"
        with translation.override("en"):
            assert local_datetime(moment, london) == "21 May 2026, 17:05"


@pytest.mark.django_db
class TestCustomerMessages:
    LONG_STORE = {
        "name": "Omnis Haus & Mode Einkaufszentrum am Alexanderplatz",
        "street": "Karl-Liebknecht-Straße 13, Eingang gegenüber der Weltzeituhr",
    }

    def test_a_german_customer_gets_a_german_ready_for_pickup_email(self, german, store):
        customer = CustomerFactory(first_name="Thomas", language="de")
        order = ready_order(store, customer=customer, payment_status=PaymentStatus.PAY_AT_PICKUP)
        [message] = [m for m in mail.outbox if order.pickup_code in m.subject]
        assert message.subject.startswith(f"Ihre Bestellung {order.number} ist bereit")
        assert message.body.startswith("Hallo Thomas,")
        assert money(order.total, "EUR").replace(".", "") in message.body.replace(".", "")
        assert "€" in message.body and "EUR" not in message.body
        assert "Hello" not in message.body
        html = message.alternatives[0][0]
        assert '<html lang="de">' in html and "Ihr Abholcode" in html

    def test_an_english_customer_gets_it_in_english_whatever_the_default(self, german, store):
        customer = CustomerFactory(first_name="Thomas", language="en")
        order = ready_order(store, customer=customer)
        [message] = [m for m in mail.outbox if order.pickup_code in m.subject]
        assert message.subject.startswith(f"Your order {order.number} is ready")
        assert message.body.startswith("Hello Thomas,")

    @pytest.mark.parametrize(("language", "words"), [("de", "Abholcode"), ("en", "Pickup code")])
    def test_the_sms_speaks_the_customers_language_in_one_gsm7_sms(self, german, language, words):
        store = StoreFactory(code="LNG-01", **self.LONG_STORE)
        customer = CustomerFactory(
            email=None, phone=MOBILE, contact_channel="sms", language=language
        )
        order = ready_order(store, customer=customer, payment_status=PaymentStatus.PAY_AT_PICKUP)
        text = sms.outbox[-1]["text"]
        assert sms.gsm7_length(text) <= 160 and sms.is_gsm7(text), text
        assert f"{words} {order.pickup_code}" in text

    def test_a_new_customer_speaks_the_deployments_language(self, german, phone_desk):
        response = phone_desk.post("/api/v1/customers/", {"email": "neu@example.de"}, format="json")
        assert response.status_code == 201 and response.json()["language"] == "de"
        changed = phone_desk.patch(
            f"/api/v1/customers/{response.json()['id']}/", {"language": "en"}, format="json"
        )
        assert changed.status_code == 200 and changed.json()["language"] == "en"

    def test_an_unknown_language_is_refused(self, phone_desk):
        response = phone_desk.post(
            "/api/v1/customers/", {"email": "x@example.de", "language": "fr"}, format="json"
        )
        assert response.status_code == 400
        assert "language" in response.json()["errors"]


@pytest.mark.django_db
class TestTheAdminAndTheApi:
    def test_the_login_page_is_branded_omnis(self, german):
        text = Client().get("/admin/login/").content.decode()
        assert "Omnis" in text and "Django" not in text
        assert "Anmelden" in text  # Django's own German for the button

    def test_the_api_keeps_its_english_contract_under_a_german_default(self, german):
        response = Client().get("/api/v1/orders/")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response.json()["detail"] == "Authentication credentials were not provided."
        assert "Content-Language" not in response
        asked_in_german = Client(headers={"accept-language": "de"}).get("/api/v1/orders/")
        assert asked_in_german.json()["detail"] == response.json()["detail"]
