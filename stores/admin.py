"""Admin for stores and who works where."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from stores.models import Store, StoreMembership


class MembershipOfStoreInline(admin.TabularInline):
    model = StoreMembership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role")
    verbose_name = "staff member"
    verbose_name_plural = "staff"


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "city",
        "is_warehouse",
        "sells_in_store",
        "offers_pickup",
        "accepts_returns",
        "takes_reservations",
        "is_active",
    )
    list_display_links = ("code", "name")
    list_filter = (
        "is_active",
        "is_warehouse",
        "offers_pickup",
        "accepts_returns",
        "takes_reservations",
        "city",
    )
    search_fields = ("code", "name", "city", "postcode")
    inlines = (MembershipOfStoreInline,)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "is_active")}),
        (
            "Address",
            {"fields": ("street", "postcode", "city", "country", "phone", "latitude", "longitude")},
        ),
        ("Opening hours", {"fields": ("time_zone", "opening_hours")}),
        (
            "What the store does",
            {
                "fields": (
                    "sells_in_store",
                    "offers_pickup",
                    "accepts_returns",
                    "takes_reservations",
                    "is_warehouse",
                )
            },
        ),
        (
            "Holds, pickups and returns",
            {
                "fields": (
                    "default_hold_hours",
                    "max_hold_hours",
                    "max_hold_extensions",
                    "pickup_window_days",
                    "return_window_days",
                )
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    def has_delete_permission(self, request, obj=None) -> bool:
        # Stock, orders and the ledger point at stores: close a store (is_active) instead.
        return False


@admin.register(StoreMembership)
class StoreMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "store", "role", "created_at")
    list_filter = ("role", "store")
    list_select_related = ("user", "store")
    search_fields = ("user__username", "user__first_name", "user__last_name", "store__code")
    autocomplete_fields = ("user", "store")


class MembershipOfUserInline(admin.TabularInline):
    model = StoreMembership
    extra = 0
    autocomplete_fields = ("store",)
    fields = ("store", "role")
    verbose_name = "store"
    verbose_name_plural = "works in"


User = get_user_model()


class StaffUserAdmin(UserAdmin):
    """Django's user admin plus the stores the login works in."""

    inlines = (*UserAdmin.inlines, MembershipOfUserInline)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
