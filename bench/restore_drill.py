"""Restore drill: dump a database, restore it into a scratch database, prove the copy is sound.

    .venv/bin/python bench/restore_drill.py                      # on a demo database it seeds
    .venv/bin/python bench/restore_drill.py --source postgres://backup@db:5432/omnis
    .venv/bin/python bench/restore_drill.py --dump /backups/omnis-2026-12-01.dump \\
        --target-server postgres://postgres@restore-host:5432

Steps: pg_dump (custom format, as the nightly backup) unless --dump names an existing file;
pg_restore into a new scratch database; the same row count in every table as the source (when
there is one); `manage.py migrate --check` (the schema is the code's) and `manage.py check_stock`
(stock matches its ledger) on the copy. The scratch database is dropped afterwards unless --keep.
Exit status 0 only when every step passed. Without --source it seeds its own small demo retailer
(omnis_bench_restore_source), so CI and `make bench` can run it anywhere PostgreSQL is.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
sys.path.insert(0, str(ROOT))

from bench._setup import table  # noqa: E402


def server_and_name(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="", query="")), parts.path.lstrip("/")


def admin_sql(server: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def row_counts(url: str) -> dict[str, int]:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select tablename from pg_tables where schemaname = 'public' order by 1"
            )
        ]
        return {
            name: conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(name))
            ).fetchone()[0]
            for name in tables
        }


def manage(url: str, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "CELERY_BROKER_URL": "",  # seeding sends its e-mails in-process (console backend)
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "CONN_MAX_AGE": "0",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{result.stderr.strip()}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", help="database to back up (default: a seeded demo)")
    parser.add_argument("--dump", help="restore this pg_dump custom-format file instead")
    parser.add_argument("--target-server", help="server for the scratch database")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)

    steps: list[list] = []
    started = time.perf_counter()

    def step(name: str, detail: str = "") -> None:
        nonlocal started
        steps.append([name, f"{time.perf_counter() - started:.1f}", detail])
        print(f"  {name}: {detail or 'ok'}", flush=True)
        started = time.perf_counter()

    source = args.source
    seeded = None
    if source is None and args.dump is None:
        seeded = "omnis_bench_restore_source"
        source = f"{DEFAULT_SERVER}/{seeded}"
        admin_sql(
            DEFAULT_SERVER,
            f'DROP DATABASE IF EXISTS "{seeded}" WITH (FORCE)',
            f'CREATE DATABASE "{seeded}"',
        )
        for command in (
            ["migrate", "--noinput"],
            ["seed_demo", "--products", "30", "--customers", "40"],
        ):
            result = manage(source, *command)
            if result.returncode != 0:
                raise SystemExit(f"{command[0]} failed:\n{result.stderr[-3000:]}")
        step("seed", "demo retailer (30 products, 40 customers)")

    if source:
        source_server, source_name = server_and_name(source)
    else:
        source_server, source_name = DEFAULT_SERVER, Path(args.dump).stem
    target_server = args.target_server or source_server
    scratch = f"{source_name}_restore_drill"[:63]
    if scratch == source_name:
        raise SystemExit("The scratch database would be the source.")
    scratch_url = f"{target_server}/{scratch}"

    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        dump = args.dump
        if dump is None:
            dump = str(Path(tmp) / f"{source_name}.dump")
            run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", source])
            step("pg_dump", f"{Path(dump).stat().st_size / 1024:.0f} KiB")
        admin_sql(
            target_server,
            f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)',
            f'CREATE DATABASE "{scratch}"',
        )
        try:
            run(
                ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
                + [f"--dbname={scratch_url}", dump]
            )
            step("pg_restore", scratch)

            restored = row_counts(scratch_url)
            if source:
                original = row_counts(source)
                differ = [t for t in original if original[t] != restored.get(t)]
                if differ:
                    failures.append(f"row counts differ in {', '.join(differ)}")
            step("row counts", f"{len(restored)} tables, {sum(restored.values())} rows")

            for name, command in (
                ("migrate --check", ["migrate", "--check"]),
                ("check_stock", ["check_stock"]),
            ):
                result = manage(scratch_url, *command)
                if result.returncode != 0:
                    failures.append(f"{name}: {(result.stdout + result.stderr).strip()[-2000:]}")
                step(name, result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "")
        finally:
            if not args.keep:
                admin_sql(target_server, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            if seeded:
                admin_sql(DEFAULT_SERVER, f'DROP DATABASE IF EXISTS "{seeded}" WITH (FORCE)')

    print(table(["step", "seconds", "result"], steps))
    if failures:
        print("RESTORE DRILL FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("Restore drill passed: the backup restores and the stock matches its ledger.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
