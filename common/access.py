"""Who may do what: one table.

Every API view declares, per HTTP method, which kinds of caller may call it and which Django
permission a staff login needs (`access = {"GET": Rule(...), "POST": Rule(...)}`); desk views
declare the same with `@desk_rule(...)` and admin actions with `action_permission(...)`. The role
groups (stores.services.ROLE_PERMISSIONS) hand the Django permissions out, so a role's rights are
configured in one place and enforced the same way in the API, the desk and the admin.

A rule says who may call at all. Which objects a caller may touch is the view's second check,
named by `scope`: `store` — staff act only on their stores' objects (403 elsewhere); `own` — a
customer login sees only its own data (404 for anyone else's, so existence does not leak).
`docs/api.md` shows the table (`manage.py permission_table` prints it) and
tests/common/test_permission_matrix.py calls every endpoint as every kind of caller against it.
"""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from rest_framework.permissions import BasePermission

from common.permissions import customer_of, is_channel_client, is_staff_user

ANY_STAFF = "any staff login"


@dataclass(frozen=True)
class Rule:
    clients: bool = False  # channel clients: the webshop's, the app's, the phone desk's servers
    customers: bool = False  # customer logins, for their own data
    staff: str | None = None  # the Django permission a staff login needs, or ANY_STAFF
    anonymous: bool = False
    scope: str = ""  # "store" or "own": the object-level check the view adds

    def allows(self, user) -> bool:
        kind = caller_kind(user)
        if kind == "anonymous":
            return self.anonymous
        if kind == "client":
            return self.clients
        if kind == "staff":
            return self.staff is not None and (self.staff == ANY_STAFF or user.has_perm(self.staff))
        if kind == "customer":
            return self.customers
        return False

    def describe(self) -> str:
        who = []
        if self.anonymous:
            who.append("anyone")
        if self.clients:
            who.append("channel clients")
        if self.customers:
            who.append("customers" + (" (own)" if self.scope else ""))
        if self.staff == ANY_STAFF:
            who.append("staff" + (" (own stores)" if self.scope == "store" else ""))
        elif self.staff:
            who.append(
                f"staff with `{self.staff}`" + (" (own stores)" if self.scope == "store" else "")
            )
        return ", ".join(who) or "nobody"


# The rules most views share.
SIGNED_IN = Rule(clients=True, customers=True, staff=ANY_STAFF)  # catalogue, stores, stock
OWN = Rule(customers=True, scope="own")  # /me/…: a customer login's own data


def caller_kind(user) -> str:
    """anonymous, client, staff, customer — or 'other' (a login that is none of these)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    if is_channel_client(user):
        return "client"
    if is_staff_user(user):
        return "staff"
    if customer_of(user) is not None:
        return "customer"
    return "other"


def rule_for(view, method: str) -> Rule | None:
    table = getattr(view, "access", None) or {}
    if method in ("HEAD", "OPTIONS"):
        method = "GET" if "GET" in table else method
    return table.get(method)


class FollowsTheTable(BasePermission):
    """The API's one permission class: the view's `access` rule for this method decides.

    A view or method without a rule is closed to everyone (fail closed); the permission matrix test
    makes sure no endpoint is left without one.
    """

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        rule = rule_for(view, request.method)
        return rule is not None and rule.allows(request.user)


def desk_rule(permission: str = ANY_STAFF, *, scope: str = "store"):
    """The desk's version for function views: staff logins with `permission` (403 without it);
    anyone who is not a staff login goes to the login page. `scope=""` for pages every staff
    member may open whatever their store (a customer is every store's customer)."""

    rule = Rule(staff=permission, scope=scope)

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if caller_kind(request.user) != "staff":
                to_login = redirect_to_login(request.get_full_path())
                if request.headers.get("HX-Request"):
                    # A fragment reload after the session ended: the whole page goes to the
                    # login, rather than the login form landing inside the fragment.
                    return HttpResponse(status=204, headers={"HX-Redirect": to_login["Location"]})
                return to_login
            if not rule.allows(request.user):
                raise PermissionDenied("Your role may not do this.")
            return view(request, *args, **kwargs)

        wrapper.desk_rule = rule
        return wrapper

    return decorate


def action_permission(permission: str):
    """For `ModelAdmin.has_<name>_permission`: the admin action needs this Django permission."""

    def has_permission(self, request) -> bool:
        return request.user.has_perm(permission)

    has_permission.permission = permission
    return has_permission
