from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from inventory.models import StockItem, Variant
from inventory.validators import ean13_check_digit, validate_ean13
from stores.models import Store
from tests.factories import ProductFactory, StoreFactory, VariantFactory


def test_ean13_check_digit():
    assert ean13_check_digit("400638133393") == 1
    validate_ean13("4006381333931")


@pytest.mark.parametrize(
    "bad", ["4006381333932", "400638133393", "40063813339311", "ABCDEFGHIJKLM"]
)
def test_bad_ean_is_refused(bad):
    with pytest.raises(ValidationError):
        validate_ean13(bad)


@pytest.mark.django_db
class TestVariant:
    def test_valid_variant(self):
        Variant(
            product=ProductFactory(),
            sku="SHIRT-M-BLUE",
            ean="4006381333931",
            price=Decimal("29.90"),
        ).full_clean()

    @pytest.mark.parametrize("sku", ["shirt-m", "-SHIRT", "A", "SHIRT M", "X" * 40])
    def test_bad_sku_format_has_a_clear_message(self, sku):
        with pytest.raises(ValidationError) as exc:
            Variant(
                product=ProductFactory(), sku=sku, ean="4006381333931", price=Decimal("1")
            ).full_clean()
        assert "sku" in exc.value.message_dict

    def test_bad_ean_checksum(self):
        with pytest.raises(ValidationError) as exc:
            Variant(
                product=ProductFactory(), sku="SHIRT-M", ean="4006381333932", price=Decimal("1")
            ).full_clean()
        assert "check digit" in exc.value.message_dict["ean"][0]

    def test_negative_price_is_refused(self):
        with pytest.raises(ValidationError) as exc:
            Variant(
                product=ProductFactory(), sku="SHIRT-M", ean="4006381333931", price=Decimal("-1")
            ).full_clean()
        assert "price" in exc.value.message_dict


@pytest.mark.django_db
class TestStockConstraints:
    def test_reserved_above_on_hand_is_refused_by_the_database(self):
        item = StockItem.objects.create(variant=VariantFactory(), store=StoreFactory(), on_hand=2)
        with pytest.raises(IntegrityError), transaction.atomic():
            StockItem.objects.filter(pk=item.pk).update(reserved=3)

    def test_negative_quantities_are_refused_by_the_database(self):
        item = StockItem.objects.create(variant=VariantFactory(), store=StoreFactory(), on_hand=2)
        with pytest.raises(IntegrityError), transaction.atomic():
            StockItem.objects.filter(pk=item.pk).update(on_hand=-1)

    def test_one_stock_item_per_sku_and_store(self):
        variant, store = VariantFactory(), StoreFactory()
        StockItem.objects.create(variant=variant, store=store)
        with pytest.raises(IntegrityError), transaction.atomic():
            StockItem.objects.create(variant=variant, store=store)


@pytest.mark.django_db
class TestStoreValidation:
    def test_store_code_and_time_zone_and_hours(self):
        store = StoreFactory.build(
            code="berlin", time_zone="Mars/Olympus", opening_hours={"mon": [["20:00", "09:00"]]}
        )
        with pytest.raises(ValidationError) as exc:
            store.full_clean()
        assert {"code", "time_zone", "opening_hours"} <= set(exc.value.message_dict)

    def test_default_hold_cannot_exceed_maximum(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            StoreFactory(default_hold_hours=200, max_hold_hours=100)
        assert not Store.objects.filter(default_hold_hours=200).exists()
