"""`manage.py create_customer_login EMAIL --password P`: a login for /api/v1/me/."""

from django.core.management.base import BaseCommand

from common.errors import ApplicationError
from common.management.command_errors import command_error
from customers.logins import create_or_update_customer_login


class Command(BaseCommand):
    help = (
        "Create a customer login (username = e-mail) for the customer with this e-mail; the "
        "customer is found or created. Running it again sets the new password."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--password", required=True)
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")

    def handle(self, *args, email, password, **options):
        try:
            user, customer, created = create_or_update_customer_login(
                email=email,
                password=password,
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except ApplicationError as exc:
            raise command_error(exc)
        what = "Created" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(
                f"{what} customer login '{user.username}' for customer {customer.pk} ({customer})."
            )
        )
