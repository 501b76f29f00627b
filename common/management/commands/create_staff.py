"""`manage.py create_staff USERNAME --store CODE [--store CODE …] --role ROLE --password P`."""

from django.core.management.base import BaseCommand, CommandError

from common.errors import ApplicationError
from common.management.command_errors import command_error
from stores.models import StaffRole, Store
from stores.services import create_or_update_staff


class Command(BaseCommand):
    help = (
        "Create a staff login working in the given stores with a role, or update an existing one "
        "(password, stores, role). Staff can use the admin and the store desk."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--store",
            dest="stores",
            action="append",
            required=True,
            metavar="CODE",
            help="A store code such as BER-01; repeat for several stores.",
        )
        parser.add_argument("--role", required=True, help=" | ".join(StaffRole.values))
        parser.add_argument("--password", required=True)
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--email", default="")

    def handle(self, *args, username, stores, role, password, **options):
        if role not in StaffRole.values:
            raise CommandError(f"Unknown role '{role}'. Use one of: {', '.join(StaffRole.values)}.")
        codes = [code.strip().upper() for code in stores]
        found = {s.code: s for s in Store.objects.filter(code__in=codes)}
        unknown = [code for code in codes if code not in found]
        if unknown:
            raise CommandError(f"Unknown store code(s): {', '.join(unknown)}.")
        try:
            user, created = create_or_update_staff(
                username=username,
                stores=[found[code] for code in dict.fromkeys(codes)],
                role=role,
                password=password,
                first_name=options["first_name"],
                last_name=options["last_name"],
                email=options["email"],
            )
        except ApplicationError as exc:
            raise command_error(exc)
        what = "Created" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(
                f"{what} staff login '{user.username}' ({role}) for {', '.join(found)}."
            )
        )
