from django.core.management.base import BaseCommand

from orders.services.orders import expire_uncollected_orders


class Command(BaseCommand):
    help = (
        "Remind customers a day before their click & collect pickup window ends and cancel the "
        "orders not collected after it (what the periodic task does), once now."
    )

    def handle(self, *args, **options):
        result = expire_uncollected_orders()
        self.stdout.write(
            f"{result['reminded']} reminder(s) sent, {result['cancelled']} order(s) cancelled."
        )
