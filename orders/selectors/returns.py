"""Reads about returns: what is still returnable, returns per customer and store, the counter's
order look-up, and store credit."""

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from common.compiled import CompiledQuery
from common.rows import as_prefetched
from customers.models import Customer, ServiceNote, StoreCreditEntry
from customers.selectors import find_customers
from orders.models import (
    Order,
    OrderLine,
    Refund,
    Return,
    ReturnLine,
    ReturnStatus,
    ReturnStatusChange,
)


def return_with_details() -> QuerySet[Return]:
    """Returns with everything their detail view shows, in a fixed number of queries."""
    return Return.objects.select_related(
        "order", "customer", "store", "replacement_order"
    ).prefetch_related(
        Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line").order_by("pk")),
        Prefetch(
            "refunds",
            queryset=Refund.objects.select_related("return_request").order_by("created_at", "pk"),
        ),
        "history",
    )


# Every step of a return answers with its detail: compiled once per process (common.compiled).
_RETURN = CompiledQuery(
    lambda pk: Return.objects.select_related(
        "order", "customer", "store", "replacement_order"
    ).filter(pk=pk)
)
_RETURN_LINES = CompiledQuery(
    lambda pk: (
        ReturnLine.objects.select_related("order_line").filter(return_request_id=pk).order_by("pk")
    )
)
_RETURN_REFUNDS = CompiledQuery(
    lambda pk: Refund.objects.filter(return_request_id=pk).order_by("created_at", "pk")
)
_RETURN_HISTORY = CompiledQuery(lambda pk: ReturnStatusChange.objects.filter(return_request_id=pk))
_RETURN_WITH_STORE = CompiledQuery(lambda pk: Return.objects.select_related("store").filter(pk=pk))


def return_with_store(pk: int) -> Return | None:
    """A return and the store it arrives at (who may act on it), or None."""
    return _RETURN_WITH_STORE.first(pk=pk)


def return_detail(pk: int) -> Return | None:
    """One return with what `return_with_details` loads for it, or None."""
    return_request = _RETURN.first(pk=pk)
    if return_request is None:
        return None
    related = {
        "lines": _RETURN_LINES.objects(pk=pk),
        "refunds": _RETURN_REFUNDS.objects(pk=pk),
        "history": _RETURN_HISTORY.objects(pk=pk),
    }
    for rows in related.values():
        for row in rows:
            # As a prefetch leaves them: each row knows its return without a query.
            type(row).return_request.field.set_cached_value(row, return_request)
    return as_prefetched(return_request, **related)


def returns_of_customer(customer: Customer) -> QuerySet[Return]:
    return return_with_details().filter(customer=customer).order_by("-created_at", "-pk")


def returns_for_stores(
    store_ids, *, status: str | None = None, store_code: str | None = None
) -> QuerySet[Return]:
    """Returns arriving at the given stores (a staff member's), newest first."""
    qs = return_with_details().filter(store_id__in=list(store_ids))
    if status:
        qs = qs.filter(status=status)
    if store_code:
        qs = qs.filter(store__code=store_code)
    return qs.order_by("-created_at", "-pk")


def order_lines_with_returnable(order: Order) -> list[OrderLine]:
    """The order's lines, each with `in_returns` and `returnable` (handed over minus units held by
    returns that were not rejected)."""
    lines = (
        OrderLine.objects.filter(order=order)
        .annotate(
            in_returns=Coalesce(
                Sum(
                    "return_lines__quantity",
                    filter=~Q(return_lines__return_request__status=ReturnStatus.REJECTED),
                ),
                0,
            )
        )
        .order_by("pk")
    )
    result = list(lines)
    for line in result:
        line.returnable = max(line.handed_over - line.in_returns, 0)
    return result


def find_orders_for_counter(query: str) -> QuerySet[Order]:
    """The counter's look-up: an order number (typed or scanned from the receipt barcode), or a
    customer's phone number in any format or e-mail address."""
    query = (query or "").strip()
    base = Order.objects.select_related("customer", "fulfilment_store", "pickup_store").order_by(
        "-created_at", "-pk"
    )
    if not query:
        return base.none()
    # A scanner may send the receipt's barcode with a prefix such as "ORDER:".
    number = query.upper().removeprefix("ORDER:").strip()
    by_number = base.filter(number=number)
    if by_number.exists():
        return by_number
    if "@" in query:
        customers = find_customers(email=query)
    elif any(ch.isdigit() for ch in query):
        customers = find_customers(phone=query)
    else:
        return base.none()
    return base.filter(customer__in=customers.values("pk"))


def service_notes_of(customer: Customer, limit: int = 20) -> list[ServiceNote]:
    """The customer's latest service notes, shown wherever the customer is served."""
    return list(
        ServiceNote.objects.filter(customer=customer)
        .select_related("store", "author_user", "author_client")
        .order_by("-created_at", "-pk")[:limit]
    )


def store_credit_entries(customer: Customer) -> QuerySet[StoreCreditEntry]:
    return StoreCreditEntry.objects.filter(customer=customer).order_by("-created_at", "-pk")
