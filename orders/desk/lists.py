"""Staff page for the shared list (journey 6): open the customer's list in the store, see what
is on the shelf here and in the warehouse, add items with a note and the salesperson's name, and
reserve an item here or order it to this store (from the warehouse when the shelf is empty)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.formatting import local_datetime
from common.models import Channel
from customers.models import Customer, WishlistItem
from customers.selectors import find_customers, wishlist_of
from customers.services import add_to_wishlist
from inventory.models import StockItem, Variant
from inventory.selectors import availability
from orders.desk.confirm import confirm_page, confirmed
from orders.desk.errors import desk_error, english
from orders.desk.numbers import MAX_QUANTITY, whole_number
from orders.models.orders import Fulfilment, PaymentStatus
from orders.selectors.reservations import reservation_stores_for
from orders.services.orders import place_order
from orders.services.reservations import reserve_for_customer
from stores.models import Store
from stores.selectors import store_ids_for_staff

MAX_CODE = 64  # a SKU or an EAN-13; longer is not one
MAX_NOTE = 500  # WishlistItem.note
MAX_QUERY = 254  # a phone number or an e-mail address


def _find(q: str) -> Customer | None:
    """A phone number (any format) or an e-mail address."""
    if "@" in q:
        return find_customers(email=q).first()
    return find_customers(phone=q).first()


def _my_store(request) -> Store | None:
    return Store.objects.filter(pk__in=store_ids_for_staff(request.user)).order_by("code").first()


def _in_warehouses(variants) -> dict[int, int]:
    """{variant id: available in the active warehouses} — what an order to this store can draw."""
    rows = (
        StockItem.objects.filter(
            variant__in=variants, store__is_warehouse=True, store__is_active=True
        )
        .values("variant_id")
        .annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved"), safety=Sum("safety_stock"))
    )
    return {
        row["variant_id"]: max(row["on_hand"] - row["reserved"] - row["safety"], 0) for row in rows
    }


def _render(
    request,
    *,
    q: str,
    errors: dict | None = None,
    status: int = 200,
    typed: dict | None = None,
    customer: Customer | None = None,
):
    """The list page; `errors` = {"sku": the item's SKU or "", "field": message, ...} puts a
    refusal next to the field of the form it came from; `typed` keeps what was typed."""
    store = _my_store(request)
    context = {"q": q or "", "store": store, "errors": errors or {}, "typed": typed or {}}
    customer = customer or (_find(q) if q else None)
    if customer is not None and not q:
        q = context["q"] = customer.phone or customer.email or ""
    if q and customer is None:
        context["not_found"] = True
    if customer is not None:
        items = list(wishlist_of(customer))
        shelf, warehouse = {}, {}
        if items:
            variants = [item.variant for item in items]
            warehouse = _in_warehouses(variants)
            if store is not None:
                shelf = {
                    row.sku: row.available
                    for row in availability(variants=variants, stores=[store])
                }
        may_reserve_here = (
            store is not None
            and request.user.has_perm("orders.add_reservation")
            and reservation_stores_for(request.user).filter(pk=store.pk).exists()
        )
        context.update(
            customer=customer,
            items=[
                {
                    "item": item,
                    "on_shelf": shelf.get(item.variant.sku),
                    "in_warehouse": warehouse.get(item.variant_id, 0),
                }
                for item in items
            ],
            may_reserve_here=may_reserve_here,
            may_order_here=store is not None
            and store.offers_pickup
            and request.user.has_perm("orders.add_order"),
        )
    return render(request, "desk/lists/shared_list.html", context, status=status)


@desk_rule()
@require_safe
def shared_list(request):
    return _render(request, q=request.GET.get("q", "").strip()[:MAX_QUERY])


def _back(q: str) -> str:
    return reverse("desk:shared-list") + "?" + urlencode({"q": q})


@desk_rule("customers.add_wishlistitem")
@require_POST
def add_to_shared_list(request, customer_id: int):
    customer = get_object_or_404(Customer, pk=customer_id, merged_into__isnull=True)
    q = request.POST.get("q", "").strip()[:MAX_QUERY]
    code = request.POST.get("product", "").strip()
    note = request.POST.get("note", "").strip()
    errors = {}
    variant = None
    if not code:
        errors["product"] = _("Scan or type a SKU or barcode.")
    elif len(code) > MAX_CODE:
        errors["product"] = _("This is not a SKU or barcode.")
    else:
        variant = Variant.objects.filter(is_active=True).filter(sku__iexact=code).first() or (
            Variant.objects.filter(is_active=True, ean=code).first()
        )
        if variant is None:
            errors["product"] = _("No product with SKU or barcode “%(code)s”.") % {"code": code}
    if len(note) > MAX_NOTE:
        errors["note"] = _("At most %(max)s characters.") % {"max": MAX_NOTE}
    typed = {"product": code[:MAX_CODE], "note": note[:MAX_NOTE]}
    if errors:
        return _render(
            request, q=q, errors={"sku": "", **errors}, status=400, typed=typed, customer=customer
        )
    existing = WishlistItem.objects.filter(customer=customer, variant=variant).first()
    if existing and existing.note and note and note != existing.note and not confirmed(request):
        return confirm_page(
            request,
            title=_("%(item)s is already on the list") % {"item": variant.label},
            question=_("Replace its note?"),
            button=_("Yes, replace the note"),
            back=_back(q),
            details=[
                _("Now: %(note)s") % {"note": existing.note},
                _("New: %(note)s") % {"note": note},
            ],
        )
    try:
        add_to_wishlist(
            actor=Actor(user=request.user, channel=Channel.STORE),
            customer=customer,
            variant=variant,
            note=note,
            store=_my_store(request),
        )
    except ApplicationError as exc:
        return _render(
            request,
            q=q,
            errors={"sku": "", "product": desk_error(exc)},
            status=400,
            typed=typed,
            customer=customer,
        )
    name = customer.full_name or str(customer)
    if existing is None:
        text = _("Added %(item)s to the list of %(name)s.")
    elif note and note != existing.note:
        text = _("%(item)s was on %(name)s's list already; its note is replaced.")
    else:
        text = _("%(item)s was on %(name)s's list already; nothing changed.")
    messages.success(request, text % {"item": variant.label, "name": name})
    return redirect(_back(q))


def _list_item(customer_id: int, sku: str) -> WishlistItem:
    item = (
        WishlistItem.objects.select_related("customer", "variant__product")
        .filter(customer_id=customer_id, customer__merged_into__isnull=True, variant__sku=sku)
        .first()
    )
    if item is None:
        raise Http404(_("This item is not on the customer's list."))
    return item


def _quantity(request) -> int | None:
    return whole_number(request.POST.get("quantity", "1"), minimum=1, maximum=MAX_QUANTITY)


def _refusal(exc: ApplicationError) -> str:
    short = [line for line in exc.extra.get("lines", []) if "available" in line]
    if short:
        return " ".join(
            _("%(available)s available at %(store)s.")
            % {"available": line["available"], "store": line["store"]}
            for line in short
        )
    problems = [str(p) for values in exc.errors.values() for p in values]
    # The service's field details are written in English (for the API).
    return (" ".join(problems) if english() else "") or desk_error(exc)


@desk_rule("orders.add_reservation")
@require_POST
def reserve_list_item(request, customer_id: int, sku: str):
    """Hold a list item on this store's shelf for the customer (the store's default hold)."""
    item = _list_item(customer_id, sku)
    q = request.POST.get("q", "").strip()[:MAX_QUERY]
    store = _my_store(request)
    quantity = _quantity(request)
    errors = {}
    if store is None or not reservation_stores_for(request.user).filter(pk=store.pk).exists():
        errors["reserve"] = _("Your store takes no reservations.")
    if quantity is None:
        errors["quantity"] = _("A whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY}
    if not errors:
        try:
            reservation = reserve_for_customer(
                actor=Actor(user=request.user, channel=Channel.STORE),
                store=store,
                lines=[(item.variant, quantity)],
                customer=item.customer,
                note=_("From the customer's list"),
            )
        except ApplicationError as exc:
            errors["reserve"] = _refusal(exc)
    if errors:
        return _render(
            request,
            q=q,
            errors={"sku": item.variant.sku, **errors},
            status=400,
            customer=item.customer,
        )
    messages.success(
        request,
        _("Reservation %(id)s: %(quantity)s × %(item)s held at %(store)s until %(deadline)s.")
        % {
            "id": reservation.pk,
            "quantity": quantity,
            "item": item.variant.label,
            "store": store.code,
            "deadline": local_datetime(reservation.expires_at, store.zone),
        },
    )
    return redirect(_back(q))


@desk_rule("orders.add_order")
@require_POST
def order_list_item(request, customer_id: int, sku: str):
    """Order a list item for pickup at this store, paid at pickup: from this store's shelf, or
    sent from the warehouse (the order waits for the transfer). Asks first."""
    item = _list_item(customer_id, sku)
    q = request.POST.get("q", "").strip()[:MAX_QUERY]
    store = _my_store(request)
    quantity = _quantity(request)
    errors = {}
    if store is None or not store.offers_pickup:
        errors["order"] = _("Your store offers no click & collect.")
    if quantity is None:
        errors["quantity"] = _("A whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY}
    if errors:
        return _render(
            request,
            q=q,
            errors={"sku": item.variant.sku, **errors},
            status=400,
            customer=item.customer,
        )
    if not confirmed(request):
        return confirm_page(
            request,
            title=_("Order for pickup at %(store)s") % {"store": store.code},
            question=_(
                "Order this for %(name)s, to be collected and paid at %(store)s? If the shelf "
                "here has none, the warehouse sends it first."
            )
            % {"name": item.customer.full_name or item.customer, "store": store.code},
            button=_("Yes, order"),
            back=_back(q),
            details=[f"{quantity} × {item.variant.label} ({item.variant.sku})"],
        )
    try:
        order = place_order(
            actor=Actor(user=request.user, channel=Channel.STORE),
            customer=item.customer,
            fulfilment=Fulfilment.PICKUP,
            lines=[(item.variant, quantity)],
            pickup_store=store,
            payment_status=PaymentStatus.PAY_AT_PICKUP,
        )
    except ApplicationError as exc:
        return _render(
            request,
            q=q,
            errors={"sku": item.variant.sku, "order": _refusal(exc)},
            status=400,
            customer=item.customer,
        )
    if order.transfer_id:
        text = _(
            "Order %(number)s placed for pickup at %(store)s; the warehouse sends it here and "
            "the customer is told when it is ready."
        )
    else:
        text = _(
            "Order %(number)s placed for pickup at %(store)s from the shelf here; pick it and "
            "mark it ready."
        )
    messages.success(request, text % {"number": order.number, "store": store.code})
    return redirect(_back(q))


urlpatterns = [
    path("lists/", shared_list, name="shared-list"),
    path("lists/<int:customer_id>/add/", add_to_shared_list, name="shared-list-add"),
    path(
        "lists/<int:customer_id>/items/<str:sku>/reserve/",
        reserve_list_item,
        name="shared-list-reserve",
    ),
    path(
        "lists/<int:customer_id>/items/<str:sku>/order/",
        order_list_item,
        name="shared-list-order",
    ),
]
