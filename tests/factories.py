"""factory_boy factories for every app (German data, valid SKUs and EAN-13 barcodes)."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from factory.django import DjangoModelFactory

from common.auth import create_api_client_key
from common.models import ApiClient, Channel
from customers.models import Customer
from inventory.models import Category, Product, Variant
from inventory.validators import ean13_check_digit
from stores.models import StaffRole, Store, StoreMembership

User = get_user_model()


def ean13(n: int) -> str:
    first12 = f"400{n:09d}"
    return first12 + str(ean13_check_digit(first12))


class StoreFactory(DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("code",)

    code = factory.Sequence(
        lambda n: (
            f"TST-{n % 100:02d}"
            if n < 100
            else f"T{chr(65 + n // 100 % 26)}{chr(65 + n // 2600 % 26)}-{n % 100:02d}"
        )
    )
    name = factory.LazyAttribute(lambda o: f"Teststore {o.code}")
    street = factory.Faker("street_address", locale="de_DE")
    postcode = factory.Faker("postcode", locale="de_DE")
    city = "Berlin"
    latitude = Decimal("52.520008")
    longitude = Decimal("13.404954")
    opening_hours = factory.LazyFunction(
        lambda: (
            {d: [["09:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
            | {"sun": []}
        )
    )


class WarehouseFactory(StoreFactory):
    name = factory.LazyAttribute(lambda o: f"Lager {o.code}")
    is_warehouse = True
    sells_in_store = False
    offers_pickup = False
    accepts_returns = True
    takes_reservations = False


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="de_DE")
    last_name = factory.Faker("last_name", locale="de_DE")
    email = factory.LazyAttribute(lambda o: f"{o.username}@omnis.example")
    password = factory.django.Password("secret-pass-123")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = StoreMembership

    user = factory.SubFactory(UserFactory)
    store = factory.SubFactory(StoreFactory)
    role = StaffRole.STORE_STAFF


def staff_user(*stores: Store, role: str = StaffRole.STORE_STAFF, **kwargs):
    """A staff login working in the given stores, in its role's group (as create_staff does)."""
    from django.contrib.auth.models import Group

    from stores.services import ensure_staff_groups

    user = UserFactory(**kwargs)
    user.is_staff = True
    user.save()
    for store in stores:
        StoreMembership.objects.create(user=user, store=store, role=role)
    group = Group.objects.filter(name=role).first() or ensure_staff_groups()[role]
    user.groups.add(group)
    return user


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Produkt {n}")
    brand = "Omnis"
    category = factory.SubFactory(CategoryFactory)


class VariantFactory(DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    ean = factory.Sequence(ean13)
    attributes = factory.LazyFunction(lambda: {"size": "M", "colour": "blau"})
    price = Decimal("19.90")


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer
        skip_postgeneration_save = True

    first_name = factory.Faker("first_name", locale="de_DE")
    last_name = factory.Faker("last_name", locale="de_DE")
    email = factory.Sequence(lambda n: f"kunde{n}@example.de")
    phone = factory.Sequence(lambda n: f"+4930{5000000 + n}")
    source_channel = Channel.WEB

    @factory.post_generation
    def confirmed_marketing_email(obj, create, extracted, **kwargs):
        """`marketing_consent=True` is what a confirmed consent to marketing e-mail leaves on the
        record (customers.privacy.consents), so a factory customer with it has that consent."""
        if create and obj.marketing_consent and obj.email:
            from customers.models import Consent

            at = obj.marketing_consent_at or timezone.now()
            Consent.objects.get_or_create(
                customer=obj,
                purpose="marketing",
                channel="email",
                withdrawn_at=None,
                defaults={"source": obj.source_channel, "given_at": at, "confirmed_at": at},
            )


def api_client_with_key(
    name: str | None = None, channel: str = Channel.WEB
) -> tuple[ApiClient, str]:
    name = name or f"client-{ApiClient.objects.count() + 1}-{channel}"
    return create_api_client_key(name=name, channel=channel)
