"""Shared by the stock benchmarks: a fresh dedicated PostgreSQL database and Django on it."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def django_on_fresh_database(server: str, name: str) -> None:
    """Drop and create `name` on `server`, point Django at it, migrate. Never the dev database."""
    import psycopg

    if not (name.startswith("omnis_bench") or name.endswith("_bench")):
        raise SystemExit("Benchmarks only use databases named omnis_bench… or …_bench")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"{server}/{name}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DJANGO_DEBUG"] = "0"  # DEBUG would keep every query in memory
    os.environ.setdefault("CONN_MAX_AGE", "600")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_catalogue(count: int, prefix: str = "B"):
    """`count` variants of one product family, inserted in bulk (valid SKUs and EAN-13s)."""
    from decimal import Decimal

    from inventory.models import Category, Product, Variant
    from inventory.validators import ean13_check_digit

    category = Category.objects.create(name="Bench", slug="bench")
    products = Product.objects.bulk_create(
        [Product(name=f"Bench product {i}", category=category) for i in range(count // 10 + 1)]
    )
    variants = []
    for i in range(count):
        first12 = f"29{i:010d}"
        variants.append(
            Variant(
                product=products[i // 10],
                sku=f"{prefix}-{i:07d}",
                ean=first12 + str(ean13_check_digit(first12)),
                price=Decimal("9.90"),
            )
        )
    return Variant.objects.bulk_create(variants, batch_size=5000)


def make_stores(count: int):
    from decimal import Decimal

    from stores.models import Store

    return Store.objects.bulk_create(
        [
            Store(
                code=f"B{chr(65 + i // 100 % 26)}{chr(65 + i // 2600 % 26)}-{i % 100:02d}",
                name=f"Bench store {i}",
                street="Benchstraße 1",
                postcode="10115",
                city="Berlin",
                latitude=Decimal("52.52"),
                longitude=Decimal("13.40"),
            )
            for i in range(count)
        ]
    )


def table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
