"""Admin for returns: read-only records; receiving, refunding and rejecting are actions that call
the return services (staff act only on returns arriving at their stores)."""

from django.contrib import admin

from common.access import action_permission
from common.admin import ReadOnlyInline
from orders.admin.common import (
    StatusHistoryInline,
    WorkflowRecordAdmin,
    run_workflow_step,
)
from orders.admin.refunds import RefundInline
from orders.models import (
    LineCondition,
    RefundMethod,
    Return,
    ReturnLine,
    ReturnStatusChange,
)
from orders.services import returns as services
from stores.selectors import store_ids_for_staff


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ("order_line", "quantity", "reason", "reason_text", "condition", "refund_amount")
    readonly_fields = fields


class ReturnStatusChangeInline(StatusHistoryInline):
    model = ReturnStatusChange


def _run(modeladmin, request, queryset, step, done: str) -> None:
    run_workflow_step(
        modeladmin,
        request,
        queryset.select_related("store"),
        step,
        done=done,
        noun="return(s)",
        label=lambda return_request: return_request.number,
    )


def _receive_all(condition: str):
    def step(actor, return_request):
        services.receive_return(
            actor=actor,
            return_request=return_request,
            conditions={line.pk: condition for line in return_request.lines.all()},
        )

    return step


def _refund(method: str):
    def step(actor, return_request):
        services.refund_return(actor=actor, return_request=return_request, method=method)

    return step


@admin.register(Return)
class ReturnAdmin(WorkflowRecordAdmin):
    list_display = (
        "number",
        "status",
        "order",
        "customer",
        "method",
        "store",
        "channel",
        "created_at",
        "received_at",
        "refunded_at",
    )
    list_filter = ("status", "method", "channel", "store")
    list_select_related = ("order", "customer", "store")
    search_fields = ("number", "order__number", "customer__email", "customer__phone")
    date_hierarchy = "created_at"
    inlines = (ReturnLineInline, RefundInline, ReturnStatusChangeInline)
    actions = (
        "receive_resellable",
        "receive_damaged",
        "refund_original",
        "refund_store_credit",
        "reject",
    )

    has_handle_permission = action_permission("orders.change_return")
    has_refund_permission = action_permission("orders.refund_return")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(store_id__in=store_ids_for_staff(request.user))

    @admin.action(
        description="Receive: every line resellable (back on the shelf)", permissions=["handle"]
    )
    def receive_resellable(self, request, queryset):
        _run(self, request, queryset, _receive_all(LineCondition.RESELLABLE), "received")

    @admin.action(description="Receive: every line damaged (written off)", permissions=["handle"])
    def receive_damaged(self, request, queryset):
        _run(self, request, queryset, _receive_all(LineCondition.DAMAGED), "received")

    @admin.action(description="Refund to the original payment", permissions=["refund"])
    def refund_original(self, request, queryset):
        _run(self, request, queryset, _refund(RefundMethod.ORIGINAL), "refunded")

    @admin.action(description="Refund as store credit", permissions=["refund"])
    def refund_store_credit(self, request, queryset):
        _run(self, request, queryset, _refund(RefundMethod.STORE_CREDIT), "refunded")

    @admin.action(
        description="Reject (not received; the units become returnable again)",
        permissions=["handle"],
    )
    def reject(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, r: services.reject_return(
                actor=actor, return_request=r, reason="Rejected in the admin"
            ),
            "rejected",
        )
