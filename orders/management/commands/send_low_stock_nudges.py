from django.core.management.base import BaseCommand

from orders.services.nudges import send_low_stock_nudges


class Command(BaseCommand):
    help = (
        "The nudge sweep, once now: tell customers when a listed or twice-viewed item is nearly "
        "gone where they shop (their store, or online)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--threshold", type=int, default=1, help="Nudge at this many left or fewer."
        )

    def handle(self, *args, threshold: int, **options):
        queued = send_low_stock_nudges(threshold=threshold)
        self.stdout.write(self.style.SUCCESS(f"{queued} message(s) queued."))
