"""What the three workflow admins share: read-only inlines and running a service per selected row."""

from collections.abc import Callable

from django.contrib import admin, messages

from common.actor import Actor
from common.admin import ReadOnlyInline
from common.errors import ApplicationError
from common.models import Channel
from stores.selectors import store_ids_for_staff


class StatusHistoryInline(ReadOnlyInline):
    fields = ("at", "from_status", "to_status", "channel", "actor_user", "actor_client", "note")
    readonly_fields = fields


def run_workflow_step(
    modeladmin,
    request,
    queryset,
    step: Callable,
    *,
    done: str,
    noun: str,
    label: Callable = str,
    store_id: Callable = lambda obj: obj.store_id,
) -> None:
    """Call `step(actor, obj)` (one service) per selected row, in id order.

    Staff only act on rows of their stores; a refusal is reported for that row and the others
    still go through.
    """
    actor = Actor(user=request.user, channel=Channel.STORE)
    store_ids = store_ids_for_staff(request.user)
    succeeded = 0
    for obj in queryset.order_by("pk"):
        if store_id(obj) not in store_ids:
            modeladmin.message_user(
                request, f"{label(obj)}: not a store you work in.", messages.ERROR
            )
            continue
        try:
            step(actor, obj)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{label(obj)}: {exc.detail}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} {noun} {done}.", messages.SUCCESS)


class WorkflowRecordAdmin(admin.ModelAdmin):
    """Orders, reservations, returns and refunds are shown, never edited: every change goes
    through a workflow action (a service), so nothing can be added, changed or deleted here."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
