"""The store directory: stores by code without a query per call, never staler than its TTL."""

import pytest

from stores import selectors
from stores.models import Store
from stores.selectors import active_warehouses, store_by_code
from tests.factories import StoreFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def test_an_active_store_by_its_code_read_once(django_assert_num_queries):
    berlin = StoreFactory(code="BER-01")
    StoreFactory(code="HAM-01", is_active=False)
    with django_assert_num_queries(1):
        assert store_by_code("BER-01").pk == berlin.pk
        assert store_by_code("HAM-01") is None  # closed
        assert store_by_code("XXX-99") is None
    with django_assert_num_queries(0):
        assert store_by_code("BER-01").name == berlin.name


def test_each_caller_gets_its_own_copy():
    StoreFactory(code="BER-01", name="Berlin Mitte")
    first = store_by_code("BER-01")
    first.name = "changed by a caller"
    first.distance_km = 3.2
    again = store_by_code("BER-01")
    assert again.name == "Berlin Mitte"
    assert not hasattr(again, "distance_km")


def test_a_store_saved_in_this_process_is_seen_at_once():
    store = StoreFactory(code="BER-01")
    assert store_by_code("BER-01") is not None
    store.is_active = False
    store.save()
    assert store_by_code("BER-01") is None
    StoreFactory(code="MUC-01")
    assert store_by_code("MUC-01") is not None


def test_a_change_made_elsewhere_is_seen_once_the_copy_is_older_than_its_ttl(settings, monkeypatch):
    settings.OMNIS_STORE_DIRECTORY_TTL_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(selectors, "monotonic", lambda: clock[0])
    StoreFactory(code="BER-01")
    assert store_by_code("BER-01") is not None
    # Another process closes the store (no signal reaches this one).
    Store.objects.filter(code="BER-01").update(is_active=False)
    clock[0] += 4
    assert store_by_code("BER-01") is not None  # still within the TTL
    clock[0] += 2
    assert store_by_code("BER-01") is None


def test_active_warehouses_by_code():
    WarehouseFactory(code="WH-NRD")
    WarehouseFactory(code="WH-SUD", is_active=False)
    WarehouseFactory(code="WH-MIT")
    StoreFactory(code="BER-01")
    assert [w.code for w in active_warehouses()] == ["WH-MIT", "WH-NRD"]
