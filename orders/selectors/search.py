"""One search box for the desk and `GET /api/v1/staff/search/`: whatever the staff member types
or scans, the order, hold, return or customer it names.

What a query can be: a pickup code (typed, or the QR payload `OMNIS-PICKUP:<number>:<code>` from
the ready e-mail), an order number (also scanned from a receipt as `ORDER:<number>`), a return
number (`R-000012`), a reservation id, a phone number in any format, an e-mail address, or — for
service agents and managers, from 3 characters — a name. Orders, holds and returns are found only
in the caller's stores (as in the API); customers by exact phone or e-mail for every staff login.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from customers.models import Customer
from customers.selectors import find_customers, may_search_by_name
from orders.models import Order, Reservation, Return
from orders.services.orders import PICKUP_CODE_LENGTH
from stores.selectors import is_service_agent, store_ids_for_staff

# Longer than any code, number, phone, address or name anyone types: refused, not searched.
MAX_QUERY_LENGTH = 254
MIN_NAME_LENGTH = 3
MAX_RESULTS = 20
QR_PREFIX = "OMNIS-PICKUP:"
RECEIPT_PREFIX = "ORDER:"
_CODE = re.compile(r"^[A-Z0-9]{4,12}$")
_NUMBER = re.compile(r"^[A-Z]{1,3}-\d{1,12}$")


class SearchRefused(ValueError):
    """The query cannot be searched: empty, too long, or too short for a name."""


class NameSearchNotAllowed(SearchRefused):
    """A name search by a role that may look people up only by exact phone or e-mail."""


@dataclass(frozen=True)
class SearchHit:
    kind: str  # order, reservation, return, customer
    id: Any  # the order number, the return's or reservation's or customer's id
    label: str
    obj: Any


def _order_label(order: Order) -> str:
    return _("Order %(number)s · %(status)s · %(customer)s") % {
        "number": order.number,
        "status": order.get_status_display(),
        "customer": order.customer,
    }


def _reservation_label(hold: Reservation) -> str:
    return _("Hold %(id)s · %(store)s · %(status)s · %(customer)s") % {
        "id": hold.pk,
        "store": hold.store.code,
        "status": hold.get_status_display(),
        "customer": hold.customer,
    }


def _return_label(return_request: Return) -> str:
    return _("Return %(number)s · order %(order)s · %(status)s · %(customer)s") % {
        "number": return_request.number,
        "order": return_request.order.number,
        "status": return_request.get_status_display(),
        "customer": return_request.customer,
    }


def _customer_label(customer: Customer) -> str:
    contact = " · ".join(v for v in (customer.phone, customer.email) if v)
    return f"{customer.full_name or _('(no name)')} · {contact}"


def search_for_staff(user, query: str) -> list[SearchHit]:
    """Everything the query names that this staff member may see, most specific first.

    Raises SearchRefused for an empty or overlong query, or a name search by a role without it.
    At most 8 queries, however many rows match.
    """
    query = (query or "").strip()
    if not query:
        raise SearchRefused(_("Type or scan a code, number, phone, e-mail or name."))
    if len(query) > MAX_QUERY_LENGTH:
        raise SearchRefused(
            _("That is too long to be a code, number or name (at most %(max)d characters).")
            % {"max": MAX_QUERY_LENGTH}
        )
    store_ids = store_ids_for_staff(user)
    upper = query.upper()
    hits: list[SearchHit] = []

    # Orders: the QR payload, a receipt scan, an order number or a pickup code.
    order_filter = None
    if upper.startswith(QR_PREFIX):
        number, _sep, code = upper.removeprefix(QR_PREFIX).partition(":")
        order_filter = Q(number=number.strip(), pickup_code=code.strip())
    elif upper.startswith(RECEIPT_PREFIX):
        order_filter = Q(number=upper.removeprefix(RECEIPT_PREFIX).strip())
    elif _NUMBER.match(upper) or _CODE.match(upper):
        order_filter = Q(number=upper) | Q(pickup_code=upper, status="ready_for_pickup")
    if order_filter is not None:
        orders = (
            Order.objects.filter(order_filter)
            .filter(Q(pickup_store_id__in=store_ids) | Q(fulfilment_store_id__in=store_ids))
            .select_related("customer", "pickup_store")
            .order_by("-created_at", "-pk")[:MAX_RESULTS]
        )
        hits += [SearchHit("order", o.number, _order_label(o), o) for o in orders]

    if _NUMBER.match(upper):
        returns = Return.objects.filter(number=upper, store_id__in=store_ids).select_related(
            "order", "customer"
        )
        hits += [SearchHit("return", r.pk, _return_label(r), r) for r in returns]

    digits = query.lstrip("#")
    if digits.isdigit() and len(digits) <= 12:
        holds = Reservation.objects.filter(pk=int(digits)).select_related("store", "customer")
        if not is_service_agent(user):  # service agents reserve, and see holds, everywhere
            holds = holds.filter(store_id__in=store_ids)
        hits += [SearchHit("reservation", h.pk, _reservation_label(h), h) for h in holds]

    customers = Customer.objects.none()
    if "@" in query:
        customers = find_customers(email=query)
    elif sum(ch.isdigit() for ch in query) >= 6:
        customers = find_customers(phone=query)
    elif hits or any(ch.isdigit() for ch in query):
        pass  # a number that names nothing here is not a name
    elif len(query) >= MIN_NAME_LENGTH:
        if not may_search_by_name(user):
            if len(upper) == PICKUP_CODE_LENGTH and _CODE.match(upper):
                return hits  # a pickup code of no order here, not a name
            raise NameSearchNotAllowed(
                _(
                    "Searching by name is for service agents and managers; "
                    "look up by exact phone or e-mail."
                )
            )
        customers = find_customers(q=query)
    else:
        raise SearchRefused(_("Type at least %(min)d characters.") % {"min": MIN_NAME_LENGTH})
    hits += [
        SearchHit("customer", c.pk, _customer_label(c), c)
        for c in customers.order_by("last_name", "first_name", "pk")[:MAX_RESULTS]
    ]
    return hits
