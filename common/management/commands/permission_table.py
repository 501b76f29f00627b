"""Print the permission table as Markdown: every API endpoint and desk page with who may call it."""

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.urls import URLPattern, URLResolver, get_resolver

from common.access import rule_for

METHODS = ("get", "post", "put", "patch", "delete")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def permission_table() -> str:
    rows = ["| endpoint | who may call it |", "|---|---|"]
    desk = ["| desk page | who may use it |", "|---|---|"]
    for route, pattern in _walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None)
        if route.startswith("api/v1/") and view is not None:
            for method in METHODS:
                if hasattr(view, method):
                    rule = rule_for(view, method.upper())
                    who = rule.describe() if rule else "nobody (no rule)"
                    rows.append(f"| `{method.upper()} /{route}` | {who} |")
        elif route.startswith("desk/"):
            rule = getattr(pattern.callback, "desk_rule", None)
            desk.append(f"| `/{route}` | {rule.describe() if rule else 'nobody (no rule)'} |")
    roles = ["| role | permissions beyond viewing |", "|---|---|"]
    for group in Group.objects.prefetch_related("permissions__content_type").order_by("name"):
        names = sorted(
            f"`{p.content_type.app_label}.{p.codename}`"
            for p in group.permissions.all()
            if not p.codename.startswith("view_")
        )
        roles.append(f"| {group.name} | {', '.join(names)} |")
    return "\n\n".join("\n".join(table) for table in (rows, desk, roles)) + "\n"


class Command(BaseCommand):
    help = "Print who may call each API endpoint and desk page (the table in docs/api.md)."

    def handle(self, *args, **options):
        self.stdout.write(permission_table(), ending="")
