"""Admin for refunds: what went back, what is still pending at the payment service, and what a
manager must look at (failed, or pending longer than OMNIS_REFUND_PENDING_ALERT)."""

from django.contrib import admin
from django.db.models import Q

from common.access import action_permission
from common.admin import HistoryAdmin, ReadOnlyInline
from orders.admin.common import WorkflowRecordAdmin, run_workflow_step
from orders.models import Refund
from orders.selectors.refunds import is_overdue, overdue_refunds, refunds_needing_attention
from orders.services import refunds as services
from stores.selectors import store_ids_for_staff


@admin.display(boolean=True, description="Overdue")
def overdue(refund: Refund) -> bool:
    return is_overdue(refund)


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = (
        "created_at",
        "method",
        "amount",
        "status",
        overdue,
        "reason",
        "provider",
        "provider_reference",
        "paid_at",
        "last_error",
        "created_by_user",
    )
    readonly_fields = fields


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return (("yes", "Failed or overdue"), ("overdue", "Pending too long"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=refunds_needing_attention().values("pk"))
        if self.value() == "overdue":
            return queryset.filter(pk__in=overdue_refunds().values("pk"))
        return queryset


def _store_of(refund: Refund):
    if refund.return_request_id:
        return refund.return_request.store_id
    return refund.order.pickup_store_id or refund.order.fulfilment_store_id


@admin.register(Refund)
class RefundAdmin(HistoryAdmin, WorkflowRecordAdmin):
    list_display = (
        "id",
        "order",
        "return_request",
        "method",
        "amount",
        "status",
        overdue,
        "provider",
        "created_at",
        "paid_at",
    )
    list_filter = (NeedsAttentionFilter, "status", "method", "provider")
    list_select_related = ("return_request", "order")
    search_fields = ("return_request__number", "order__number", "provider_reference")
    actions = ("retry_at_provider",)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        store_ids = store_ids_for_staff(request.user)
        return qs.filter(
            Q(return_request__store_id__in=store_ids)
            | Q(return_request__isnull=True, order__pickup_store_id__in=store_ids)
            | Q(return_request__isnull=True, order__fulfilment_store_id__in=store_ids)
        )

    has_refund_permission = action_permission("orders.refund_return")

    @admin.action(
        description="Ask the payment service again (failed refunds; never pays twice)",
        permissions=["refund"],
    )
    def retry_at_provider(self, request, queryset):
        run_workflow_step(
            self,
            request,
            queryset.select_related("return_request", "order"),
            lambda actor, refund: services.retry_refund(actor=actor, refund=refund),
            done="sent to the payment service again",
            noun="refund(s)",
            label=lambda refund: f"Refund {refund.pk}",
            store_id=_store_of,
        )
