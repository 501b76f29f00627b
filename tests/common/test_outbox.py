"""The outbox: a side effect commits with its change, is carried out after commit, retried with
backoff, parked as dead after its attempts, and never carried out twice."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from common import outbox
from common.models import OutboxMessage, OutboxStatus
from orders.models.orders import Order
from tests.factories import CustomerFactory
from tests.orders.factories_orders import committed, stocked_variant

CALLS: list[dict] = []
FAILURES = {"left": 0}


@outbox.handler("tests.record")
def record(**payload) -> None:
    CALLS.append({**payload, "in_request": outbox._in_request()})


@outbox.handler("tests.flaky", max_attempts=3)
def flaky(**payload) -> None:
    if FAILURES["left"] > 0:
        FAILURES["left"] -= 1
        raise ConnectionError("provider unreachable")
    CALLS.append(payload)


@outbox.handler("tests.patient", give_up_after=timedelta(hours=24), max_attempts=1000)
def patient(**payload) -> None:
    raise TimeoutError("still down")


NOTED: list[dict] = []


def note_failure(*, error, dead, **payload) -> None:
    from common.models import SentNotification

    # A write of its own: kept although the handler's savepoint was rolled back.
    SentNotification.objects.create(key=f"failed-{len(NOTED)}", template="x", recipient="y")
    NOTED.append({"error": str(error), "dead": dead, **payload})


@outbox.handler("tests.noted", max_attempts=2, on_failure=note_failure)
def noted(**payload) -> None:
    from common.models import SentNotification

    SentNotification.objects.create(key="written-then-rolled-back", template="x", recipient="y")
    raise ConnectionError("refused")


@pytest.fixture(autouse=True)
def reset():
    CALLS.clear()
    NOTED.clear()
    FAILURES["left"] = 0


def later(minutes: int):
    return timezone.now() + timedelta(minutes=minutes)


class TestEnqueue:
    def test_a_rolled_back_change_leaves_no_side_effect(self, db):
        with committed(), pytest.raises(RuntimeError), transaction.atomic():
            outbox.enqueue("tests.record", {"n": 1})
            raise RuntimeError("the change failed")
        assert not OutboxMessage.objects.exists()
        assert CALLS == []

    def test_is_carried_out_after_commit_outside_a_request(self, db):
        with committed():
            outbox.enqueue("tests.record", {"n": 1})
            assert CALLS == [], "nothing may happen inside the transaction"
        assert CALLS == [{"n": 1, "in_request": False}]
        message = OutboxMessage.objects.get()
        assert message.status == OutboxStatus.SENT
        assert message.attempts == 1 and message.sent_at is not None

    def test_a_key_makes_the_message_unique(self, db):
        with committed():
            outbox.enqueue("tests.record", {"n": 1}, key="once")
            outbox.enqueue("tests.record", {"n": 2}, key="once")
        assert OutboxMessage.objects.count() == 1
        assert CALLS == [{"n": 1, "in_request": False}]

    def test_an_unknown_topic_is_refused_when_written(self, db):
        with pytest.raises(LookupError):
            outbox.enqueue("tests.nobody-handles-this", {})


@pytest.mark.django_db(transaction=True)
def test_in_a_request_the_message_is_rendered_after_the_response(web, store, monkeypatch):
    """The embedded default: the order is answered first, then its e-mail is rendered and sent."""
    seen = []
    original = outbox._HANDLERS["orders.send_order_confirmation"]

    def confirmation(**payload):
        seen.append({"in_request": outbox._in_request(), "mails": len(mail.outbox)})
        original.function(**payload)

    monkeypatch.setitem(
        outbox._HANDLERS,
        "orders.send_order_confirmation",
        outbox.Handler(original.topic, confirmation, None, None),
    )
    variant = stocked_variant(store, 3)
    customer = CustomerFactory(email="after.response@example.de")
    response = web.post(
        "/api/v1/orders/",
        {
            "customer": customer.pk,
            "fulfilment": "pickup",
            "pickup_store": store.code,
            "lines": [{"sku": variant.sku, "quantity": 1}],
            "payment_status": "pay_at_pickup",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert seen == [{"in_request": False, "mails": 0}]
    assert [m.to for m in mail.outbox] == [["after.response@example.de"]]
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT


class TestRetries:
    def test_a_failing_handler_is_retried_with_backoff_then_succeeds(self, db):
        FAILURES["left"] = 2
        with committed():
            outbox.enqueue("tests.flaky", {"n": 7})
        message = OutboxMessage.objects.get()
        assert message.status == OutboxStatus.PENDING
        assert message.attempts == 1
        assert "provider unreachable" in message.last_error
        first_wait = message.next_attempt_at - timezone.now()
        assert timedelta(seconds=20) < first_wait <= timedelta(seconds=30)

        assert outbox.sweep() == {}, "not due yet: nothing is tried"
        assert outbox.sweep(now=later(1)) == {"retry": 1}
        message.refresh_from_db()
        assert message.attempts == 2
        assert message.next_attempt_at - later(1) > timedelta(seconds=50), "the wait doubles"

        assert outbox.sweep(now=later(10)) == {"sent": 1}
        assert CALLS == [{"n": 7}]
        assert outbox.sweep(now=later(60)) == {}, "a sent message is never carried out again"
        assert CALLS == [{"n": 7}]

    def test_after_its_attempts_it_is_dead_and_can_be_sent_again(self, db):
        FAILURES["left"] = 10
        with committed():
            outbox.enqueue("tests.flaky", {"n": 1})
        outbox.sweep(now=later(5))
        outbox.sweep(now=later(60))
        message = OutboxMessage.objects.get()
        assert message.status == OutboxStatus.DEAD and message.attempts == 3
        assert outbox.sweep(now=later(600)) == {}, "the dead are not retried by themselves"

        FAILURES["left"] = 0
        with committed():
            assert outbox.retry_dead([message.pk]) == 1
        message.refresh_from_db()
        assert message.status == OutboxStatus.SENT
        assert CALLS == [{"n": 1}]

    def test_on_failure_records_each_failure_after_the_rollback_and_knows_the_last(self, db):
        from common.models import SentNotification

        with committed():
            message_id = outbox.enqueue("tests.noted", {"n": 3})
        outbox.sweep(now=later(5))

        assert OutboxMessage.objects.get(pk=message_id).status == OutboxStatus.DEAD
        assert NOTED == [
            {"error": "refused", "dead": False, "n": 3},
            {"error": "refused", "dead": True, "n": 3},
        ]
        assert list(SentNotification.objects.values_list("key", flat=True).order_by("key")) == [
            "failed-0",
            "failed-1",
        ]

    def test_a_handler_with_a_time_limit_gives_up_after_it(self, db):
        with committed():
            outbox.enqueue("tests.patient", {})
        assert outbox.sweep(now=later(23 * 60)) == {"retry": 1}
        assert outbox.sweep(now=later(24 * 60 + 1)) == {"dead": 1}

    def test_a_message_whose_topic_lost_its_handler_is_dead_not_stuck(self, db):
        OutboxMessage.objects.create(topic="tests.gone", next_attempt_at=timezone.now())
        assert outbox.sweep() == {"dead": 1}
        assert "No outbox handler" in OutboxMessage.objects.get().last_error


class TestCommand:
    def test_lists_pending_and_dead_and_retries(self, db):
        FAILURES["left"] = 10
        with committed():
            outbox.enqueue("tests.flaky", {"n": 1})
            outbox.enqueue("tests.record", {"n": 2})
        pending = StringIO()
        call_command("outbox", "--pending", stdout=pending)
        assert "tests.flaky" in pending.getvalue() and "1 pending message(s)." in pending.getvalue()

        outbox.sweep(now=later(5))
        outbox.sweep(now=later(60))
        dead = OutboxMessage.objects.get(status=OutboxStatus.DEAD)
        listing = StringIO()
        call_command("outbox", "--dead", stdout=listing)
        assert str(dead.pk) in listing.getvalue() and "provider unreachable" in listing.getvalue()

        with pytest.raises(CommandError, match="Not dead"):
            call_command("outbox", "--retry", str(dead.pk + 1000))
        FAILURES["left"] = 0
        out = StringIO()
        with committed():
            call_command("outbox", "--retry", str(dead.pk), stdout=out)
        assert "1 message(s) queued again." in out.getvalue()
        dead.refresh_from_db()
        assert dead.status == OutboxStatus.SENT


class TestAdmin:
    def test_dead_messages_are_listed_and_retried_by_the_manager(self, db, admin_client):
        FAILURES["left"] = 10
        with committed():
            outbox.enqueue("tests.flaky", {"n": 1})
        outbox.sweep(now=later(5))
        outbox.sweep(now=later(60))
        dead = OutboxMessage.objects.get()
        page = admin_client.get("/admin/common/outboxmessage/?status__exact=dead")
        assert page.status_code == 200 and b"tests.flaky" in page.content
        FAILURES["left"] = 0
        with committed():
            response = admin_client.post(
                "/admin/common/outboxmessage/",
                {"action": "retry", "_selected_action": [dead.pk]},
            )
        assert response.status_code == 302
        dead.refresh_from_db()
        assert dead.status == OutboxStatus.SENT


def test_services_write_their_messages_in_their_own_transaction(db, store):
    """Placing an order writes the confirmation as an outbox row, not a task call."""
    from tests.orders.factories_orders import pickup_order

    order = pickup_order(store)
    message = OutboxMessage.objects.get(topic="orders.send_order_confirmation")
    assert message.payload == {"order_id": order.pk}
    assert message.status == OutboxStatus.SENT
    assert Order.objects.filter(pk=order.pk).exists()
