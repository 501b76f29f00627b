"""Audit: change history with who acted (customers, stores, memberships, API clients, refunds),
safety stock changes, login events with address and agent; all read-only in the admin."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common.actor import Actor
from common.models import ApiClient, Channel, LoginEvent, LoginEventKind
from customers.models import Customer
from inventory.models import SafetyStockChange, StockItem
from inventory.services import set_safety_stock
from orders.models import Refund
from stores.models import StaffRole, Store, StoreMembership
from tests.factories import (
    CustomerFactory,
    StoreFactory,
    UserFactory,
    VariantFactory,
    api_client_with_key,
    staff_user,
)
from tests.inventory.factories_stock import stocked
from tests.orders.factories_returns import bought, staff_api

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"  # tests.factories.UserFactory's
BROWSER = "Mozilla/5.0 (Kasse 3)"


def admin_url(model, view: str, *args) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def history_tables_written(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("INSERT")
        and ("historical" in q["sql"].lower() or "safetystockchange" in q["sql"].lower())
    ]


# --- change history --------------------------------------------------------------------------


class TestWhoChangedWhat:
    def test_a_customer_changed_by_a_staff_token_names_the_login(self, agent):
        customer = CustomerFactory(phone="+49301234567")
        response = agent.patch(
            f"/api/v1/customers/{customer.pk}/", {"first_name": "Anna"}, format="json"
        )
        assert response.status_code == 200, response.json()

        last = customer.history.latest("history_id")
        assert last.history_type == "~" and last.first_name == "Anna"
        assert last.history_user == agent.user and last.history_client is None

    def test_a_customer_created_by_the_webshop_names_the_client(self, web):
        response = web.post("/api/v1/customers/", {"email": "neu@example.de"}, format="json")
        assert response.status_code == 201, response.json()

        row = Customer.history.get(id=response.json()["id"])
        assert row.history_type == "+"
        assert row.history_client == web.api_client and row.history_user is None

    def test_a_customer_login_changing_its_profile_is_named(self, customer_api):
        response = customer_api.patch("/api/v1/me/", {"postcode": "10115"}, format="json")
        assert response.status_code == 200

        last = customer_api.customer.history.latest("history_id")
        assert last.postcode == "10115" and last.history_user == customer_api.user

    def test_a_merge_leaves_history_on_both_records_with_the_actor(self, agent):
        survivor = CustomerFactory(email="anna@example.de", phone=None)
        duplicate = CustomerFactory(email=None, phone="+49301112233")
        agent.user.user_permissions.add(Permission.objects.get(codename="merge_customer"))

        response = agent.post(
            f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json"
        )
        assert response.status_code == 200, response.json()

        alias = duplicate.history.latest("history_id")
        assert alias.merged_into_id == survivor.pk and alias.history_user == agent.user
        kept = survivor.history.latest("history_id")
        assert kept.phone == "+49301112233" and kept.history_user == agent.user

    def test_a_store_changed_in_the_admin_names_the_admin(self, admin_client, admin_user):
        store = StoreFactory(code="BER-01")
        data = {
            "code": store.code,
            "name": "Berlin Mitte (neu)",
            "is_active": "on",
            "street": store.street,
            "postcode": store.postcode,
            "city": store.city,
            "country": store.country,
            "latitude": str(store.latitude),
            "longitude": str(store.longitude),
            "time_zone": store.time_zone,
            "opening_hours": json.dumps(store.opening_hours),
            "default_hold_hours": store.default_hold_hours,
            "max_hold_hours": store.max_hold_hours,
            "max_hold_extensions": store.max_hold_extensions,
            "pickup_window_days": store.pickup_window_days,
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        }
        response = admin_client.post(admin_url(Store, "change", store.pk), data)
        assert response.status_code == 302, response.context["adminform"].form.errors

        last = store.history.latest("history_id")
        assert last.name == "Berlin Mitte (neu)" and last.history_user == admin_user

    def test_a_membership_added_in_the_admin_names_the_admin(self, admin_client, admin_user):
        store, user = StoreFactory(code="BER-01"), UserFactory(is_staff=True)
        response = admin_client.post(
            admin_url(StoreMembership, "add"),
            {"user": user.pk, "store": store.pk, "role": StaffRole.MANAGER},
        )
        assert response.status_code == 302

        row = StoreMembership.history.get()
        assert row.history_type == "+" and row.role == StaffRole.MANAGER
        assert row.history_user == admin_user

    def test_api_client_history_names_the_admin_and_never_holds_the_key_hash(
        self, admin_client, admin_user
    ):
        response = admin_client.post(
            admin_url(ApiClient, "add"), {"name": "app-backend", "channel": "app"}
        )
        assert response.status_code == 302
        client = ApiClient.objects.get(name="app-backend")
        admin_client.post(
            admin_url(ApiClient, "changelist"),
            {"action": "revoke", "_selected_action": [client.pk]},
        )

        rows = list(client.history.order_by("history_id"))
        assert [(r.history_type, r.is_active) for r in rows] == [("+", True), ("~", False)]
        assert {r.history_user for r in rows} == {admin_user}
        columns = [f.column for f in ApiClient.history.model._meta.fields]
        assert "key_hash" not in columns and "key_prefix" in columns
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {ApiClient.history.model._meta.db_table}")
            stored = json.dumps(cursor.fetchall(), default=str)
        assert client.key_hash not in stored

    def test_a_refund_names_the_manager_who_gave_it(self, store, web):
        shirt = VariantFactory(price=Decimal("30.00"))
        order = bought(store=store, lines=[(shirt, 1, "30.00")])
        manager = staff_api(store, role=StaffRole.MANAGER)
        announced = web.post(
            "/api/v1/returns/",
            {
                "order": order.number,
                "store": store.code,
                "lines": [
                    {"order_line": order.lines.get().pk, "quantity": 1, "reason": "too_small"}
                ],
            },
            format="json",
        ).json()
        line = announced["lines"][0]["id"]
        manager.post(
            f"/api/v1/staff/returns/{announced['id']}/receive/",
            {"lines": [{"return_line": line, "condition": "resellable"}]},
            format="json",
        )
        response = manager.post(
            f"/api/v1/staff/returns/{announced['id']}/refund/",
            {"method": "store_credit"},
            format="json",
        )
        assert response.status_code == 200, response.json()

        refund = Refund.objects.get()
        created = refund.history.earliest("history_id")
        assert created.history_type == "+" and created.history_user == manager.user
        assert refund.history.count() >= 1


class TestSafetyStock:
    def test_a_change_in_the_admin_is_recorded_with_who_from_what_to_what(self, client, store):
        variant = VariantFactory()
        item = stocked(variant, store, 5)
        staff = staff_user(store)
        staff.user_permissions.add(
            *Permission.objects.filter(codename__in=["view_stockitem", "change_stockitem"])
        )
        client.force_login(staff)

        response = client.post(
            admin_url(StockItem, "changelist"),
            {
                "action": "change_safety_stock",
                "_selected_action": [item.pk],
                "apply": "1",
                "quantity": 2,
            },
        )

        assert response.status_code == 302
        change = SafetyStockChange.objects.get()
        assert (change.stock_item, change.old_quantity, change.new_quantity) == (item, 0, 2)
        assert change.actor_user == staff and change.actor_client is None

    def test_a_client_is_named_and_an_unchanged_value_writes_nothing(self, store):
        webshop, _ = api_client_with_key("webshop", Channel.WEB)
        variant = VariantFactory()
        stocked(variant, store, 5, safety_stock=1)
        actor = Actor(client=webshop, channel=Channel.WEB)

        before = SafetyStockChange.objects.count()
        set_safety_stock(actor=actor, store=store, variant=variant, quantity=1)
        assert SafetyStockChange.objects.count() == before
        set_safety_stock(actor=actor, store=store, variant=variant, quantity=3)

        change = SafetyStockChange.objects.latest("id")
        assert (change.old_quantity, change.new_quantity) == (1, 3)
        assert change.actor_client == webshop and change.actor_user is None

    def test_reserving_and_selling_write_no_history_row(self, phone_desk, store, staff):
        variant = VariantFactory()
        stocked(variant, store, 5)
        customer = CustomerFactory()

        with CaptureQueriesContext(connection) as reserving:
            response = phone_desk.post(
                "/api/v1/reservations/",
                {
                    "store": store.code,
                    "customer": customer.pk,
                    "lines": [{"sku": variant.sku, "quantity": 2}],
                },
                format="json",
            )
        assert response.status_code == 201, response.json()
        with CaptureQueriesContext(connection) as ordering:
            response = phone_desk.post(
                "/api/v1/orders/",
                {
                    "customer": customer.pk,
                    "fulfilment": "pickup",
                    "pickup_store": store.code,
                    "payment_status": "pay_at_pickup",
                    "lines": [{"sku": variant.sku, "quantity": 1}],
                },
                format="json",
            )
        assert response.status_code == 201, response.json()

        assert history_tables_written(reserving.captured_queries) == []
        assert history_tables_written(ordering.captured_queries) == []
        assert not SafetyStockChange.objects.exists()


# --- login events ----------------------------------------------------------------------------


def admin_login(client: Client, username: str, password: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        HTTP_USER_AGENT=BROWSER,
        REMOTE_ADDR="192.0.2.10",
    )


class TestLoginEvents:
    def test_an_admin_login_and_a_failed_one_are_recorded_with_address_and_agent(self, store):
        user = staff_user(store)
        assert admin_login(Client(), user.username, "wrong-guess").status_code == 200
        assert admin_login(Client(), user.username, PASSWORD).status_code == 302

        failed, login = LoginEvent.objects.order_by("id")
        assert (failed.kind, failed.username, failed.user) == ("login_failed", user.username, None)
        assert (login.kind, login.user) == ("login", user)
        for event in (failed, login):
            assert (event.ip, event.user_agent, event.path) == (
                "192.0.2.10",
                BROWSER,
                "/admin/login/",
            )

    def test_the_token_endpoint_records_a_token_issued_not_a_login(self, anon, store):
        user = staff_user(store)
        url = "/api/v1/auth/token/"
        extra = {
            "HTTP_USER_AGENT": "webshop-sync/2.1",
            "REMOTE_ADDR": "198.51.100.7",
            # Sent by the caller itself: not trusted without NUM_PROXIES.
            "HTTP_X_FORWARDED_FOR": "203.0.113.99",
        }
        body = {"username": user.username, "password": "wrong-guess"}
        assert anon.post(url, body, format="json", **extra).status_code == 401
        body["password"] = PASSWORD
        assert anon.post(url, body, format="json", **extra).status_code == 200

        events = list(LoginEvent.objects.order_by("id").values_list("kind", "user", "ip", "path"))
        assert events == [
            (LoginEventKind.LOGIN_FAILED, None, "198.51.100.7", url),
            (LoginEventKind.TOKEN_ISSUED, user.pk, "198.51.100.7", url),
        ]
        assert set(LoginEvent.objects.values_list("user_agent", flat=True)) == {"webshop-sync/2.1"}

    def test_a_locked_out_attempt_is_a_failed_login(self, anon, store, settings):
        settings.AXES_FAILURE_LIMIT = 1
        user = staff_user(store)
        body = {"username": user.username, "password": "wrong-guess"}
        anon.post("/api/v1/auth/token/", body, format="json")
        body["password"] = PASSWORD
        assert anon.post("/api/v1/auth/token/", body, format="json").status_code == 403

        assert list(LoginEvent.objects.values_list("kind", flat=True)) == ["login_failed"] * 2

    def test_logout_with_a_token_is_recorded(self, staff):
        response = staff.post("/api/v1/auth/logout/", HTTP_USER_AGENT="Kassen-App")
        assert response.status_code == 204

        event = LoginEvent.objects.get()
        assert (event.kind, event.user, event.user_agent, event.ip) == (
            "logout",
            staff.user,
            "Kassen-App",
            "127.0.0.1",
        )

    def test_logout_of_an_admin_session_is_recorded(self, admin_client, admin_user):
        assert admin_client.post("/admin/logout/").status_code == 200

        event = LoginEvent.objects.get(kind="logout")
        assert (event.kind, event.user) == ("logout", admin_user)


# --- read-only in the admin ------------------------------------------------------------------


class TestReadOnlyInTheAdmin:
    def test_history_pages_render_and_a_revert_is_refused(self, admin_client, admin_user):
        store = StoreFactory(code="BER-01")
        customer = CustomerFactory(first_name="Anna", phone="+49301234567")
        customer.first_name = "Änne"
        customer.save()
        webshop, _ = api_client_with_key("webshop", Channel.WEB)
        membership = StoreMembership.objects.create(user=admin_user, store=store)
        for obj in (store, customer, webshop, membership):
            model = type(obj)
            page = admin_client.get(admin_url(model, "history", obj.pk))
            assert page.status_code == 200, model
            version = obj.history.earliest("history_id")
            assert (
                admin_client.get(admin_url(model, "simple_history", obj.pk, version.pk))
            ).status_code == 200, model

        first = customer.history.earliest("history_id")
        page = admin_client.get(admin_url(Customer, "simple_history", customer.pk, first.pk))
        assert b"Revert" not in page.content
        form = page.context["adminform"].form
        data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
        data.update({"sizes": "{}", "favourite_categories": "[]"})
        for prefix in ("notes", "wishlist", "store_credit", "timeline"):
            data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"
        response = admin_client.post(
            admin_url(Customer, "simple_history", customer.pk, first.pk), data
        )

        assert response.status_code == 403
        customer.refresh_from_db()
        assert customer.first_name == "Änne" and customer.history.count() == 2

    def test_refund_history_renders(self, admin_client, store):
        order = bought(store=store)
        refund = Refund.objects.create(order=order, method="store_credit", amount=Decimal("1"))
        assert admin_client.get(admin_url(Refund, "history", refund.pk)).status_code == 200

    def test_login_events_and_safety_stock_changes_cannot_be_changed(self, admin_client, store):
        event = LoginEvent.objects.create(kind="login", username="berlin", ip="192.0.2.1")
        variant = VariantFactory()
        stocked(variant, store, 2)
        set_safety_stock(actor=Actor.system(), store=store, variant=variant, quantity=1)
        change = SafetyStockChange.objects.get()

        for model, obj in ((LoginEvent, event), (SafetyStockChange, change)):
            assert admin_client.get(admin_url(model, "changelist")).status_code == 200
            assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200
            assert admin_client.post(admin_url(model, "change", obj.pk), {}).status_code == 403
            assert admin_client.get(admin_url(model, "add")).status_code == 403
        assert (
            admin_client.get(admin_url(LoginEvent, "changelist"), {"kind": "login"}).status_code
            == 200
        )
        event.refresh_from_db()
        assert event.username == "berlin"
