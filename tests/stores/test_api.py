import pytest

from tests.factories import (
    CategoryFactory,
    ProductFactory,
    StoreFactory,
    VariantFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db


def test_stores_list_with_pickup_filter_and_distance(web):
    StoreFactory(code="BER-01", latitude="52.520008", longitude="13.404954")
    StoreFactory(code="HAM-01", latitude="53.550341", longitude="10.000654")
    StoreFactory(code="MUC-01", latitude="48.137154", longitude="11.576124")
    WarehouseFactory(code="WHS-01", latitude="51.312711", longitude="9.479746")
    all_stores = web.get("/api/v1/stores/").json()
    assert all_stores["count"] == 4
    pickup = web.get("/api/v1/stores/", {"pickup": "true"}).json()["results"]
    assert {s["code"] for s in pickup} == {"BER-01", "HAM-01", "MUC-01"}
    near_hamburg = web.get("/api/v1/stores/", {"pickup": "true", "near": "53.55,10.0"}).json()[
        "results"
    ]
    assert [s["code"] for s in near_hamburg] == ["HAM-01", "BER-01", "MUC-01"]
    assert near_hamburg[0]["distance_km"] < 1
    assert 250 < near_hamburg[1]["distance_km"] < 300


@pytest.mark.parametrize("near", ["abc", "52.5", "95,10"])
def test_bad_near_is_400(web, near):
    response = web.get("/api/v1/stores/", {"near": near})
    assert response.status_code == 400
    assert "near" in response.json()["errors"]


def test_products_search_by_name_sku_and_barcode(web):
    shirts = CategoryFactory(slug="shirts", name="Hemden")
    shirt = ProductFactory(name="Oxford Hemd", category=shirts)
    m = VariantFactory(product=shirt, sku="OXF-M-BLUE", attributes={"size": "M", "colour": "blau"})
    VariantFactory(product=ProductFactory(name="Akkuschrauber"), sku="DRILL-18V")
    assert [p["sku"] for p in web.get("/api/v1/products/", {"q": "oxford"}).json()["results"]] == [
        "OXF-M-BLUE"
    ]
    assert (
        web.get("/api/v1/products/", {"q": "DRILL-18V"}).json()["results"][0]["name"]
        == "Akkuschrauber"
    )
    by_barcode = web.get("/api/v1/products/", {"q": m.ean}).json()["results"]
    assert by_barcode[0]["sku"] == "OXF-M-BLUE"
    assert by_barcode[0]["price"] == "19.90"
    assert by_barcode[0]["attributes"] == {"size": "M", "colour": "blau"}
    assert web.get("/api/v1/products/", {"category": "shirts"}).json()["count"] == 1


def test_products_page_size_is_capped_and_query_count_fixed(web, django_assert_max_num_queries):
    for _ in range(5):
        VariantFactory()
    with django_assert_max_num_queries(4):
        web.get("/api/v1/products/?page_size=5")
    for _ in range(110):
        VariantFactory()
    with django_assert_max_num_queries(4):
        response = web.get("/api/v1/products/?page_size=500")
    assert len(response.json()["results"]) == 100
    assert response.json()["count"] == 115


def test_an_empty_boolean_filter_is_a_400_not_no_filter(web, store):
    response = web.get("/api/v1/stores/", {"pickup": ""})
    assert response.status_code == 400
    assert "pickup" in response.json()["errors"]
