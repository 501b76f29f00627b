"""Admin for discount redemptions: which order spent which code, read-only."""

from django.contrib import admin

from common.admin import ReadOnlyAdmin
from orders.models import DiscountRedemption


@admin.register(DiscountRedemption)
class DiscountRedemptionAdmin(ReadOnlyAdmin):
    list_display = ("at", "code", "order", "customer", "amount")
    list_filter = ("code__campaign", "order__channel")
    list_select_related = ("code", "order", "customer")
    search_fields = ("code__code", "order__number", "customer__email")
