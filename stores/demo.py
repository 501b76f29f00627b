"""The demo retailer's locations: five stores and the central warehouse."""

from decimal import Decimal

from stores.models import Store

SHOP_HOURS = {day: [["10:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")} | {
    "sun": []
}
TRADE_HOURS = {day: [["07:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": [["08:00", "18:00"]],
    "sun": [],
}
WAREHOUSE_HOURS = {day: [["06:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": [["06:00", "14:00"]],
    "sun": [],
}

TRADE_CENTRE = "CGN-01"
WAREHOUSE = "WHS-01"

DEMO_STORES = [
    {
        "code": "BER-01",
        "name": "Berlin Alexanderplatz",
        "street": "Karl-Liebknecht-Straße 13",
        "postcode": "10178",
        "city": "Berlin",
        "phone": "+49302400100",
        "latitude": Decimal("52.521918"),
        "longitude": Decimal("13.413215"),
        "opening_hours": SHOP_HOURS,
    },
    {
        "code": "HAM-01",
        "name": "Hamburg Mönckebergstraße",
        "street": "Mönckebergstraße 7",
        "postcode": "20095",
        "city": "Hamburg",
        "phone": "+49403009100",
        "latitude": Decimal("53.550720"),
        "longitude": Decimal("10.000950"),
        "opening_hours": SHOP_HOURS,
    },
    {
        "code": "MUC-01",
        "name": "München Kaufingerstraße",
        "street": "Kaufingerstraße 14",
        "postcode": "80331",
        "city": "München",
        "phone": "+49892366100",
        "latitude": Decimal("48.137390"),
        "longitude": Decimal("11.573470"),
        "opening_hours": SHOP_HOURS,
    },
    {
        # Journey 2: tradespeople order tools online and collect them here from 7 o'clock.
        "code": TRADE_CENTRE,
        "name": "Köln Profi-Center (trade centre)",
        "street": "Widdersdorfer Straße 190",
        "postcode": "50825",
        "city": "Köln",
        "phone": "+492214900100",
        "latitude": Decimal("50.949850"),
        "longitude": Decimal("6.905020"),
        "opening_hours": TRADE_HOURS,
        "default_hold_hours": 24,
        "max_hold_hours": 72,
    },
    {
        "code": "FRA-01",
        "name": "Frankfurt Zeil",
        "street": "Zeil 90",
        "postcode": "60313",
        "city": "Frankfurt am Main",
        "phone": "+49692998100",
        "latitude": Decimal("50.114580"),
        "longitude": Decimal("8.683010"),
        "opening_hours": SHOP_HOURS,
    },
    {
        "code": WAREHOUSE,
        "name": "Zentrallager Kassel",
        "street": "Heinrich-Hertz-Straße 30",
        "postcode": "34123",
        "city": "Kassel",
        "phone": "+495615070100",
        "latitude": Decimal("51.293000"),
        "longitude": Decimal("9.524000"),
        "opening_hours": WAREHOUSE_HOURS,
        # Ships orders and transfers and takes mail returns; customers never come here.
        "is_warehouse": True,
        "sells_in_store": False,
        "offers_pickup": False,
        "takes_reservations": False,
        "accepts_returns": True,
    },
]


def seed_stores() -> dict[str, Store]:
    """Create the demo stores, or bring them back to the demo's data. Returns them by code."""
    stores = {}
    for data in DEMO_STORES:
        data = dict(data)
        code = data.pop("code")
        store = Store.objects.filter(code=code).first() or Store(code=code)
        for field, value in data.items():
            setattr(store, field, value)
        store.full_clean()
        store.save()
        stores[code] = store
    return stores
