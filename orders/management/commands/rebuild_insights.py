from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from orders.insights import rollups


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"'{value}' is not a date (YYYY-MM-DD).") from exc


class Command(BaseCommand):
    help = (
        "Count the insights' daily rollups again for a period (default: the last 30 days), "
        "then the customers of its weeks and months and the months' journeys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", help="last day, YYYY-MM-DD (default today)")

    def handle(self, *args, first: str | None, last: str | None, **options):
        last_day = _day(last) if last else timezone.localdate()
        first_day = _day(first) if first else last_day - timedelta(days=29)
        if first_day > last_day:
            raise CommandError("--from is after --to.")
        quiet = options["verbosity"] == 0
        started = timezone.now()
        days = rollups.refresh(
            first_day,
            last_day,
            progress=lambda it: tqdm(it, desc="days", file=self.stderr, disable=quiet),
        )
        seconds = (timezone.now() - started).total_seconds()
        self.stdout.write(
            self.style.SUCCESS(
                f"{days} day(s) from {first_day} to {last_day} counted in {seconds:.1f} s."
            )
        )
