"""Admin for stores and who works where."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from common.admin import HistoryAdmin
from stores.models import StaffRole, Store, StoreMembership
from stores.selectors import store_ids_for_staff

User = get_user_model()
ROLE_RANK = {StaffRole.STORE_STAFF: 1, StaffRole.SERVICE_AGENT: 2, StaffRole.MANAGER: 3}


def managed_store_ids(user) -> set[int]:
    """The stores whose record and staff this login may change: a manager's own stores."""
    if user.is_superuser:
        return set(Store.objects.values_list("pk", flat=True))
    return set(
        StoreMembership.objects.filter(user=user, role=StaffRole.MANAGER).values_list(
            "store_id", flat=True
        )
    )


def grantable_roles(user) -> list[tuple[str, str]]:
    """Nobody grants a role above their own."""
    if user.is_superuser:
        return list(StaffRole.choices)
    own = max(
        (
            ROLE_RANK[r]
            for r in StoreMembership.objects.filter(user=user).values_list("role", flat=True)
        ),
        default=0,
    )
    return [(value, label) for value, label in StaffRole.choices if ROLE_RANK[value] <= own]


class ScopedMembershipFields:
    """Store, login and role choices limited to what the acting manager may hand out."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "store" and not request.user.is_superuser:
            kwargs["queryset"] = Store.objects.filter(pk__in=managed_store_ids(request.user))
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = User.objects.filter(is_staff=True, is_superuser=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["choices"] = grantable_roles(request.user)
        return super().formfield_for_choice_field(db_field, request, **kwargs)


class MembershipOfStoreInline(ScopedMembershipFields, admin.TabularInline):
    model = StoreMembership
    extra = 0
    fields = ("user", "role")
    verbose_name = "staff member"
    verbose_name_plural = "staff"

    def get_autocomplete_fields(self, request):
        # The user search needs the user admin, which only superusers have.
        return ("user",) if request.user.is_superuser else ()


@admin.register(Store)
class StoreAdmin(HistoryAdmin):
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

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(pk__in=store_ids_for_staff(request.user))

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.pk in managed_store_ids(request.user))

    def has_delete_permission(self, request, obj=None) -> bool:
        # Stock, orders and the ledger point at stores: close a store (is_active) instead.
        return False


@admin.register(StoreMembership)
class StoreMembershipAdmin(ScopedMembershipFields, HistoryAdmin):
    """Managers see and change the staff of the stores they manage, up to their own role."""

    list_display = ("user", "store", "role", "created_at")
    list_filter = ("role", "store")
    list_select_related = ("user", "store")
    search_fields = ("user__username", "user__first_name", "user__last_name", "store__code")

    def get_autocomplete_fields(self, request):
        return ("user", "store") if request.user.is_superuser else ()

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(store_id__in=managed_store_ids(request.user))

    def _may_change(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        rank = dict(grantable_roles(request.user))
        return obj.store_id in managed_store_ids(request.user) and obj.role in rank

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_change(request, obj)


class MembershipOfUserInline(admin.TabularInline):
    model = StoreMembership
    extra = 0
    autocomplete_fields = ("store",)
    fields = ("store", "role")
    verbose_name = "store"
    verbose_name_plural = "works in"


class StaffUserAdmin(UserAdmin):
    """Django's user admin plus the stores the login works in."""

    inlines = (*UserAdmin.inlines, MembershipOfUserInline)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
