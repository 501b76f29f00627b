from django.core.management.base import BaseCommand

from orders.services.reservations import release_expired_reservations


class Command(BaseCommand):
    help = "Send due reservation reminders and release expired holds, once, now (as the task does)."

    def handle(self, *args, **options):
        result = release_expired_reservations()
        self.stdout.write(
            self.style.SUCCESS(
                f"{result['released']} expired reservation(s) released, "
                f"{result['reminded']} reminder(s) sent."
            )
        )
