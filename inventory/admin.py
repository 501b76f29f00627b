"""Admin for the catalogue and stock. Stock quantities are read-only here: they change only through
inventory.services (the actions below call them), so the ledger always explains them."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, F
from django.template.response import TemplateResponse

from common.access import action_permission
from common.actor import Actor
from common.admin import ReadOnlyAdmin, ReadOnlyInline
from common.errors import ApplicationError
from common.models import Channel
from inventory.models import (
    Category,
    Product,
    SafetyStockChange,
    StockItem,
    StockMovement,
    Transfer,
    TransferLine,
    Variant,
)
from inventory.services import adjust_to_count, receive, set_safety_stock
from stores.selectors import can_act_on_store


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ("sku", "ean", "attributes", "price", "is_active")
    show_change_link = True


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "brand", "category", "variant_count", "is_active")
    list_filter = ("category", "is_active", "brand")
    list_select_related = ("category",)
    search_fields = ("name", "brand", "variants__sku", "variants__ean")
    inlines = (VariantInline,)
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_variant_count=Count("variants"))

    @admin.display(description="variants", ordering="_variant_count")
    def variant_count(self, obj) -> int:
        return obj._variant_count

    def has_delete_permission(self, request, obj=None) -> bool:
        # Orders and the ledger point at SKUs: retire a product (is_active) instead.
        return False


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    list_display = ("sku", "ean", "product", "category", "attributes", "price", "is_active")
    list_filter = ("is_active", "product__category")
    list_select_related = ("product__category",)
    search_fields = ("sku", "ean", "product__name")
    autocomplete_fields = ("product",)
    readonly_fields = ("created_at", "updated_at")

    @admin.display(ordering="product__category__name")
    def category(self, obj) -> str:
        return obj.product.category.name

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AvailabilityFilter(admin.SimpleListFilter):
    title = "availability"
    parameter_name = "availability"

    def lookups(self, request, model_admin):
        return (
            ("out", "Out of stock (nothing available)"),
            ("scarce", "Scarce (1–2 available)"),
            ("reserved", "Something reserved"),
        )

    def queryset(self, request, queryset):
        free = F("on_hand") - F("reserved") - F("safety_stock")
        if self.value() == "out":
            return queryset.alias(free=free).filter(free__lte=0)
        if self.value() == "scarce":
            return queryset.alias(free=free).filter(free__gte=1, free__lte=2)
        if self.value() == "reserved":
            return queryset.filter(reserved__gt=0)
        return queryset


class SafetyStockForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, label="Safety stock")


class ReceiptForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, label="Quantity received (per selected row)")
    reason = forms.CharField(max_length=255, required=False, initial="Goods received")


class CountForm(forms.Form):
    counted = forms.IntegerField(min_value=0, label="Counted on the shelf")
    reason = forms.CharField(max_length=255, initial="Stock count")


@admin.register(StockItem)
class StockItemAdmin(admin.ModelAdmin):
    list_display = (
        "sku",
        "product",
        "store",
        "on_hand",
        "reserved",
        "safety_stock",
        "available",
        "updated_at",
    )
    list_filter = (AvailabilityFilter, "store", "variant__product__category")
    list_select_related = ("variant__product", "store")
    search_fields = ("variant__sku", "variant__ean", "variant__product__name", "store__code")
    readonly_fields = (
        "variant",
        "store",
        "on_hand",
        "reserved",
        "safety_stock",
        "available",
        "updated_at",
    )
    actions = ("receive_goods", "record_count", "change_safety_stock")
    has_receive_permission = action_permission("inventory.receive_stock")
    has_count_permission = action_permission("inventory.adjust_stock")

    @admin.display(ordering="variant__sku", description="SKU")
    def sku(self, obj) -> str:
        return obj.variant.sku

    @admin.display(ordering="variant__product__name")
    def product(self, obj) -> str:
        return obj.variant.label

    def has_add_permission(self, request) -> bool:
        # Stock rows appear when goods are received (inventory services).
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _form_step(self, request, queryset, form_class, title: str):
        """Intermediate page of an action: (form, None) once submitted and valid, else (None, page)."""
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                return form, None
        else:
            form = form_class()
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "items": queryset,
            "action": request.POST.get("action"),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return None, TemplateResponse(
            request, "admin/inventory/stockitem/stock_action.html", context
        )

    def _own_items(self, request, queryset) -> list[StockItem]:
        """Staff act only on their stores; the others are left out and named."""
        items = list(queryset.select_related("variant__product", "store"))
        allowed = [item for item in items if can_act_on_store(request.user, item.store)]
        foreign = sorted({item.store.code for item in items} - {i.store.code for i in allowed})
        if foreign:
            self.message_user(
                request,
                f"Left out stock of stores you do not work in: {', '.join(foreign)}.",
                messages.WARNING,
            )
        return allowed

    def _run(self, request, func, **kwargs) -> bool:
        try:
            func(**kwargs)
        except ApplicationError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return False
        return True

    @admin.action(description="Receive goods for the selected rows…", permissions=["receive"])
    def receive_goods(self, request, queryset):
        form, page = self._form_step(request, queryset, ReceiptForm, "Receive goods")
        if page:
            return page
        actor = Actor(user=request.user, channel=Channel.STORE)
        by_store: dict = {}
        for item in self._own_items(request, queryset):
            by_store.setdefault(item.store, []).append(
                (item.variant, form.cleaned_data["quantity"])
            )
        done = sum(
            len(lines)
            for store, lines in by_store.items()
            if self._run(
                request,
                receive,
                actor=actor,
                store=store,
                lines=lines,
                reason=form.cleaned_data["reason"],
            )
        )
        self.message_user(request, f"Received goods on {done} stock row(s).", messages.SUCCESS)
        return None

    @admin.action(description="Record a stock count for the selected rows…", permissions=["count"])
    def record_count(self, request, queryset):
        form, page = self._form_step(request, queryset, CountForm, "Record a stock count")
        if page:
            return page
        actor = Actor(user=request.user, channel=Channel.STORE)
        done = sum(
            self._run(
                request,
                adjust_to_count,
                actor=actor,
                store=item.store,
                variant=item.variant,
                counted=form.cleaned_data["counted"],
                reason=form.cleaned_data["reason"],
            )
            for item in self._own_items(request, queryset)
        )
        self.message_user(request, f"Recorded the count on {done} stock row(s).", messages.SUCCESS)
        return None

    @admin.action(description="Set the safety stock of the selected rows…", permissions=["change"])
    def change_safety_stock(self, request, queryset):
        form, page = self._form_step(request, queryset, SafetyStockForm, "Set safety stock")
        if page:
            return page
        actor = Actor(user=request.user, channel=Channel.STORE)
        done = sum(
            self._run(
                request,
                set_safety_stock,
                actor=actor,
                store=item.store,
                variant=item.variant,
                quantity=form.cleaned_data["quantity"],
            )
            for item in self._own_items(request, queryset)
        )
        self.message_user(request, f"Set safety stock on {done} stock row(s).", messages.SUCCESS)
        return None


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    """The ledger: append-only, so nothing here can be added, changed or deleted."""

    list_display = (
        "created_at",
        "sku",
        "store",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "cause_type",
        "cause_id",
        "who",
        "reason",
    )
    list_filter = ("kind", "cause_type", "stock_item__store")
    list_select_related = (
        "stock_item__variant",
        "stock_item__store",
        "actor_user",
        "actor_client",
    )
    search_fields = ("stock_item__variant__sku", "stock_item__variant__ean", "cause_id", "reason")
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(ordering="stock_item__variant__sku", description="SKU")
    def sku(self, obj) -> str:
        return obj.stock_item.variant.sku

    @admin.display(ordering="stock_item__store__code")
    def store(self, obj) -> str:
        return obj.stock_item.store.code

    @admin.display(description="by")
    def who(self, obj) -> str:
        if obj.actor_user_id:
            return obj.actor_user.get_username()
        if obj.actor_client_id:
            return obj.actor_client.name
        return "system"


@admin.register(SafetyStockChange)
class SafetyStockChangeAdmin(ReadOnlyAdmin):
    """Who changed a safety stock from what to what (quantities are in the ledger above)."""

    list_display = ("created_at", "stock_item", "old_quantity", "new_quantity", "who")
    list_filter = ("stock_item__store",)
    list_select_related = (
        "stock_item__variant",
        "stock_item__store",
        "actor_user",
        "actor_client",
    )
    search_fields = ("stock_item__variant__sku",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="by")
    def who(self, obj) -> str:
        if obj.actor_user_id:
            return obj.actor_user.get_username()
        if obj.actor_client_id:
            return obj.actor_client.name
        return "system"


class TransferLineInline(ReadOnlyInline):
    model = TransferLine
    fields = ("variant", "quantity")


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """Transfers move through inventory services (ship, receive); the admin shows them."""

    list_display = ("id", "from_store", "to_store", "status", "created_at", "received_at")
    list_filter = ("status", "from_store", "to_store")
    list_select_related = ("from_store", "to_store")
    search_fields = ("=id", "reason", "lines__variant__sku")
    inlines = (TransferLineInline,)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
