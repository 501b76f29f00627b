"""The desk's search box (in every page's header): one hit opens its page, several are listed."""

from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_safe

from common.access import desk_rule
from orders.models import OrderStatus, ReservationStatus
from orders.selectors.search import SearchHit, SearchRefused, search_for_staff


def desk_url(hit: SearchHit) -> str:
    """The desk page where the found thing is acted on."""
    obj = hit.obj
    if hit.kind == "order":
        if obj.pickup_store_id and obj.status in (OrderStatus.PLACED, OrderStatus.READY_FOR_PICKUP):
            return (
                reverse("desk:pickups")
                + f"?store={obj.pickup_store.code}&order={obj.number}#order-{obj.number}"
            )
        return reverse("desk:return-order", args=[obj.number])
    if hit.kind == "reservation":
        if obj.status == ReservationStatus.ACTIVE:
            return reverse("desk:store-reservations") + f"#reservation-{obj.pk}"
        return reverse("desk:customer", args=[obj.customer_id])
    if hit.kind == "return":
        return reverse("desk:return-detail", args=[obj.pk])
    return reverse("desk:customer", args=[obj.pk])


@desk_rule()
@require_safe
def search(request):
    q = request.GET.get("q", "")
    context = {"q": q.strip(), "hits": []}
    try:
        hits = search_for_staff(request.user, q)
    except SearchRefused as exc:
        context["error"] = str(exc)
        return render(request, "desk/search.html", context, status=200)
    if len(hits) == 1:
        return redirect(desk_url(hits[0]))
    context["hits"] = [(hit, desk_url(hit)) for hit in hits]
    return render(request, "desk/search.html", context)


urlpatterns = [path("search/", search, name="search")]
