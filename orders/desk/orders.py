"""Staff page: today's click & collect in my stores: orders to pick, and orders waiting at the
counter with a hand-over form that checks the customer's pickup code."""

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from orders.desk.confirm import confirmed
from orders.desk.errors import desk_error
from orders.models.orders import Fulfilment, Order, OrderStatus
from orders.selectors.orders import order_by_number, orders_for_staff
from orders.services import orders as services
from stores.models import Store
from stores.selectors import store_ids_for_staff


@desk_rule()
@require_safe
def pickups(request):
    store_code = request.GET.get("store") or None
    orders = (
        orders_for_staff(request.user, store_code=store_code)
        .filter(
            fulfilment=Fulfilment.PICKUP,
            status__in=[OrderStatus.PLACED, OrderStatus.READY_FOR_PICKUP],
        )
        .select_related("transfer")[:200]
    )
    to_pick = [o for o in orders if o.status == OrderStatus.PLACED]
    waiting = [o for o in orders if o.status == OrderStatus.READY_FOR_PICKUP]
    stores = Store.objects.filter(pk__in=store_ids_for_staff(request.user), offers_pickup=True)
    return render(
        request,
        "desk/orders/pickups.html",
        {"to_pick": to_pick, "waiting": waiting, "stores": stores, "store_code": store_code},
    )


def _order_of_my_store(request, number: str):
    order = order_by_number(number)
    if order is None or order.pickup_store_id not in store_ids_for_staff(request.user):
        raise Http404
    return order


def _back(request):
    return redirect(
        reverse("desk:pickups")
        + (f"?store={request.POST['store']}" if request.POST.get("store") else "")
    )


@desk_rule("orders.change_order")
@require_POST
def mark_ready(request, number: str):
    order = _order_of_my_store(request, number)
    try:
        services.mark_ready_for_pickup(
            actor=Actor(user=request.user, channel=Channel.STORE), order=order
        )
    except ApplicationError as exc:
        messages.error(request, f"{order.number}: {desk_error(exc)}")
    else:
        messages.success(
            request,
            _("%(number)s is ready; the customer has been sent the pickup code.")
            % {"number": order.number},
        )
    return _back(request)


@desk_rule("orders.change_order")
@require_POST
def hand_over(request, number: str):
    order = _order_of_my_store(request, number)
    try:
        services.hand_over(
            actor=Actor(user=request.user, channel=Channel.STORE),
            order=order,
            pickup_code=request.POST.get("pickup_code", ""),
        )
    except ApplicationError as exc:
        messages.error(request, f"{order.number}: {desk_error(exc)}")
    else:
        messages.success(request, _("%(number)s handed over.") % {"number": order.number})
    return _back(request)


MAX_SCAN = 80
MAX_REASON = 200


@desk_rule()
@require_safe
def pickup_scan(request):
    """The counter scanned the QR code of the ready e-mail (or typed the code): the order it
    names, with a button to hand it over."""
    raw = request.GET.get("code", "").strip()
    error = ""
    order = None
    if not raw:
        error = _("Scan the QR code or type the pickup code.")
    elif len(raw) > MAX_SCAN:
        error = _("This is not a pickup code.")
    else:
        number, code = services.read_pickup_scan(raw)
        waiting = Order.objects.select_related("customer", "pickup_store").filter(
            status=OrderStatus.READY_FOR_PICKUP,
            pickup_store_id__in=store_ids_for_staff(request.user),
        )
        order = waiting.filter(Q(number=number) if number else Q(pickup_code=code)).first()
        if order is None:
            error = _("No order waiting in your stores has this code.")
    if order is None:
        return render(request, "desk/orders/scan.html", {"code": raw[:MAX_SCAN], "error": error})
    return render(
        request,
        "desk/orders/scan.html",
        {"code": raw, "order": order, "lines": list(order.lines.all())},
    )


def _cancellable(request, number: str) -> Order:
    order = order_by_number(number)
    mine = store_ids_for_staff(request.user)
    if order is None or not (order.pickup_store_id in mine or order.fulfilment_store_id in mine):
        raise Http404
    return order


@desk_rule("orders.change_order")
def cancel(request, number: str):
    """Cancel an order with a reason (said to the customer and kept in the history); asks first."""
    order = _cancellable(request, number)
    reason = request.POST.get("reason", "").strip() if request.method == "POST" else ""
    error = ""
    if request.method == "POST":
        if not reason:
            error = _("Say why the order is cancelled.")
        elif len(reason) > MAX_REASON:
            error = _("At most %(max)s characters.") % {"max": MAX_REASON}
        elif confirmed(request):
            try:
                services.cancel_order(
                    actor=Actor(user=request.user, channel=Channel.STORE),
                    order=order,
                    reason=reason,
                )
            except ApplicationError as exc:
                error = desk_error(exc)
            else:
                messages.success(
                    request,
                    _("%(number)s cancelled; the items are back on sale.")
                    % {"number": order.number},
                )
                return redirect("desk:pickups")
    return render(
        request,
        "desk/orders/cancel.html",
        {
            "order": order,
            "lines": list(order.lines.all()),
            "reason": reason[:MAX_REASON],
            "error": error,
            "ask": request.method == "POST" and not error,
        },
    )


urlpatterns = [
    path("pickups/", pickups, name="pickups"),
    path("pickups/scan/", pickup_scan, name="pickup-scan"),
    path("orders/<str:number>/cancel/", cancel, name="order-cancel"),
    path("pickups/<str:number>/ready/", mark_ready, name="pickup-ready"),
    path("pickups/<str:number>/hand-over/", hand_over, name="pickup-hand-over"),
]
