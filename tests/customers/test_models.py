import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import strategies as st

from customers.models import Customer
from customers.normalise import normalise_email, normalise_phone


@pytest.mark.parametrize(
    "raw",
    [
        "030 1234567",
        "+49 30 1234567",
        "0049 30 1234567",
        "(030) 123-4567",
        "+49301234567",
        "030/1234567",
    ],
)
def test_phone_numbers_are_stored_in_e164(raw):
    assert normalise_phone(raw) == "+49301234567"


@pytest.mark.parametrize("raw", ["12", "hello", "+49 0", "030"])
def test_unreadable_phone_numbers_are_refused_with_a_message(raw):
    with pytest.raises(ValidationError) as exc:
        normalise_phone(raw)
    assert "phone number" in exc.value.messages[0]


def test_foreign_numbers_keep_their_country():
    assert normalise_phone("+43 1 5131234") == "+4315131234"


def test_email_is_lower_cased_and_trimmed():
    assert normalise_email("  Anna.Schmidt@Example.DE ") == "anna.schmidt@example.de"


@given(st.integers(min_value=1000000, max_value=9999999))
def test_berlin_numbers_normalise_the_same_from_every_format(number):
    local = f"030 {number}"
    assert normalise_phone(local) == normalise_phone(f"+4930{number}") == f"+4930{number}"


@pytest.mark.django_db
class TestCustomerModel:
    def test_clean_normalises_and_requires_contact(self):
        customer = Customer(first_name="Anna", email="ANNA@EXAMPLE.DE", phone="030 1234567")
        customer.full_clean()
        assert (customer.email, customer.phone) == ("anna@example.de", "+49301234567")
        with pytest.raises(ValidationError) as exc:
            Customer(first_name="Nobody").full_clean()
        assert "email" in exc.value.message_dict

    def test_email_and_phone_are_unique_when_present(self):
        Customer.objects.create(email="a@example.de")
        Customer.objects.create(phone="+49301234567")
        # Several customers may lack an e-mail or a phone: NULL is not a duplicate.
        Customer.objects.create(phone="+49301234568")
        with pytest.raises(IntegrityError), transaction.atomic():
            Customer.objects.create(email="a@example.de")
        with pytest.raises(IntegrityError), transaction.atomic():
            Customer.objects.create(phone="+49301234567")

    def test_database_refuses_a_customer_without_contact(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            Customer.objects.create(first_name="Nobody")
