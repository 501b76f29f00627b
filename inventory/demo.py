"""The demo retailer's catalogue and opening stock.

The catalogue is plain data (bulk-created); stock only goes in through inventory.services, so the
ledger explains every unit. Everything is derived from the product's number, so a second run
finds what the first one created and adds nothing.
"""

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from common.actor import Actor
from inventory.models import Category, CauseType, Product, StockMovement, Variant
from inventory.services import receive, set_safety_stock
from inventory.validators import ean13_check_digit
from stores.models import Store

DEMO_CAUSE_ID = "demo-opening-stock"
SEED = 2026

COLOURS = {
    "weiß": "WEI",
    "schwarz": "SWZ",
    "navy": "NAV",
    "hellblau": "HBL",
    "grau": "GRA",
    "olivgrün": "OLI",
    "beige": "BEI",
    "bordeaux": "BOR",
}
FINISHES = {"Eiche natur": "EIC", "Nussbaum": "NUS", "weiß matt": "WEI", "anthrazit": "ANT"}
LETTER_SIZES = ["S", "M", "L", "XL"]
TROUSER_SIZES = ["W30L32", "W32L32", "W34L32", "W36L34"]
SHOE_SIZES = ["38", "39", "40", "41", "42", "43", "44", "45"]


@dataclass(frozen=True)
class CategoryPlan:
    slug: str
    name: str
    prefix: str
    kind: str  # fashion, shoes, trousers, tools, furniture, home
    items: tuple[str, ...]
    brands: tuple[str, ...]
    price_range: tuple[int, int]
    models: tuple[str, ...] = ("Classic", "Essential", "Premium", "Urban", "Nordic", "Heritage")


CATEGORIES = (
    CategoryPlan(
        "shirts",
        "Hemden & Shirts",
        "HEM",
        "fashion",
        (
            "Oxford-Hemd Slim Fit",
            "Leinenhemd",
            "Flanellhemd",
            "Businesshemd bügelfrei",
            "Jeanshemd",
            "Poloshirt Piqué",
            "T-Shirt Bio-Baumwolle",
            "Henley-Shirt",
        ),
        ("Nordlicht", "Hanse & Co.", "Spreeform"),
        (19, 69),
    ),
    CategoryPlan(
        "trousers",
        "Hosen",
        "HOS",
        "trousers",
        ("Chino Stretch", "Jeans Regular Fit", "Jeans Slim Fit", "Cordhose", "Cargohose"),
        ("Hanse & Co.", "Spreeform", "Alpenstoff"),
        (49, 99),
    ),
    CategoryPlan(
        "shoes",
        "Schuhe",
        "SCH",
        "shoes",
        (
            "Sneaker Low Leder",
            "Chelsea Boots",
            "Laufschuh Air",
            "Halbschuh Derby",
            "Wanderschuh Gore-Tex",
            "Loafer Wildleder",
        ),
        ("Laufwerk", "Alpenstoff", "Nordlicht"),
        (59, 159),
    ),
    CategoryPlan(
        "jackets",
        "Jacken",
        "JAC",
        "fashion",
        ("Regenjacke", "Daunenjacke", "Softshelljacke", "Jeansjacke", "Steppjacke", "Parka"),
        ("Fjordhaus", "Alpenstoff", "Hanse & Co."),
        (69, 249),
    ),
    CategoryPlan(
        "tools",
        "Werkzeug",
        "WZ",
        "tools",
        (
            "Akku-Bohrschrauber 18V",
            "Akku-Schlagschrauber 18V",
            "Schlagbohrmaschine 850W",
            "Stichsäge 650W",
            "Winkelschleifer 125 mm",
            "Werkzeugkoffer 108-tlg.",
            "Wasserwaage 80 cm",
            "Laser-Entfernungsmesser",
        ),
        ("Rheinkraft", "Profimax"),
        (19, 229),
        ("Pro", "Compact", "Heavy Duty", "Basic", "Expert", "Plus"),
    ),
    CategoryPlan(
        "furniture",
        "Möbel",
        "MOE",
        "furniture",
        ("Esstisch", "Bücherregal", "Ohrensessel", "Sideboard", "Couchtisch", "Esszimmerstuhl"),
        ("Eichwald", "Fjordhaus"),
        (89, 899),
        ("Bergen", "Lund", "Visby", "Aarhus", "Tromsø", "Malmö"),
    ),
    CategoryPlan(
        "home",
        "Wohnen",
        "WOH",
        "home",
        ("Kissenhülle Leinen", "Wolldecke", "Stehleuchte", "Vase Steingut", "Bettwäsche-Set"),
        ("Eichwald", "Fjordhaus", "Spreeform"),
        (14, 129),
        ("Lino", "Alma", "Greta", "Ida", "Mats", "Nele"),
    ),
)

# SKUs the customer journeys of /work/shared/journeys.md are told with (see the seed's summary).
JOURNEY_SKUS = {
    "shirt_m": "HEM-0001-M-WEI",  # 4: sizes follow the customer (Anna wears M)
    "drill": "WZ-0005-SOLO",  # 2: a tradesperson collects at the trade centre
    "drill_from_warehouse": "WZ-0005-SET",  # 2: none at the trade centre, the warehouse ships it
    "shoes_last_pair": "SCH-0003-39-SWZ",  # 5: only one pair left in her size in Berlin
    "furniture_table": "MOE-0006-EIC",  # 6: the shared list
    "furniture_shelf": "MOE-0013-EIC",
}


@dataclass
class VariantPlan:
    sku: str
    ean: str
    attributes: dict
    price: Decimal


@dataclass
class ProductPlan:
    number: int
    category: CategoryPlan
    name: str
    brand: str
    description: str
    variants: list[VariantPlan] = field(default_factory=list)


def ean13(product_number: int, variant_number: int) -> str:
    # 42 is a German GS1 prefix; product and variant numbers make the code unique.
    first12 = f"42{product_number:06d}{variant_number:04d}"
    return first12 + str(ean13_check_digit(first12))


def _variant_axes(plan: CategoryPlan, item: str, rng: random.Random) -> list[tuple[dict, str]]:
    """(attributes, SKU suffix) for each variant of a product of this category."""
    colours = list(COLOURS.items())
    if plan.kind in ("fashion", "trousers", "shoes"):
        sizes = {"fashion": LETTER_SIZES, "trousers": TROUSER_SIZES, "shoes": SHOE_SIZES}[plan.kind]
        if plan.kind == "shoes":
            # The first shoe is black so that the journeys' SKUs are fixed.
            picked = [colours[1]] if item == plan.items[0] else rng.sample(colours, 1)
        else:
            picked = colours[:2] if item == plan.items[0] else rng.sample(colours, 2)
        return [
            ({"size": size, "colour": colour}, f"{size}-{code}")
            for colour, code in picked
            for size in sizes
        ]
    if plan.kind == "tools":
        if item.startswith("Akku"):
            return [({"edition": "Solo"}, "SOLO"), ({"edition": "Set mit 2 Akkus"}, "SET")]
        return [({"edition": "Standard"}, "STD")]
    if plan.kind == "furniture":
        finishes = list(FINISHES.items())
        # Oak always, and one other finish.
        return [({"finish": name}, code) for name, code in [finishes[0], rng.choice(finishes[1:])]]
    return [({"colour": name}, code) for name, code in rng.sample(colours, 3)]


def catalogue_plan(products: int) -> list[ProductPlan]:
    """The first `products` products of the demo catalogue, the same on every run."""
    result = []
    for index in range(products):
        number = index + 1
        plan = CATEGORIES[index % len(CATEGORIES)]
        rng = random.Random(SEED * 1000 + number)
        round_ = index // len(CATEGORIES)
        item = plan.items[round_ % len(plan.items)]
        model = plan.models[(round_ // len(plan.items)) % len(plan.models)]
        brand = plan.brands[round_ % len(plan.brands)]
        low, high = plan.price_range
        price = Decimal(rng.randint(low, high)) + Decimal("0.90")
        product = ProductPlan(
            number=number,
            category=plan,
            name=f"{item} {model}",
            brand=brand,
            description=f"{item} von {brand}, Modell {model}.",
        )
        for v_index, (attributes, suffix) in enumerate(_variant_axes(plan, item, rng)):
            # A set with two batteries costs more than the tool alone.
            extra = Decimal("60.00") if suffix == "SET" else Decimal("0")
            product.variants.append(
                VariantPlan(
                    sku=f"{plan.prefix}-{number:04d}-{suffix}",
                    ean=ean13(number, v_index + 1),
                    attributes=attributes,
                    price=price + extra,
                )
            )
        result.append(product)
    return result


def seed_catalogue(products: int, progress: Callable[[Iterable], Iterable] = iter) -> list[Variant]:
    """Categories, products and variants of the demo (missing ones only). Returns its variants."""
    categories = {}
    for plan in CATEGORIES:
        category, _ = Category.objects.get_or_create(slug=plan.slug, defaults={"name": plan.name})
        categories[plan.slug] = category

    plans = catalogue_plan(products)
    all_skus = [v.sku for p in plans for v in p.variants]
    existing = set(Variant.objects.filter(sku__in=all_skus).values_list("sku", flat=True))
    missing = [p for p in plans if any(v.sku not in existing for v in p.variants)]
    # A product whose first SKU exists was created by an earlier run: only its missing SKUs are new.
    product_of = dict(
        Variant.objects.filter(sku__in=[p.variants[0].sku for p in missing]).values_list(
            "sku", "product_id"
        )
    )
    new_products = [p for p in missing if p.variants[0].sku not in product_of]
    created = Product.objects.bulk_create(
        [
            Product(
                name=p.name,
                brand=p.brand,
                description=p.description,
                category=categories[p.category.slug],
            )
            for p in new_products
        ]
    )
    for plan, product in zip(new_products, created, strict=True):
        product_of[plan.variants[0].sku] = product.pk

    variants = []
    for plan in progress(missing):
        product_id = product_of[plan.variants[0].sku]
        for v in plan.variants:
            if v.sku in existing:
                continue
            variant = Variant(
                product_id=product_id,
                sku=v.sku,
                ean=v.ean,
                attributes=v.attributes,
                price=v.price,
            )
            variant.full_clean(exclude=["product"], validate_unique=False)
            variants.append(variant)
    Variant.objects.bulk_create(variants, batch_size=500)
    return list(Variant.objects.filter(sku__in=all_skus).select_related("product__category"))


def stock_plan(
    variants: list[Variant], stores: dict[str, Store], warehouse: str, trade_centre: str
) -> dict[tuple[str, str], tuple[int, int]]:
    """(SKU, store code) -> (opening quantity, safety stock), with variety.

    Fashion is in most stores (some scarce, some sold out), tools mainly at the trade centre,
    furniture as single display pieces, and the warehouse deep in everything.
    """
    plan: dict[tuple[str, str], tuple[int, int]] = {}
    shops = [code for code, store in stores.items() if not store.is_warehouse]
    for variant in sorted(variants, key=lambda v: v.sku):
        rng = random.Random(f"{SEED}-{variant.sku}")
        kind = variant.sku.split("-")[0]
        if warehouse in stores:
            deep = rng.randint(5, 30) if kind == "MOE" else rng.randint(40, 200)
            plan[(variant.sku, warehouse)] = (deep, 0)
        for code in shops:
            roll = rng.random()
            if kind == "WZ":
                quantity = rng.randint(8, 40) if code == trade_centre else rng.choice([0, 0, 1, 2])
            elif kind == "MOE":
                quantity = rng.choice([0, 0, 1, 2])
            elif roll < 0.15:
                quantity = 0  # sold out here
            elif roll < 0.30:
                quantity = rng.randint(1, 2)  # scarce
            else:
                quantity = rng.randint(3, 15)
            if quantity:
                safety = 1 if quantity >= 6 and rng.random() < 0.25 else 0
                plan[(variant.sku, code)] = (quantity, safety)

    def put(sku: str, code: str, quantity: int, safety: int = 0) -> None:
        if code not in stores:
            return
        if quantity:
            plan[(sku, code)] = (quantity, safety)
        else:
            plan.pop((sku, code), None)

    skus = {v.sku for v in variants}
    if JOURNEY_SKUS["drill"] in skus:
        put(JOURNEY_SKUS["drill"], trade_centre, 12)
    if JOURNEY_SKUS["drill_from_warehouse"] in skus:
        put(JOURNEY_SKUS["drill_from_warehouse"], trade_centre, 0)
        put(JOURNEY_SKUS["drill_from_warehouse"], warehouse, 25)
    if JOURNEY_SKUS["shoes_last_pair"] in skus:
        put(JOURNEY_SKUS["shoes_last_pair"], "BER-01", 1)
    if JOURNEY_SKUS["shirt_m"] in skus:
        put(JOURNEY_SKUS["shirt_m"], "BER-01", 10, 1)
        # Journey 1: the caller's own store (Hamburg) has none, Berlin holds it for him.
        put(JOURNEY_SKUS["shirt_m"], "HAM-01", 0)
    return plan


def seed_stock(
    *,
    actor: Actor,
    variants: list[Variant],
    stores: dict[str, Store],
    warehouse: str,
    trade_centre: str,
    progress: Callable[[Iterable], Iterable] = iter,
) -> int:
    """Receive the opening stock through inventory.services (receipts on the ledger).

    A (SKU, store) that already got its opening stock is skipped. Returns the rows received.
    """
    plan = stock_plan(variants, stores, warehouse, trade_centre)
    done = set(
        StockMovement.objects.filter(
            cause_type=CauseType.IMPORT_BATCH, cause_id=DEMO_CAUSE_ID
        ).values_list("stock_item__variant__sku", "stock_item__store__code")
    )
    by_sku = {v.sku: v for v in variants}
    todo: dict[str, list[tuple[Variant, int, int]]] = {}
    for (sku, code), (quantity, safety) in sorted(plan.items()):
        if (sku, code) not in done:
            todo.setdefault(code, []).append((by_sku[sku], quantity, safety))

    received = 0
    batches = [
        (code, lines[start : start + 200])
        for code, lines in sorted(todo.items())
        for start in range(0, len(lines), 200)
    ]
    for code, lines in progress(batches):
        store = stores[code]
        receive(
            actor=actor,
            store=store,
            lines=[(variant, quantity) for variant, quantity, _ in lines],
            reason="Opening stock of the demo retailer",
            cause_type=CauseType.IMPORT_BATCH,
            cause_id=DEMO_CAUSE_ID,
        )
        for variant, _, safety in lines:
            if safety:
                set_safety_stock(actor=actor, store=store, variant=variant, quantity=safety)
        received += len(lines)
    return received
