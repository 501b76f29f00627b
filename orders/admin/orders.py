"""Admin for orders: read-only records; the workflow steps are actions that call the services."""

from django.contrib import admin
from django.db.models import Q

from common.access import action_permission
from common.admin import ReadOnlyInline
from orders.admin.common import StatusHistoryInline, WorkflowRecordAdmin, run_workflow_step
from orders.admin.refunds import RefundInline
from orders.models.orders import Order, OrderLine, OrderStatusChange
from orders.services import orders as services
from stores.selectors import store_ids_for_staff


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "sku",
        "name",
        "quantity",
        "unit_price",
        "handed_over",
        "returned",
        "cancelled",
        "via_transfer",
    )


class OrderStatusChangeInline(StatusHistoryInline):
    model = OrderStatusChange


def _run(modeladmin, request, queryset, step, done: str, store_field: str) -> None:
    run_workflow_step(
        modeladmin,
        request,
        queryset,
        step,
        done=done,
        noun="order(s)",
        label=lambda order: order.number,
        store_id=lambda order: getattr(order, f"{store_field}_id"),
    )


@admin.register(Order)
class OrderAdmin(WorkflowRecordAdmin):
    list_display = (
        "number",
        "status",
        "channel",
        "fulfilment",
        "customer",
        "pickup_store",
        "fulfilment_store",
        "total",
        "payment_status",
        "pickup_deadline",
        "created_at",
    )
    list_filter = ("status", "channel", "fulfilment", "payment_status", "pickup_store")
    list_select_related = ("customer", "pickup_store", "fulfilment_store")
    search_fields = ("number", "customer__email", "customer__phone", "customer__last_name")
    date_hierarchy = "created_at"
    inlines = (OrderLineInline, RefundInline, OrderStatusChangeInline)
    actions = (
        "mark_ready_for_pickup",
        "ship",
        "deliver",
        "cancel",
        "unlock_hand_over",
    )

    # Actions ask for the same permissions as the API (common.access).
    has_handle_permission = action_permission("orders.change_order")
    has_unlock_permission = action_permission("orders.unlock_hand_over")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        store_ids = store_ids_for_staff(request.user)
        return qs.filter(Q(pickup_store_id__in=store_ids) | Q(fulfilment_store_id__in=store_ids))

    @admin.action(
        description="Mark ready for pickup (creates the code, notifies the customer)",
        permissions=["handle"],
    )
    def mark_ready_for_pickup(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, order: services.mark_ready_for_pickup(actor=actor, order=order),
            "ready for pickup",
            "pickup_store",
        )

    @admin.action(description="Ship (delivery orders leave the warehouse)", permissions=["handle"])
    def ship(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, order: services.ship_order(actor=actor, order=order),
            "shipped",
            "fulfilment_store",
        )

    @admin.action(description="Mark delivered", permissions=["handle"])
    def deliver(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, order: services.deliver_order(actor=actor, order=order),
            "delivered",
            "fulfilment_store",
        )

    @admin.action(description="Cancel (releases the reserved stock)", permissions=["handle"])
    def cancel(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, order: services.cancel_order(
                actor=actor, order=order, reason="cancelled in the admin"
            ),
            "cancelled",
            "fulfilment_store",
        )

    @admin.action(
        description="Unlock the hand-over (locked after wrong pickup codes; managers)",
        permissions=["unlock"],
    )
    def unlock_hand_over(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda actor, order: services.unlock_hand_over(actor=actor, order=order),
            "unlocked",
            "pickup_store",
        )
