from django.core.management.base import BaseCommand, CommandError

from common.actor import Actor
from customers.models import Segment
from inventory.models import Variant
from orders.services.nudges import nudge_segment


class Command(BaseCommand):
    help = (
        "Send the nudge about one SKU to a segment's members who agreed to marketing "
        "(at most once per member, SKU and week)."
    )

    def add_arguments(self, parser):
        parser.add_argument("segment", help="The segment's name or id.")
        parser.add_argument("sku")

    def handle(self, *args, segment: str, sku: str, **options):
        found = Segment.objects.filter(name=segment).first()
        if found is None and segment.isdigit():
            found = Segment.objects.filter(pk=int(segment)).first()
        if found is None:
            raise CommandError(f"No segment '{segment}'.")
        variant = Variant.objects.filter(sku=sku).select_related("product").first()
        if variant is None:
            raise CommandError(f"Unknown SKU '{sku}'.")
        queued = nudge_segment(actor=Actor.system(), segment=found, variant=variant)
        self.stdout.write(self.style.SUCCESS(f"{queued} message(s) queued."))
