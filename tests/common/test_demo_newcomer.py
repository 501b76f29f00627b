"""What a newcomer meets in `make run`: journey 2 ready at the trade centre, the links on the real
port, the logins last, a demo loaded once, and e-mails and SMS as one line each."""

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from common import sms
from common.devmail import SummaryFileBackend
from common.management.commands.serve_demo import Command as ServeDemo
from inventory.demo import JOURNEY_SKUS
from inventory.models import StockItem, TransferStatus
from orders.models import Order, OrderStatus
from stores.models import Store

pytestmark = pytest.mark.django_db

THOMAS = "thomas.becker@example.de"


def seed(*extra: str) -> str:
    out = StringIO()
    call_command(
        "seed_demo", "--products", "20", "--customers", "5", *extra, stdout=out, stderr=StringIO()
    )
    return out.getvalue()


def test_journey_two_waits_at_the_trade_centre_ready_and_by_transfer():
    seed()

    drills = Order.objects.filter(customer__email=THOMAS).order_by("pk")
    ready, coming = drills
    assert ready.status == OrderStatus.READY_FOR_PICKUP and ready.pickup_store.code == "CGN-01"
    assert ready.pickup_code and [ln.sku for ln in ready.lines.all()] == [JOURNEY_SKUS["drill"]]
    assert coming.status == OrderStatus.PLACED and coming.pickup_store.code == "CGN-01"
    transfer = coming.transfer
    assert (transfer.from_store.code, transfer.to_store.code) == ("WHS-01", "CGN-01")
    assert transfer.status == TransferStatus.IN_TRANSIT
    # Journey 1: the caller's own store has none of the poster's shirt.
    assert not StockItem.objects.filter(
        variant__sku=JOURNEY_SKUS["shirt_m"], store__code="HAM-01", on_hand__gt=0
    ).exists()

    seed()
    assert list(Order.objects.filter(customer__email=THOMAS).order_by("pk")) == [ready, coming]


def test_the_summary_uses_the_port_and_ends_with_the_logins():
    output = seed("--port", "8123")

    assert "http://127.0.0.1:8123/desk/" in output and ":8000" not in output
    ready = Order.objects.get(customer__email=THOMAS, status=OrderStatus.READY_FOR_PICKUP)
    assert f"OMNIS-PICKUP:{ready.number}:{ready.pickup_code}" in output
    tail = output.rstrip().splitlines()
    logins = next(i for i, line in enumerate(tail) if line.startswith("Logins"))
    assert "omnis-demo" in tail[logins]
    assert all(line.startswith("  ") for line in tail[logins + 1 :])
    assert {line.split()[0] for line in tail[logins + 1 :]} >= {"berlin", "manager", "admin"}


def test_once_leaves_a_loaded_demo_alone():
    seed()
    orders, stores = Order.objects.count(), Store.objects.count()

    output = seed("--once", "--no-summary")

    assert "The demo is loaded" in output and "Logins" not in output
    assert (Order.objects.count(), Store.objects.count()) == (orders, stores)


def test_once_seeds_an_empty_database():
    seed("--once")
    assert Order.objects.filter(customer__email=THOMAS).count() == 2


def test_serve_demo_prints_the_logins_once_it_listens_on_the_bound_port():
    seed()
    out = StringIO()
    command = ServeDemo(stdout=out)
    command.addr, command._raw_ipv6 = "127.0.0.1", False

    command.on_bind(8456)

    printed = out.getvalue()
    assert printed.index("Starting development server") < printed.index("Logins")
    assert "http://127.0.0.1:8456/desk/" in printed
    assert printed.rstrip().splitlines()[-1].startswith("  anna.schmidt@example.de")


def test_an_email_is_written_to_a_file_and_announced_in_one_line(tmp_path, capsys):
    message = mail.EmailMessage("Your order is ready", "Code ABC123", to=["anna@example.de"])

    sent = SummaryFileBackend(file_path=str(tmp_path)).send_messages([message])

    assert sent == 1
    (written,) = tmp_path.iterdir()
    assert "Code ABC123" in written.read_text()
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1
    assert "anna@example.de" in printed and "Your order is ready" in printed
    assert "Code ABC123" not in printed


def test_an_sms_is_written_to_a_file_and_announced_in_one_line(settings, tmp_path, capsys):
    settings.EMAIL_FILE_PATH = str(tmp_path)
    text = "Omnis: Ihre Reservierung 12 liegt bis Samstag 20:00 in BER-01 bereit. " * 2

    sms.SummaryFileBackend().send("+491701234567", text)

    assert text in (tmp_path / "sms.log").read_text()
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and printed.startswith("SMS to +491701234567: ")
    assert len(printed) < len(text) + 20


def test_make_run_settings_keep_the_console_quiet():
    from config.settings import local

    assert local.EMAIL_BACKEND == "common.devmail.SummaryFileBackend"
    assert local.SMS_BACKEND == "common.sms.SummaryFileBackend"
    assert local.LOGGING["loggers"]["celery.app.trace"]["level"] == "WARNING"
