"""Admin for reservations: read-only records; collect, extend and release are actions that call
the services (staff act only on their stores)."""

from django.contrib import admin

from common.access import action_permission
from common.admin import ReadOnlyInline
from orders.admin.common import StatusHistoryInline, WorkflowRecordAdmin, run_workflow_step
from orders.models import Reservation, ReservationLine, ReservationStatusChange
from orders.services import reservations as services
from stores.selectors import store_ids_for_staff


class ReservationLineInline(ReadOnlyInline):
    model = ReservationLine
    fields = ("variant", "quantity", "collected")


class ReservationStatusChangeInline(StatusHistoryInline):
    model = ReservationStatusChange


def _run(modeladmin, request, queryset, step, done: str) -> None:
    run_workflow_step(
        modeladmin,
        request,
        queryset.select_related("store"),
        step,
        done=done,
        noun="reservation(s)",
        label=lambda reservation: f"Reservation {reservation.pk}",
    )


@admin.register(Reservation)
class ReservationAdmin(WorkflowRecordAdmin):
    list_display = (
        "id",
        "status",
        "release_reason",
        "store",
        "customer",
        "channel",
        "expires_at",
        "extension_count",
        "order",
        "created_at",
    )
    list_filter = ("status", "release_reason", "channel", "store")
    search_fields = ("=id", "customer__last_name", "customer__email", "customer__phone")
    date_hierarchy = "expires_at"
    list_select_related = ("store", "customer", "order")
    inlines = [ReservationLineInline, ReservationStatusChangeInline]
    actions = ["collect", "extend", "release"]
    has_handle_permission = action_permission("orders.change_reservation")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(store_id__in=store_ids_for_staff(request.user))

    @admin.action(
        description="Collect: sell the reserved items at the counter", permissions=["handle"]
    )
    def collect(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, r: services.collect_reservation(actor=actor, reservation=r),
            "collected",
        )

    @admin.action(description="Extend by the store's hold hours", permissions=["handle"])
    def extend(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, r: services.extend_reservation(actor=actor, reservation=r),
            "extended",
        )

    @admin.action(description="Release: put the items back on sale", permissions=["handle"])
    def release(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, r: services.cancel_reservation(
                actor=actor, reservation=r, note="Released in the admin"
            ),
            "released",
        )
