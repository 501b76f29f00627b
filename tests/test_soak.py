"""A short run of bench/soak.py (the full one is `make bench`): every stock workflow at once from
16 threads on PostgreSQL; no deadlock or database error reaches a caller, and every unit adds up."""

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load_soak():
    sys.path.insert(0, str(BENCH))  # soak.py imports its neighbour _setup for the table
    try:
        spec = importlib.util.spec_from_file_location("bench_soak", BENCH / "soak.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_sixteen_threads_doing_everything_at_once_leave_every_unit_accounted_for():
    soak = load_soak()
    world = soak.build_world(prefix="TS")

    report = soak.soak(world, threads=16, seconds=12, seed=7)

    sys.path.insert(0, str(BENCH))
    try:
        print(soak.summary(report))
    finally:
        sys.path.remove(str(BENCH))
    assert report.failures == []
    assert soak.check(report) == []
    assert sum(report.done.values()) > 100
    assert len(+report.done) >= 10, report.done  # most workflows really ran
