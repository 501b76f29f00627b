"""Who may call what: channel clients, staff logins, customer logins."""

from rest_framework.permissions import BasePermission

from common.actor import ClientPrincipal


def is_channel_client(user) -> bool:
    return isinstance(user, ClientPrincipal)


def customer_of(user):
    """The Customer behind a customer login, or None."""
    if is_channel_client(user) or getattr(user, "pk", None) is None:
        return None
    return getattr(user, "customer", None)


def is_staff_user(user) -> bool:
    from stores.selectors import is_staff_member

    return not is_channel_client(user) and is_staff_member(user)


class IsChannelClient(BasePermission):
    message = "Only an API client of a channel may call this."

    def has_permission(self, request, view) -> bool:
        return is_channel_client(request.user)


class IsStaffMember(BasePermission):
    message = "Only store staff may call this."

    def has_permission(self, request, view) -> bool:
        return is_staff_user(request.user)


class IsCustomerLogin(BasePermission):
    message = "Only a customer login may call this."

    def has_permission(self, request, view) -> bool:
        return customer_of(request.user) is not None


class IsChannelClientOrStaff(BasePermission):
    message = "Only an API client or store staff may call this."

    def has_permission(self, request, view) -> bool:
        return is_channel_client(request.user) or is_staff_user(request.user)
