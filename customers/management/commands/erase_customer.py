"""manage.py erase_customer ID --yes: anonymise a customer's personal data (GDPR Art. 17)."""

from django.core.management.base import BaseCommand, CommandError

from common.actor import Actor
from common.errors import ApplicationError
from customers.models import Customer
from customers.privacy.erasure import erase_customer


class Command(BaseCommand):
    help = (
        "Anonymise a customer's personal data; orders, returns, refunds and the ledger stay. "
        "Cannot be undone, hence --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer_id", type=int)
        parser.add_argument("--yes", action="store_true", help="Yes, erase (cannot be undone).")

    def handle(self, *args, customer_id: int, yes: bool, **options):
        customer = Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()
        if customer is None:
            raise CommandError(f"No customer {customer_id} (or it was merged into another).")
        if not yes:
            raise CommandError("Erasure cannot be undone: run again with --yes.")
        try:
            customer = erase_customer(actor=Actor.system(), customer=customer)
        except ApplicationError as exc:
            raise CommandError(f"{exc.detail} ({exc.code})") from exc
        self.stdout.write(f"Customer {customer.pk} erased at {customer.erased_at:%Y-%m-%d %H:%M}.")
