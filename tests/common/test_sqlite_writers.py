"""The embedded default (an SQLite file): two writers at once wait for each other.

Each writer reads, waits until the other has read too (or a second has passed), then writes: the
interleaving that makes SQLite refuse a deferred transaction's write with "database is locked".
It runs in a subprocess on a temporary database file, with the project's settings and, as a
control, with Django's SQLite defaults (which must fail, or this test proves nothing).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, os, sys, threading
import django

django.setup()
from django.conf import settings
from django.db import OperationalError, connection, transaction

if os.environ.get("SQLITE_DJANGO_DEFAULTS"):
    settings.DATABASES["default"]["OPTIONS"] = {"timeout": 5}
    connection.settings_dict["OPTIONS"] = {"timeout": 5}

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE till (id INTEGER PRIMARY KEY, sales INTEGER NOT NULL)")
    cursor.execute("INSERT INTO till VALUES (1, 0)")
connection.close()

have_read = [threading.Event(), threading.Event()]
results = [None, None]

def writer(i):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT sales FROM till WHERE id = 1")
            sales = cursor.fetchone()[0]
            have_read[i].set()
            have_read[1 - i].wait(timeout=1)
            cursor.execute("UPDATE till SET sales = %s WHERE id = 1", [sales + 1])
        results[i] = "ok"
    except OperationalError as exc:
        results[i] = str(exc)
    finally:
        connection.close()

threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with connection.cursor() as cursor:
    cursor.execute("SELECT sales FROM till WHERE id = 1")
    sales = cursor.fetchone()[0]
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()[0]
print(json.dumps({"results": results, "sales": sales, "journal_mode": mode}))
"""


def two_writers(tmp_path: Path, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    clean.update(
        env,
        DATABASE_URL=f"sqlite:///{tmp_path / 'desk.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings.test",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_writers_at_once_both_succeed_one_after_the_other(tmp_path):
    outcome = two_writers(tmp_path)
    assert outcome["results"] == ["ok", "ok"]
    assert outcome["sales"] == 2
    assert outcome["journal_mode"] == "wal"


def test_with_djangos_sqlite_defaults_the_same_writers_get_database_is_locked(tmp_path):
    outcome = two_writers(tmp_path, SQLITE_DJANGO_DEFAULTS="1")
    assert "database is locked" in " ".join(r for r in outcome["results"] if r != "ok")
