"""The outbox from the command line: what waits, what gave up, send it again."""

from django.core.management.base import BaseCommand, CommandError

from common import outbox
from common.models import OutboxMessage, OutboxStatus


class Command(BaseCommand):
    help = (
        "List pending or dead outbox messages, send dead ones again (--retry ID …), or carry out "
        "everything that is due now (--sweep)."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--pending", action="store_true", help="List pending messages.")
        group.add_argument("--dead", action="store_true", help="List dead messages.")
        group.add_argument(
            "--retry", nargs="+", type=int, metavar="ID", help="Send these dead messages again."
        )
        group.add_argument("--sweep", action="store_true", help="Carry out what is due now.")
        parser.add_argument("--limit", type=int, default=100, help="Rows to list (default 100).")

    def handle(self, *args, **options):
        if options["retry"]:
            ids = options["retry"]
            dead = set(
                OutboxMessage.objects.filter(pk__in=ids, status=OutboxStatus.DEAD).values_list(
                    "pk", flat=True
                )
            )
            missing = [str(i) for i in ids if i not in dead]
            if missing:
                raise CommandError(f"Not dead outbox messages: {', '.join(missing)}.")
            count = outbox.retry_dead(ids)
            self.stdout.write(f"{count} message(s) queued again.")
            return
        if options["sweep"]:
            counts = outbox.sweep()
            self.stdout.write(
                ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "nothing due"
            )
            return
        status = OutboxStatus.DEAD if options["dead"] else OutboxStatus.PENDING
        rows = OutboxMessage.objects.filter(status=status).order_by("pk")
        total = rows.count()
        for message in rows[: options["limit"]]:
            when = message.next_attempt_at if status == OutboxStatus.PENDING else message.created_at
            error = f"  {message.last_error.splitlines()[0][:100]}" if message.last_error else ""
            self.stdout.write(
                f"{message.pk:>8}  {message.topic:<40} attempts {message.attempts:<3} "
                f"{when:%Y-%m-%d %H:%M:%S}{error}"
            )
        self.stdout.write(f"{total} {status} message(s).")
