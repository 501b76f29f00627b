import pytest

from customers.models import Customer, ServiceNote, TimelineEvent
from tests.factories import CustomerFactory, VariantFactory

pytestmark = pytest.mark.django_db


class TestFindOrCreate:
    def test_new_person_is_201_and_the_same_person_is_200_with_the_same_id(self, web, phone_desk):
        created = web.post(
            "/api/v1/customers/",
            {"email": " Anna.Schmidt@Example.DE ", "first_name": "Anna"},
            format="json",
        )
        assert created.status_code == 201
        assert created.json()["email"] == "anna.schmidt@example.de"
        again = phone_desk.post(
            "/api/v1/customers/",
            {"email": "anna.schmidt@example.de", "phone": "030 1234567"},
            format="json",
        )
        assert again.status_code == 200
        assert again.json()["id"] == created.json()["id"]
        # Unverified input never adds an identifier to a known customer.
        assert again.json()["phone"] is None
        assert Customer.objects.get().phone is None
        assert Customer.objects.count() == 1

    def test_phone_in_any_format_is_the_same_customer(self, web):
        first = web.post("/api/v1/customers/", {"phone": "+49 30 1234567"}, format="json")
        for variant in ("030 1234567", "0049301234567", "030/123 45 67"):
            response = web.post("/api/v1/customers/", {"phone": variant}, format="json")
            assert response.status_code == 200, variant
            assert response.json()["id"] == first.json()["id"]

    def test_unreadable_phone_is_400_on_the_field_and_writes_nothing(self, web):
        response = web.post("/api/v1/customers/", {"phone": "12", "first_name": "X"}, format="json")
        assert response.status_code == 400
        assert response.json()["type"] == "validation_error"
        assert "phone" in response.json()["errors"]
        assert Customer.objects.count() == 0

    def test_bad_email_is_400(self, web):
        response = web.post("/api/v1/customers/", {"email": "not-an-address"}, format="json")
        assert response.status_code == 400
        assert "email" in response.json()["errors"]

    def test_neither_email_nor_phone_is_400(self, web):
        response = web.post("/api/v1/customers/", {"first_name": "Anna"}, format="json")
        assert response.status_code == 400
        assert "email" in response.json()["errors"]

    def test_email_of_one_and_phone_of_another_customer_is_409(self, web):
        CustomerFactory(email="a@example.de", phone="+49301111111")
        CustomerFactory(email="b@example.de", phone="+49302222222")
        response = web.post(
            "/api/v1/customers/", {"email": "a@example.de", "phone": "030 2222222"}, format="json"
        )
        assert response.status_code == 409
        assert response.json()["code"] == "customer_conflict"

    def test_unknown_preferred_store_is_400(self, web):
        response = web.post(
            "/api/v1/customers/",
            {"email": "a@example.de", "preferred_store": "XXX-99"},
            format="json",
        )
        assert response.status_code == 400
        assert "preferred_store" in response.json()["errors"]
        assert Customer.objects.count() == 0


class TestLookup:
    def test_phone_lookup_in_local_format_finds_e164(self, phone_desk):
        anna = CustomerFactory(phone="+49301234567", first_name="Anna")
        CustomerFactory(phone="+49309999999")
        response = phone_desk.get("/api/v1/customers/", {"phone": "030 1234567"})
        assert response.status_code == 200
        assert [c["id"] for c in response.json()["results"]] == [anna.pk]

    def test_email_lookup_ignores_case(self, web):
        anna = CustomerFactory(email="anna@example.de")
        response = web.get("/api/v1/customers/", {"email": "ANNA@example.de"})
        assert [c["id"] for c in response.json()["results"]] == [anna.pk]

    def test_unparseable_phone_finds_nobody(self, web):
        CustomerFactory()
        assert web.get("/api/v1/customers/", {"phone": "abc"}).json()["count"] == 0

    def test_lookup_needs_a_criterion(self, web):
        response = web.get("/api/v1/customers/")
        assert response.status_code == 400

    def test_staff_can_look_up_customers(self, staff):
        CustomerFactory(phone="+49301234567")
        assert staff.get("/api/v1/customers/", {"phone": "030 1234567"}).json()["count"] == 1

    def test_unknown_customer_is_404(self, web):
        response = web.get("/api/v1/customers/999999/")
        assert response.status_code == 404
        assert response.json()["type"] == "not_found"


class TestNotesAndTimeline:
    def test_a_note_appears_on_the_timeline_newest_first(self, phone_desk, staff):
        customer = CustomerFactory()
        phone_desk.post(
            f"/api/v1/customers/{customer.pk}/touchpoints/",
            {
                "kind": "product_view",
                "channel": "web",
                "sku": VariantFactory(sku="SHIRT-M-BLUE").sku,
            },
            format="json",
        )
        note = phone_desk.post(
            f"/api/v1/customers/{customer.pk}/notes/",
            {"text": "Complicated return, agreed full refund", "channel": "phone"},
            format="json",
        )
        assert note.status_code == 201
        # The store sees what the phone desk wrote: nobody has to explain twice.
        timeline = staff.get(f"/api/v1/customers/{customer.pk}/timeline/").json()["results"]
        assert timeline[0]["kind"] == "note"
        assert timeline[0]["summary"] == "Complicated return, agreed full refund"
        assert timeline[0]["channel"] == "phone"
        assert timeline[0]["actor"] == "phone-desk"
        assert timeline[1]["kind"] == "product_view"
        assert timeline[1]["sku"] == "SHIRT-M-BLUE"

    def test_empty_note_is_400_and_writes_nothing(self, web):
        customer = CustomerFactory()
        response = web.post(
            f"/api/v1/customers/{customer.pk}/notes/", {"text": "   "}, format="json"
        )
        assert response.status_code == 400
        assert "text" in response.json()["errors"]
        assert ServiceNote.objects.count() == 0

    def test_touchpoint_with_unknown_sku_is_400(self, web):
        customer = CustomerFactory()
        response = web.post(
            f"/api/v1/customers/{customer.pk}/touchpoints/",
            {"kind": "product_view", "sku": "NOPE-1"},
            format="json",
        )
        assert response.status_code == 400
        assert "sku" in response.json()["errors"]
        assert not TimelineEvent.objects.filter(kind="product_view").exists()

    @pytest.mark.parametrize("at", ["0165-05-21T19:34:02-00:41", "9999-12-31T23:00:00+00:00"])
    def test_touchpoint_at_a_time_that_cannot_be_is_400(self, web, at):
        # Year 165 was answered in Berlin's local mean time (+00:53:28), no valid date-time.
        customer = CustomerFactory()
        response = web.post(
            f"/api/v1/customers/{customer.pk}/touchpoints/",
            {"kind": "touchpoint", "at": at},
            format="json",
        )
        assert response.status_code == 400
        assert "at" in response.json()["errors"]
        assert not TimelineEvent.objects.filter(kind="touchpoint").exists()

    def test_timeline_has_a_fixed_query_count(self, web, django_assert_max_num_queries):
        customer = CustomerFactory()
        for i in range(3):
            web.post(
                f"/api/v1/customers/{customer.pk}/notes/", {"text": f"note {i}"}, format="json"
            )
        with django_assert_max_num_queries(6):
            assert web.get(f"/api/v1/customers/{customer.pk}/timeline/").status_code == 200
        for i in range(30):
            web.post(
                f"/api/v1/customers/{customer.pk}/notes/", {"text": f"more {i}"}, format="json"
            )
        with django_assert_max_num_queries(6):
            assert (
                len(
                    web.get(f"/api/v1/customers/{customer.pk}/timeline/?page_size=50").json()[
                        "results"
                    ]
                )
                == 33
            )


class TestProfileAndWishlist:
    def test_customer_sees_and_changes_own_profile(self, customer_api):
        response = customer_api.patch(
            "/api/v1/me/", {"sizes": {"shirts": "M"}, "marketing_consent": True}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["sizes"] == {"shirts": "M"}
        # Marketing by e-mail counts once the link sent to the address is opened (double opt-in).
        assert response.json()["marketing_consent"] is False
        assert response.json()["consents"][0]["status"] == "awaiting_confirmation"
        assert customer_api.get("/api/v1/me/").json()["id"] == customer_api.customer.pk

    def test_shared_list_staff_addition_shows_the_staff_name(self, customer_api, staff, store):
        sofa, lamp = VariantFactory(), VariantFactory()
        assert (
            customer_api.post("/api/v1/me/wishlist/", {"sku": sofa.sku}, format="json").status_code
            == 201
        )
        added = staff.post(
            f"/api/v1/customers/{customer_api.customer.pk}/wishlist/",
            {"sku": lamp.sku, "note": "Matches the sofa", "store": store.code},
            format="json",
        )
        assert added.status_code == 201
        items = customer_api.get("/api/v1/me/wishlist/").json()
        assert [i["sku"] for i in items] == [lamp.sku, sofa.sku]
        assert items[0]["note"] == "Matches the sofa"
        assert items[0]["added_by"] == staff.user.get_full_name()

    def test_unknown_sku_on_wishlist_is_400(self, customer_api):
        response = customer_api.post("/api/v1/me/wishlist/", {"sku": "NOPE-1"}, format="json")
        assert response.status_code == 400
        assert "sku" in response.json()["errors"]

    def test_remove_from_wishlist(self, customer_api):
        sofa = VariantFactory()
        customer_api.post("/api/v1/me/wishlist/", {"sku": sofa.sku}, format="json")
        assert customer_api.delete(f"/api/v1/me/wishlist/{sofa.sku}/").status_code == 204
        assert customer_api.get("/api/v1/me/wishlist/").json() == []

    def test_channel_client_has_no_me(self, web):
        assert web.get("/api/v1/me/").status_code == 403


class TestNameSearchIsForTheServiceDesk:
    """`?q=a` must not page through every customer's e-mail and phone."""

    @pytest.fixture
    def people(self, db):
        return [
            CustomerFactory(first_name="Anna", last_name="Schmidt"),
            CustomerFactory(first_name="Bernd", last_name="Schmitz"),
        ]

    def api(self, store, role):
        from common.auth import issue_user_token
        from tests.conftest import token_client
        from tests.factories import staff_user

        return token_client(issue_user_token(staff_user(store, role=role)))

    def test_a_service_agent_searches_by_name_with_three_characters(self, people, store):
        agent = self.api(store, "service_agent")
        response = agent.get("/api/v1/customers/", {"q": "Schmidt"})
        assert response.status_code == 200
        assert [c["id"] for c in response.json()["results"]] == [people[0].pk]
        short = agent.get("/api/v1/customers/", {"q": "a"})
        assert short.status_code == 400
        assert "q" in short.json()["errors"]

    def test_a_manager_may_too(self, people, store):
        response = self.api(store, "manager").get("/api/v1/customers/", {"q": "Schmi"})
        assert response.status_code == 200
        assert response.json()["count"] == 2

    def test_store_staff_and_channel_clients_may_not(self, people, store, web):
        assert (
            self.api(store, "store_staff").get("/api/v1/customers/", {"q": "Schmidt"}).status_code
            == 403
        )
        assert web.get("/api/v1/customers/", {"q": "Schmidt"}).status_code == 403

    def test_store_staff_find_a_customer_by_exact_phone_or_email(self, store):
        anna = CustomerFactory(phone="+49301234567", email="anna@example.de")
        staff = self.api(store, "store_staff")
        by_phone = staff.get("/api/v1/customers/", {"phone": "030 1234567"})
        by_email = staff.get("/api/v1/customers/", {"email": "ANNA@example.de"})
        assert [c["id"] for c in by_phone.json()["results"]] == [anna.pk]
        assert [c["id"] for c in by_email.json()["results"]] == [anna.pk]
