"""The returns counter: find the order (number, receipt barcode, customer phone or e-mail), see
what can still come back and the customer's service notes, tick lines and conditions, refund —
one submit. Announced returns waiting at the staff member's stores are received here too."""

from decimal import Decimal

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.formatting import money
from common.models import Channel
from customers.services import store_credit_balance
from orders.desk.confirm import confirm_page, confirmed
from orders.desk.errors import desk_error, english
from orders.desk.numbers import MAX_QUANTITY, object_id, whole_number
from orders.models import LineCondition, Order, RefundMethod, Return, ReturnReason, ReturnStatus
from orders.selectors.returns import (
    find_orders_for_counter,
    order_lines_with_returnable,
    return_with_details,
    returns_for_stores,
    service_notes_of,
)
from orders.services.returns import (
    ReturnLineRequest,
    counter_return,
    receive_return,
    refund_return,
    return_deadline,
)
from stores.models import Store
from stores.selectors import store_ids_for_staff


def _error_text(exc: ApplicationError) -> str:
    parts = [desk_error(exc)]
    if not english():
        return " ".join(parts)
    for field, problems in exc.errors.items():
        for problem in problems:
            if isinstance(problem, dict):
                parts += [f"{k}: {' '.join(map(str, v))}" for k, v in problem.items()]
            else:
                parts.append(f"{field}: {problem}")
    return " ".join(parts)


def _counter_stores(user) -> list[Store]:
    """The staff member's locations that take returns."""
    return list(
        Store.objects.filter(
            pk__in=store_ids_for_staff(user), accepts_returns=True, is_active=True
        ).order_by("code")
    )


def _actor(request) -> Actor:
    return Actor(user=request.user, channel=Channel.STORE)


@desk_rule()
@require_safe
def returns_counter(request):
    """Search box (order number, scanned receipt barcode, phone, e-mail) and the returns that
    were announced for this counter."""
    q = request.GET.get("q", "").strip()
    orders = list(find_orders_for_counter(q)[:20]) if q else []
    if len(orders) == 1:
        return redirect("desk:return-order", number=orders[0].number)
    waiting = returns_for_stores(store_ids_for_staff(request.user)).filter(
        status__in=[ReturnStatus.REQUESTED, ReturnStatus.RECEIVED]
    )[:50]
    return render(
        request,
        "desk/returns/counter.html",
        {"q": q, "orders": orders, "searched": bool(q), "waiting": waiting},
    )


@desk_rule()
@require_safe
def return_order(request, number: str):
    """One order: lines with what is still returnable, the customer's notes, the return form."""
    order = get_object_or_404(
        Order.objects.select_related("customer", "fulfilment_store", "pickup_store"),
        number=number,
    )
    stores = _counter_stores(request.user)
    lines = order_lines_with_returnable(order)
    now = timezone.now()
    deadlines = [(store, return_deadline(order, store)) for store in stores]
    context = {
        "order": order,
        "customer": order.customer,
        "lines": lines,
        "any_returnable": any(line.returnable for line in lines),
        "notes": service_notes_of(order.customer),
        "credit": store_credit_balance(order.customer),
        "stores": stores,
        "window_open": any(deadline >= now for _, deadline in deadlines),
        "deadlines": deadlines,
        "reasons": ReturnReason.choices,
        "conditions": LineCondition.choices,
        "refund_methods": RefundMethod.choices,
        "returns": order.returns.select_related("store").order_by("-created_at"),
    }
    return render(request, "desk/returns/order.html", context)


@desk_rule("orders.add_return")
@require_POST
def return_order_submit(request, number: str):
    """Create the return, receive it into the chosen counter and refund — all or nothing."""
    order = get_object_or_404(Order.objects.select_related("customer"), number=number)
    back = reverse("desk:return-order", kwargs={"number": order.number})
    stores = {store.code: store for store in _counter_stores(request.user)}
    store = stores.get(request.POST.get("store", ""))
    if store is None:
        messages.error(request, _("Choose one of your stores that takes returns."))
        return redirect(back)
    lines: list[ReturnLineRequest] = []
    conditions: list[str] = []
    for raw in request.POST.getlist("line"):
        pk = object_id(raw)
        quantity = whole_number(request.POST.get(f"quantity_{pk}", "1"), minimum=1)
        if pk is None or quantity is None:
            messages.error(
                request,
                _("Quantities are whole numbers from 1 to %(max)s.") % {"max": MAX_QUANTITY},
            )
            return redirect(back)
        lines.append(
            ReturnLineRequest(
                order_line=pk,
                quantity=quantity,
                reason=request.POST.get(f"reason_{pk}", ""),
                reason_text=request.POST.get(f"reason_text_{pk}", "").strip(),
            )
        )
        conditions.append(request.POST.get(f"condition_{pk}", ""))
    if not lines:
        messages.error(request, _("Tick at least one line to return."))
        return redirect(back)
    if request.user.has_perm("orders.refund_return") and not confirmed(request):
        return confirm_page(
            request,
            title=_("Return and refund"),
            question=_("Take these items back and refund order %(number)s now?")
            % {"number": order.number},
            button=_("Yes, return and refund"),
            back=back,
            details=_return_details(order, lines),
        )
    try:
        return_request, refunds = counter_return(
            actor=_actor(request),
            order=order,
            store=store,
            lines=lines,
            conditions=conditions,
            refund_method=request.POST.get("refund_method", ""),
            override_reason=request.POST.get("override_reason", "").strip(),
            refund=request.user.has_perm("orders.refund_return"),
        )
    except ApplicationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(back)
    if not refunds:
        messages.success(
            request,
            _("Return %(number)s received at %(store)s. A manager refunds it (your role may not).")
            % {"number": return_request.number, "store": return_request.store.code},
        )
        return redirect(back)
    messages.success(request, _refund_message(return_request, refunds, order.currency))
    return redirect(back)


def _refund_message(return_request: Return, refunds, currency: str) -> str:
    total = sum((r.amount for r in refunds), Decimal("0.00"))
    how = _(" and ").join(_refund_part(r, currency) for r in refunds)
    return _("Return %(number)s received at %(store)s. Refunded %(total)s: %(how)s.") % {
        "number": return_request.number,
        "store": return_request.store.code,
        "total": money(total, currency),
        "how": how,
    }


def _refund_part(refund, currency: str) -> str:
    amount = money(refund.amount, currency)
    if refund.method != RefundMethod.ORIGINAL:
        return _("%(amount)s as store credit") % {"amount": amount}
    if refund.provider_reference:
        return _("%(amount)s to the original payment (ref. %(ref)s)") % {
            "amount": amount,
            "ref": refund.provider_reference,
        }
    return _("%(amount)s to the original payment (on its way through the payment service)") % {
        "amount": amount
    }


@desk_rule()
@require_safe
def return_detail(request, pk: int):
    """An announced return at one of my stores: receive it (conditions per line) and refund."""
    return_request = get_object_or_404(return_with_details(), pk=pk)
    if return_request.store_id not in store_ids_for_staff(request.user):
        messages.error(request, _("This return arrives at a store you do not work in."))
        return redirect("desk:returns")
    return render(
        request,
        "desk/returns/detail.html",
        {
            "r": return_request,
            "notes": service_notes_of(return_request.customer),
            "conditions": LineCondition.choices,
            "refund_methods": RefundMethod.choices,
        },
    )


@desk_rule("orders.change_return")
@require_POST
def return_receive(request, pk: int):
    return_request = get_object_or_404(Return, pk=pk)
    back = reverse("desk:return-detail", kwargs={"pk": pk})
    conditions = {
        line.pk: request.POST.get(f"condition_{line.pk}", "") for line in return_request.lines.all()
    }
    try:
        receive_return(actor=_actor(request), return_request=return_request, conditions=conditions)
    except ApplicationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(back)
    messages.success(request, _("Return %(number)s received.") % {"number": return_request.number})
    return redirect(back)


@desk_rule("orders.refund_return")
@require_POST
def return_refund(request, pk: int):
    return_request = get_object_or_404(Return.objects.select_related("order", "store"), pk=pk)
    back = reverse("desk:return-detail", kwargs={"pk": pk})
    if return_request.store_id not in store_ids_for_staff(request.user):
        messages.error(request, _("This return arrives at a store you do not work in."))
        return redirect("desk:returns")
    if not confirmed(request):
        return confirm_page(
            request,
            title=_("Refund return %(number)s") % {"number": return_request.number},
            question=_("Pay the refund for return %(number)s now?")
            % {"number": return_request.number},
            button=_("Yes, refund"),
            back=back,
        )
    try:
        refunds = refund_return(
            actor=_actor(request),
            return_request=return_request,
            method=request.POST.get("refund_method", ""),
        )
    except ApplicationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(back)
    return_request.refresh_from_db()
    messages.success(
        request, _refund_message(return_request, refunds, return_request.order.currency)
    )
    return redirect(back)


urlpatterns = [
    path("returns/", returns_counter, name="returns"),
    path("returns/order/<str:number>/", return_order, name="return-order"),
    path("returns/order/<str:number>/return/", return_order_submit, name="return-order-submit"),
    path("returns/<int:pk>/", return_detail, name="return-detail"),
    path("returns/<int:pk>/receive/", return_receive, name="return-receive"),
    path("returns/<int:pk>/refund/", return_refund, name="return-refund"),
]


def _return_details(order, lines: list[ReturnLineRequest]) -> list[str]:
    """What goes back, line by line, so the confirmation says what will be refunded."""
    by_id = {line.pk: line for line in order.lines.select_related("variant__product")}
    details = []
    for wanted in lines:
        line = by_id.get(wanted.order_line)
        if line is None:
            continue
        details.append(
            f"{wanted.quantity} × {line.variant.product.name} ({line.variant.sku}) · "
            f"{money(line.unit_price * wanted.quantity, order.currency)}"
        )
    return details
