"""common.compiled.CompiledQuery: a queryset compiled once per shape, then run with new values,
always giving what the queryset itself would; and the selectors built on it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.utils import timezone

from common.compiled import CompiledQuery
from customers.models import Customer
from customers.selectors import customer_by_id
from inventory.models import Variant
from inventory.selectors import variants_by_sku
from orders.models import Reservation, ReservationStatus
from tests.factories import CustomerFactory, StoreFactory, VariantFactory

pytestmark = pytest.mark.django_db


class Counting:
    """A build function that counts how often it is asked for a queryset (= compiled)."""

    def __init__(self, build):
        self.build, self.calls = build, 0

    def __call__(self, **values):
        self.calls += 1
        return self.build(**values)


def test_a_statement_is_the_querysets_own_sql_with_the_new_values_and_is_compiled_once():
    build = Counting(
        lambda sku, after: Variant.objects.filter(sku=sku, pk__gt=after, is_active=True).values(
            "pk"
        )
    )
    compiled = CompiledQuery(build)
    for sku, after in (("DRL-1", 5), ("SAW-2", 70), ("HAM-3", 5)):
        sql, params = compiled.statement(sku=sku, after=after)
        expected_sql, expected_params = build.build(sku=sku, after=after).query.sql_with_params()
        assert (sql, params) == (expected_sql, list(expected_params))
    assert build.calls == 1  # learned once with stand-ins, then only bound


def test_a_value_the_field_converts_is_compiled_every_time():
    VariantFactory(price=Decimal("7.50"))
    build = Counting(lambda price: Variant.objects.filter(price__gte=price).values_list("price"))
    compiled = CompiledQuery(build)

    assert compiled.rows(price=5) == [(Decimal("7.50"),)]
    assert compiled.rows(price=8) == []
    assert build.calls == 3  # the int came back a Decimal: the stand-in was never found


def test_rows_match_the_querysets_rows_with_values_converted_as_django_does():
    drill = VariantFactory(sku="DRL-00001", price=Decimal("99.90"), attributes={"size": "M"})
    VariantFactory(sku="DRL-00002", price=Decimal("5.00"))
    build = lambda skus: Variant.objects.filter(sku__in=skus).values_list(  # noqa: E731
        "sku", "price", "attributes"
    )
    compiled = CompiledQuery(build)

    rows = compiled.rows(skus=["DRL-00001"])

    assert (
        rows == list(build(skus=["DRL-00001"])) == [("DRL-00001", Decimal("99.90"), {"size": "M"})]
    )
    assert isinstance(rows[0][1], Decimal) and rows[0][2] == drill.attributes


def test_each_length_of_a_list_is_its_own_shape_and_duplicates_are_dropped_first():
    skus = [VariantFactory().sku for _ in range(3)]
    build = Counting(lambda skus: Variant.objects.filter(sku__in=skus).values_list("sku"))
    compiled = CompiledQuery(build)

    assert sorted(compiled.rows(skus=skus[:2])) == sorted((s,) for s in skus[:2])
    assert sorted(compiled.rows(skus=[skus[2], skus[0]])) == sorted([(skus[2],), (skus[0],)])
    assert sorted(compiled.rows(skus=[skus[1], skus[1], skus[2]])) == sorted(
        [(skus[1],), (skus[2],)]
    )
    assert sorted(compiled.rows(skus=skus)) == sorted((s,) for s in skus)
    assert build.calls == 2  # two elements (three times, once with a duplicate), three elements


def test_an_empty_list_gives_no_rows_and_no_statement():
    VariantFactory()
    compiled = CompiledQuery(lambda skus: Variant.objects.filter(sku__in=skus).values_list("sku"))

    assert compiled.rows(skus=[]) == []
    with pytest.raises(EmptyResultSet):
        compiled.statement(skus=[])


def test_a_value_written_into_the_sql_itself_is_compiled_every_time_and_still_right():
    for n in range(4):
        VariantFactory(sku=f"SKU-{n}")
    build = Counting(lambda n: Variant.objects.order_by("sku").values_list("sku")[:n])
    compiled = CompiledQuery(build)

    assert compiled.rows(n=1) == [("SKU-0",)]
    assert compiled.rows(n=3) == [("SKU-0",), ("SKU-1",), ("SKU-2",)]
    assert build.calls == 3  # the stand-in was not among the parameters: never reused


def test_a_datetime_is_bound_where_the_adapter_leaves_it_alone_and_compiled_where_not():
    customer, store = CustomerFactory(), StoreFactory()
    now = timezone.now()
    for hours in (1, 3):
        Reservation.objects.create(
            customer=customer,
            store=store,
            status=ReservationStatus.ACTIVE,
            expires_at=now + timedelta(hours=hours),
        )
    build = Counting(
        lambda customer, now: Reservation.objects.filter(
            customer_id=customer, expires_at__gt=now
        ).values_list("pk")
    )
    compiled = CompiledQuery(build)

    assert len(compiled.rows(customer=customer.pk, now=now)) == 2
    assert len(compiled.rows(customer=customer.pk, now=now + timedelta(hours=2))) == 1
    assert len(compiled.rows(customer=customer.pk, now=now + timedelta(hours=4))) == 0
    # PostgreSQL takes the datetime as it is; SQLite's adapter turns it into text first.
    assert build.calls == (1 if connection.vendor == "postgresql" else 4)


def test_a_boolean_is_refused_it_is_a_constant_of_the_statement_not_a_value():
    compiled = CompiledQuery(lambda active: Variant.objects.filter(is_active=active).values("pk"))
    with pytest.raises(TypeError):
        compiled.statement(active=True)


def test_variants_by_sku_gives_each_active_variant_with_its_product_in_one_query(
    django_assert_num_queries,
):
    drill = VariantFactory(attributes={"size": "XL"})
    saw = VariantFactory()
    VariantFactory(sku="OLD-1", is_active=False)

    with django_assert_num_queries(1):
        found = variants_by_sku([drill.sku, saw.sku, "OLD-1", "NOPE-1", drill.sku])
        labels = {sku: (v.label, v.product.name, v.product.category_id) for sku, v in found.items()}

    assert set(found) == {drill.sku, saw.sku}
    reference = Variant.objects.select_related("product").get(pk=drill.pk)
    assert found[drill.sku].__dict__.keys() == reference.__dict__.keys()
    for field in Variant._meta.concrete_fields:
        assert getattr(found[drill.sku], field.attname) == getattr(reference, field.attname)
    assert labels[drill.sku] == (
        reference.label,
        reference.product.name,
        reference.product.category_id,
    )
    assert found[drill.sku]._state.adding is False
    assert variants_by_sku([]) == {}


def test_customer_by_id_is_the_customer_unless_unknown_or_merged():
    kept, merged = CustomerFactory(), CustomerFactory()
    Customer.objects.filter(pk=merged.pk).update(merged_into=kept)

    found = customer_by_id(kept.pk)

    assert found == kept and found.email == kept.email and found._state.adding is False
    assert customer_by_id(merged.pk) is None
    assert customer_by_id(10**12) is None


def test_a_stand_in_beyond_the_fields_range_never_reads_as_no_rows(monkeypatch):
    """Django answers a lookup beyond a column's range with no rows (EmptyResultSet) rather
    than SQL: learning with such a stand-in must fall back to compiling, not to no rows."""
    from common import compiled as module

    monkeypatch.setattr(module, "_BASE_INT", 2**63 + 1_000)
    drill = VariantFactory()
    build = Counting(lambda pk: Variant.objects.filter(pk=pk).values_list("sku"))
    compiled = CompiledQuery(build)

    assert compiled.rows(pk=drill.pk) == [(drill.sku,)]
    assert compiled.rows(pk=drill.pk) == [(drill.sku,)]
    assert build.calls == 3  # the learning failed once, then compiled for each call


def test_objects_are_model_instances_with_their_related_rows_as_select_related_loads_them():
    store = StoreFactory()
    customer = CustomerFactory()
    hold = Reservation.objects.create(
        customer=customer,
        store=store,
        status=ReservationStatus.ACTIVE,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    compiled = CompiledQuery(
        lambda customer: Reservation.objects.select_related("customer", "store").filter(
            customer_id=customer
        )
    )

    (found,) = compiled.objects(customer=customer.pk)

    assert found == hold and found._state.adding is False and found._state.db == "default"
    assert found.customer.email == customer.email and found.store.code == store.code
    assert compiled.objects(customer=customer.pk + 1000) == []
    assert compiled.first(customer=customer.pk) == hold
    assert compiled.first(customer=customer.pk + 1000) is None
    values = CompiledQuery(lambda pk: Reservation.objects.filter(pk=pk).values_list("pk"))
    with pytest.raises(TypeError):
        values.objects(pk=hold.pk)


def test_a_list_longer_than_a_hundred_is_compiled_every_time_and_kept_nowhere():
    skus = [VariantFactory().sku for _ in range(3)]
    build = Counting(lambda skus: Variant.objects.filter(sku__in=skus).values_list("sku"))
    compiled = CompiledQuery(build)
    asked = skus + [f"NONE-{n}" for n in range(120)]

    assert sorted(compiled.rows(skus=asked)) == sorted((s,) for s in skus)
    assert sorted(compiled.rows(skus=asked)) == sorted((s,) for s in skus)
    assert build.calls == 2 and compiled._shapes == {}
