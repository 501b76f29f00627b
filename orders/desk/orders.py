"""Staff page: today's click & collect in my stores: orders to pick, and orders waiting at the
counter with a hand-over form that checks the customer's pickup code."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from orders.models.orders import Fulfilment, OrderStatus
from orders.selectors.orders import order_by_number, orders_for_staff
from orders.services import orders as services
from stores.models import Store
from stores.selectors import store_ids_for_staff


@desk_rule()
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
        messages.error(request, f"{order.number}: {exc.detail}")
    else:
        messages.success(
            request, f"{order.number} is ready; the customer has been sent the pickup code."
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
        messages.error(request, f"{order.number}: {exc.detail}")
    else:
        messages.success(request, f"{order.number} handed over.")
    return _back(request)


urlpatterns = [
    path("pickups/", pickups, name="pickups"),
    path("pickups/<str:number>/ready/", mark_ready, name="pickup-ready"),
    path("pickups/<str:number>/hand-over/", hand_over, name="pickup-hand-over"),
]
