from io import StringIO

import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError

from common.actor import Actor
from inventory import services
from inventory.models import CauseType, MovementKind, StockItem, StockMovement
from inventory.selectors import StockOffender
from tests.factories import VariantFactory
from tests.inventory.factories_stock import stocked
from tests.inventory.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


class TestCheckStock:
    def test_passes_when_the_ledger_adds_up(self, store):
        v = VariantFactory()
        stocked(v, store, 5)
        services.reserve(
            actor=Actor.system(), store=store, lines=[(v, 2, "1")], cause_type="manual"
        )
        assert "1 stock items match their ledger" in run("check_stock")

    def test_fails_with_the_offenders(self, store, other_store):
        good, broken = VariantFactory(), VariantFactory()
        stocked(good, store, 5)
        stocked(broken, other_store, 3)
        # A row changed behind the ledger's back.
        StockItem.objects.filter(variant=broken).update(on_hand=7)
        out = StringIO()
        with pytest.raises(CommandError) as exc:
            call_command("check_stock", stdout=out)
        assert exc.value.returncode == 1
        assert "1 of 2 stock items" in str(exc.value)
        report = out.getvalue()
        assert f"{broken.sku} @ HAM-01" in report
        assert "on_hand 7 but ledger says 3" in report
        assert good.sku not in report

    def test_reserved_beyond_on_hand_is_named(self):
        # The database's check constraints stop such a row; the report still names it.
        offender = StockOffender(1, "SKU-1", "BER-01", 0, 1, 0, 1)
        assert offender.problems == ["reserved 1 outside 0..on_hand 0"]

    def test_passes_on_the_demo_data(self):
        if "seed_demo" not in get_commands():
            pytest.skip("seed_demo is not available")
        call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
        assert StockItem.objects.exists()
        assert "match their ledger" in run("check_stock")


class TestImportStock:
    @pytest.fixture
    def csv_file(self, tmp_path):
        def write(text: str):
            path = tmp_path / "erp.csv"
            path.write_text(text)
            return str(path)

        return write

    def test_good_rows_applied_bad_rows_reported_with_line_numbers(
        self, store, other_store, csv_file
    ):
        a, b, c = VariantFactory(), VariantFactory(), VariantFactory()
        stocked(a, store, 10)
        path = csv_file(
            "sku,store,on_hand\n"
            f"{a.sku},BER-01,7\n"  # 2: counted down
            f"{b.sku},HAM-01,4\n"  # 3: first count
            "NOPE-1,BER-01,3\n"  # 4: unknown SKU
            f"{c.sku},XXX-99,3\n"  # 5: unknown store
            f"{c.sku},BER-01,-2\n"  # 6: negative
            f"{c.sku},BER-01,zwei\n"  # 7: not a number
            f"{c.sku},BER-01,99999999999999999999\n"  # 8: beyond any stock column
            f"{c.sku},BER-0"  # 9: truncated last line
        )
        out = run("import_stock", path, "--no-progress")
        assert StockItem.objects.get(variant=a, store=store).on_hand == 7
        assert StockItem.objects.get(variant=b, store=other_store).on_hand == 4
        assert not StockItem.objects.filter(variant=c).exists()
        assert "line 4: unknown SKU 'NOPE-1'" in out
        assert "line 5: unknown store 'XXX-99'" in out
        assert "line 6: on_hand -2 is negative" in out
        assert "line 7: on_hand 'zwei' is not a whole number" in out
        assert "line 8: on_hand 99999999999999999999 is more than 10000000" in out
        assert "line 9: expected 3 fields" in out
        assert "8 rows: 2 changed, 0 unchanged, 6 skipped or refused" in out
        adjustments = StockMovement.objects.filter(kind=MovementKind.ADJUSTMENT)
        assert {(m.on_hand_delta, m.cause_type) for m in adjustments} == {
            (-3, CauseType.IMPORT_BATCH),
            (4, CauseType.IMPORT_BATCH),
        }
        assert "line 2" in adjustments.get(on_hand_delta=-3).reason
        assert_ledger_consistent()

    def test_running_the_same_file_again_changes_nothing(self, store, csv_file):
        variants = [VariantFactory() for _ in range(5)]
        path = csv_file("".join(f"{v.sku},BER-01,{i}\n" for i, v in enumerate(variants)))
        run("import_stock", path, "--no-progress", "--batch-size", "2")
        movements = StockMovement.objects.count()
        assert movements == 4  # the 0 count of a never-stocked SKU writes nothing
        out = run("import_stock", path, "--no-progress", "--batch-size", "2")
        assert StockMovement.objects.count() == movements
        assert "5 rows: 0 changed, 5 unchanged, 0 skipped" in out
        assert_ledger_consistent()

    def test_count_below_reserved_is_reported_not_applied(self, store, csv_file):
        v = VariantFactory()
        stocked(v, store, 5)
        services.reserve(
            actor=Actor.system(), store=store, lines=[(v, 4, "1")], cause_type="manual"
        )
        out = run(
            "import_stock", csv_file(f"sku,store,on_hand\n{v.sku},BER-01,3\n"), "--no-progress"
        )
        assert "line 2: count 3 is below the 4 reserved at BER-01; not applied" in out
        assert StockItem.objects.get(variant=v).on_hand == 5

    def test_missing_file(self):
        with pytest.raises(CommandError):
            call_command("import_stock", "/nonexistent.csv")


class TestNightlyCheck:
    def test_logs_and_counts_the_offenders(self, store, caplog):
        from inventory.tasks import check_stock_ledger

        v = VariantFactory()
        stocked(v, store, 3)
        assert check_stock_ledger.delay().get() == 0
        StockItem.objects.filter(variant=v).update(on_hand=4)
        assert check_stock_ledger.delay().get() == 1
        assert f"{v.sku} @ BER-01" in caplog.text
