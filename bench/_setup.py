"""Shared by the benchmarks: a fresh dedicated PostgreSQL database and Django on it, a small
shop to place orders in, gunicorn serving it and a JSON client for it, the printed table."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def recreate_database(server: str, name: str) -> None:
    """Drop and create `name` on `server`. Never the dev database."""
    import psycopg

    if not (name.startswith("omnis_bench") or name.endswith("_bench")):
        raise SystemExit("Benchmarks only use databases named omnis_bench… or …_bench")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_on_fresh_database(server: str, name: str) -> None:
    """Drop and create `name` on `server`, point Django at it, migrate. Never the dev database."""
    recreate_database(server, name)
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"{server}/{name}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DJANGO_DEBUG"] = "0"  # DEBUG would keep every query in memory
    os.environ.setdefault("CONN_MAX_AGE", "600")
    migrate()


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


def migrate() -> None:
    """Django set up from the environment, the database migrated."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_drill_shop(*, skus: int, customers: int, units: int) -> dict:
    """One store (BER-01) with `units` of each of `skus` drills, `customers` customers and a
    webshop API key, created through the services: {key, store, skus, customers}."""
    from decimal import Decimal

    from common.actor import Actor
    from common.auth import create_api_client_key
    from common.models import Channel
    from customers.models import Customer
    from inventory import services as stock
    from inventory.models import Category, Product, Variant
    from inventory.validators import ean13_check_digit
    from stores.models import Store

    store = Store.objects.create(
        code="BER-01",
        name="Berlin Mitte",
        street="Alexanderplatz 1",
        postcode="10178",
        city="Berlin",
        latitude=Decimal("52.521918"),
        longitude=Decimal("13.413215"),
    )
    category = Category.objects.create(name="Tools", slug="tools")
    products = Product.objects.bulk_create(
        [Product(name=f"Drill {n}", category=category) for n in range(skus)]
    )
    variants = Variant.objects.bulk_create(
        [
            Variant(
                product=product,
                sku=f"DRL-{n:05d}",
                ean=f"400{n:09d}" + str(ean13_check_digit(f"400{n:09d}")),
                price=Decimal("99.90"),
            )
            for n, product in enumerate(products)
        ]
    )
    stock.receive(
        actor=Actor.system(), store=store, lines=[(v, units) for v in variants], reason="bench"
    )
    created = Customer.objects.bulk_create(
        [Customer(email=f"bench{n}@example.de", first_name="Bench") for n in range(customers)]
    )
    _, key = create_api_client_key(name="bench-webshop", channel=Channel.WEB)
    return {
        "key": key,
        "store": store.code,
        "skus": [v.sku for v in variants],
        "customers": [c.pk for c in created],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict, float]:
    """A JSON call with a token: (status, body, seconds)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read() or b"null")
            status = response.status
    except urllib.error.HTTPError as exc:
        payload = json.loads(exc.read() or b"null")
        status = exc.code
    return status, payload, time.perf_counter() - started


class Gunicorn:
    """gunicorn (config.wsgi, sync workers) on a free port with this environment; `stop()` ends
    it. Ready once `GET /api/v1/stores/` with `key` answers 200."""

    def __init__(self, env: dict, workers: int, key: str) -> None:
        self.base = f"http://127.0.0.1:{free_port()}"
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.process = subprocess.Popen(
            [str(gunicorn), "config.wsgi", "-w", str(workers), "-b", self.base[7:]]
            + ["--log-level", "warning", "--timeout", "60", "--keep-alive", "5"],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("gunicorn exited early")
            try:
                status, _, _ = call("GET", f"{self.base}/api/v1/stores/", key)
                if status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit("gunicorn did not answer in time")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
