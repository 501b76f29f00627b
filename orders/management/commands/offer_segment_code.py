from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.actor import Actor
from common.errors import InvalidInput
from customers.models import Segment
from orders.services.campaigns import offer_codes_to_segment
from stores.models import Store


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CommandError(f"'{value}' is not a number.") from None


class Command(BaseCommand):
    help = (
        "Offer each member of a segment who agreed to marketing their own one-use discount code "
        "of a campaign, sent by their channel (members who have one of it already are skipped)."
    )

    def add_arguments(self, parser):
        parser.add_argument("segment", help="The segment's name or id.")
        parser.add_argument("--campaign", required=True, help="The tag that follows the codes.")
        value = parser.add_mutually_exclusive_group(required=True)
        value.add_argument("--percent")
        value.add_argument("--amount")
        parser.add_argument("--days", type=int, default=14, help="Valid for this many days.")
        parser.add_argument("--min-total", default="0.00")
        parser.add_argument("--store", help="The store code the campaign runs for (optional).")

    def handle(self, *args, segment: str, **options):
        found = Segment.objects.filter(name=segment).first()
        if found is None and segment.isdigit():
            found = Segment.objects.filter(pk=int(segment)).first()
        if found is None:
            raise CommandError(f"No segment '{segment}'.")
        store = None
        if options["store"]:
            store = Store.objects.filter(code=options["store"]).first()
            if store is None:
                raise CommandError(f"Unknown store '{options['store']}'.")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        try:
            offered = offer_codes_to_segment(
                actor=Actor.system(),
                segment=found,
                campaign=options["campaign"],
                valid_until=timezone.now() + timedelta(days=options["days"]),
                percent=_decimal(options["percent"]),
                amount=_decimal(options["amount"]),
                min_total=_decimal(options["min_total"]),
                store=store,
            )
        except InvalidInput as error:
            raise CommandError(
                "; ".join(
                    f"{field}: {' '.join(map(str, msgs))}" for field, msgs in error.errors.items()
                )
            ) from None
        self.stdout.write(self.style.SUCCESS(f"{offered} code(s) offered."))
