"""manage.py export_customer ID > file.json: everything stored about a customer (GDPR Art. 15/20)."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from common.actor import Actor
from common.errors import ApplicationError
from customers.models import Customer
from customers.privacy.export import export_customer


class Command(BaseCommand):
    help = (
        "Print everything stored about a customer as JSON (the export is logged on the timeline)."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer_id", type=int)

    def handle(self, *args, customer_id: int, **options):
        customer = Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()
        if customer is None:
            raise CommandError(f"No customer {customer_id} (or it was merged into another).")
        try:
            data = export_customer(actor=Actor.system(), customer=customer)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False))
