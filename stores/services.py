"""Writes about staff: logins, their stores and their role groups."""

from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from common.errors import InvalidInput
from common.passwords import check_new_password
from stores.models import StaffRole, Store, StoreMembership
from stores.selectors import forget_memberships

# Every staff login may look at the retail apps; what they may change depends on the role.
VIEW_APPS = ("stores", "inventory", "customers", "orders")

# The role groups hand out the permissions that common.access's table asks for (docs/api.md).
STORE_STAFF_PERMISSIONS = (
    "orders.add_order",
    "orders.change_order",
    "orders.add_reservation",
    "orders.change_reservation",
    "orders.add_return",
    "orders.change_return",
    "customers.add_wishlistitem",
    "customers.change_wishlistitem",
    "customers.add_servicenote",
    # A salesperson's advice comes with a code that works online too.
    "customers.issue_discount_code",
    "inventory.receive_stock",
    "inventory.change_transfer",
)
SERVICE_AGENT_PERMISSIONS = (
    *STORE_STAFF_PERMISSIONS,
    "customers.add_customer",
    "customers.change_customer",
    "customers.merge_customer",
    "customers.export_customer",
    "customers.erase_customer",
)
MANAGER_PERMISSIONS = (
    *SERVICE_AGENT_PERMISSIONS,
    "orders.refund_return",
    "orders.unlock_hand_over",
    "orders.add_refund",
    "orders.change_refund",
    "inventory.adjust_stock",
    "inventory.add_category",
    "inventory.change_category",
    "inventory.add_product",
    "inventory.change_product",
    "inventory.add_variant",
    "inventory.change_variant",
    "inventory.change_stockitem",
    "inventory.add_transfer",
    "stores.change_store",
    "stores.add_storemembership",
    "stores.change_storemembership",
    "stores.delete_storemembership",
    "common.view_apiclient",
    "customers.add_segment",
    "customers.change_segment",
    "customers.delete_segment",
    "orders.see_insights",
)
ROLE_PERMISSIONS = {
    StaffRole.STORE_STAFF: STORE_STAFF_PERMISSIONS,
    StaffRole.SERVICE_AGENT: SERVICE_AGENT_PERMISSIONS,
    StaffRole.MANAGER: MANAGER_PERMISSIONS,
}


def _permissions(names: Sequence[str]) -> list[Permission]:
    query = Q(content_type__app_label__in=VIEW_APPS, codename__startswith="view_")
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(query))


@transaction.atomic
def ensure_staff_groups() -> dict[str, Group]:
    """One Django group per staff role (named like the role) with its model permissions.

    Re-running brings the groups back to the permissions declared here. Permissions of models
    that do not exist (yet) are skipped.
    """
    groups = {}
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set(_permissions(names))
        groups[role.value] = group
    return groups


@transaction.atomic
def create_or_update_staff(
    *,
    username: str,
    stores: Sequence[Store],
    role: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
):
    """Create a staff login or bring an existing one up to date.

    The login can use the admin (is_staff), works in exactly the given stores with the given role
    (memberships of other stores are removed) and belongs to the role's group only.
    Returns (user, created). Raises InvalidInput for an unknown role, no store, no password or a
    password that AUTH_PASSWORD_VALIDATORS refuse.
    """
    errors: dict[str, list[str]] = {}
    if role not in StaffRole.values:
        errors["role"] = [f"Use one of: {', '.join(StaffRole.values)}."]
    if not stores:
        errors["stores"] = ["A staff login needs at least one store."]
    if not password:
        errors["password"] = ["A password is needed."]
    if not (username or "").strip():
        errors["username"] = ["A username is needed."]
    if errors:
        raise InvalidInput("Invalid staff login.", errors=errors)

    User = get_user_model()
    user, created = User.objects.select_for_update().get_or_create(username=username.strip())
    user.is_staff = True
    user.is_active = True
    user.first_name = first_name or user.first_name
    user.last_name = last_name or user.last_name
    user.email = email or user.email
    # Validators see the login's names (similarity check); a refusal rolls the new login back.
    check_new_password(password, user=user, detail="Invalid staff login.")
    user.set_password(password)
    user.save()

    store_ids = {store.pk for store in stores}
    StoreMembership.objects.filter(user=user).exclude(store_id__in=store_ids).delete()
    for store in stores:
        StoreMembership.objects.update_or_create(user=user, store=store, defaults={"role": role})

    forget_memberships(user)
    groups = ensure_staff_groups()
    user.groups.remove(*[g for name, g in groups.items() if name != role])
    user.groups.add(groups[role])
    return user, created
