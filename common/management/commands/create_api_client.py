"""`manage.py create_api_client NAME --channel web|app|phone`: a channel client; prints its key once."""

from django.core.management.base import BaseCommand

from common.errors import ApplicationError
from common.management.command_errors import command_error
from common.services import CLIENT_CHANNELS, create_or_rotate_api_client


class Command(BaseCommand):
    help = (
        "Create an API client for a channel (webshop, app, phone desk) and print its key once. "
        "Running it again for the same name issues a new key; the old one stops working."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="e.g. webshop")
        parser.add_argument("--channel", required=True, choices=sorted(CLIENT_CHANNELS))

    def handle(self, *args, name: str, channel: str, **options):
        try:
            client, key, created = create_or_rotate_api_client(name=name, channel=channel)
        except ApplicationError as exc:
            raise command_error(exc)
        what = "Created" if created else "Issued a new key for"
        self.stdout.write(self.style.SUCCESS(f"{what} API client '{client.name}' ({channel})."))
        self.stdout.write("Key (shown once, keep it safe):")
        self.stdout.write(key)
