"""Staff page for the shared list (journey 6): open the customer's list in the store, see what
is on the shelf here, add items with a note and the salesperson's name."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from customers.models import Customer
from customers.selectors import find_customers, wishlist_of
from customers.services import add_to_wishlist
from inventory.models import Variant
from inventory.selectors import availability
from orders.desk.errors import desk_error
from stores.models import Store
from stores.selectors import store_ids_for_staff


def _find(q: str) -> Customer | None:
    """A phone number (any format) or an e-mail address."""
    if "@" in q:
        return find_customers(email=q).first()
    return find_customers(phone=q).first()


def _my_store(request) -> Store | None:
    return Store.objects.filter(pk__in=store_ids_for_staff(request.user)).order_by("code").first()


@desk_rule()
@require_safe
def shared_list(request):
    q = request.GET.get("q", "").strip()
    store = _my_store(request)
    context = {"q": q, "store": store}
    customer = _find(q) if q else None
    if q and customer is None:
        context["not_found"] = True
    if customer is not None:
        items = list(wishlist_of(customer))
        shelf = {}
        if store is not None and items:
            shelf = {
                row.sku: row.available
                for row in availability(variants=[item.variant for item in items], stores=[store])
            }
        context.update(
            customer=customer,
            items=[(item, shelf.get(item.variant.sku)) for item in items],
        )
    return render(request, "desk/lists/shared_list.html", context)


@desk_rule("customers.add_wishlistitem")
@require_POST
def add_to_shared_list(request, customer_id: int):
    customer = get_object_or_404(Customer, pk=customer_id, merged_into__isnull=True)
    q = request.POST.get("q", "")
    back = reverse("desk:shared-list") + "?" + urlencode({"q": q})
    code = request.POST.get("product", "").strip()
    variant = Variant.objects.filter(is_active=True).filter(sku__iexact=code).first() or (
        Variant.objects.filter(is_active=True, ean=code).first()
    )
    if variant is None:
        messages.error(request, _("No product with SKU or barcode “%(code)s”.") % {"code": code})
        return redirect(back)
    try:
        add_to_wishlist(
            actor=Actor(user=request.user, channel=Channel.STORE),
            customer=customer,
            variant=variant,
            note=request.POST.get("note", "").strip()[:500],
            store=_my_store(request),
        )
    except ApplicationError as exc:
        messages.error(request, desk_error(exc))
    else:
        messages.success(
            request,
            _("Added %(item)s to the list of %(customer)s.")
            % {"item": variant.label, "customer": customer.full_name or customer},
        )
    return redirect(back)


urlpatterns = [
    path("lists/", shared_list, name="shared-list"),
    path("lists/<int:customer_id>/add/", add_to_shared_list, name="shared-list-add"),
]
