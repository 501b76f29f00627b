"""Staff pages: the phone desk (find the customer, check nearby stock, reserve with one submit)
and the store's list of reservations to collect, with Collect and Release buttons."""

from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.formatting import local_datetime
from common.models import Channel
from customers.normalise import normalise_phone
from customers.selectors import find_customers
from inventory.models import Variant
from orders.desk.confirm import confirm_page, confirmed
from orders.desk.errors import desk_error, english
from orders.desk.numbers import MAX_QUANTITY, object_id, whole_number
from orders.models import Reservation
from orders.selectors.reservations import (
    active_reservations_in_stores,
    customer_for_desk,
    expires_today,
    reservation_stores_for,
    reservations_of_customer,
    search_variants,
    stock_by_variant_and_store,
    stores_near,
)
from orders.services.reservations import (
    InvalidReservation,
    cancel_reservation,
    collect_reservation,
    reserve_for_customer,
)
from stores.selectors import can_act_on_store, is_service_agent, store_ids_for_staff


def _error_text(exc: ApplicationError) -> str:
    parts = [desk_error(exc)]
    if english():
        for field, problems in exc.errors.items():
            parts.append(f"{field}: {' '.join(str(p) for p in problems)}")
    for line in exc.extra.get("lines", []):
        if "available" in line:
            parts.append(
                _("%(sku)s at %(store)s: %(available)s available")
                % {"sku": line["sku"], "store": line["store"], "available": line["available"]}
            )
    return " ".join(parts)


def _back_to_phone_desk(params: dict) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return reverse("desk:phone-desk") + (f"?{query}" if query else "")


@desk_rule()
@require_safe
def phone_desk(request):
    """Look up the caller by phone, find a product, see stock nearby, reserve."""
    phone = request.GET.get("phone", "").strip()
    q = request.GET.get("q", "").strip()
    postcode = request.GET.get("postcode", "").strip()
    context = {"phone": phone, "q": q, "postcode": postcode, "now": timezone.now()}

    customer = None
    if phone:
        try:
            context["phone_normalised"] = normalise_phone(phone)
        except ValidationError as exc:
            context["phone_error"] = " ".join(exc.messages)
        else:
            found = find_customers(phone=phone).first()
            customer = customer_for_desk(found.pk) if found else None
    context["customer"] = customer
    if customer is not None:
        context["customer_reservations"] = reservations_of_customer(customer).filter(
            status="active"
        )
    context["new_customer"] = bool(phone) and customer is None and "phone_error" not in context

    if q:
        stores = stores_near(
            reservation_stores_for(request.user), customer=customer, postcode=postcode
        )
        variants = list(search_variants(q))
        stock = stock_by_variant_and_store(variants, stores)
        context["stores"] = stores
        context["results"] = [
            {
                "variant": variant,
                "stores": [
                    {
                        "store": store,
                        "available": stock[(variant.pk, store.pk)].available
                        if (variant.pk, store.pk) in stock
                        else 0,
                    }
                    for store in stores
                ],
            }
            for variant in variants
        ]
    return render(request, "desk/reservations/phone_desk.html", context)


def _deadline(value: str, store) -> datetime | None:
    """A datetime-local field ("2026-05-09T18:00") read in the store's time zone."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidReservation(
            _("Invalid deadline."),
            errors={"expires_at": [_("“%(value)s” is not a date and time.") % {"value": value}]},
        )
    return naive.replace(tzinfo=store.zone) if timezone.is_naive(naive) else naive


@desk_rule("orders.add_reservation")
@require_POST
def phone_desk_reserve(request):
    """One submit: customer (known or new), SKU, store, quantity, optional deadline."""
    post = request.POST
    back = _back_to_phone_desk(
        {"phone": post.get("phone", ""), "q": post.get("q", ""), "postcode": post.get("postcode")}
    )
    store = reservation_stores_for(request.user).filter(code=post.get("store", "")).first()
    variant = Variant.objects.select_related("product").filter(sku=post.get("sku", "")).first()
    if store is None or variant is None:
        messages.error(request, _("Choose a product and a store you may reserve in."))
        return redirect(back)
    customer = None
    if post.get("customer"):
        customer_id = object_id(post["customer"])
        customer = customer_for_desk(customer_id) if customer_id else None
        if customer is None:
            messages.error(request, _("That customer no longer exists."))
            return redirect(back)
    quantity = whole_number(post.get("quantity", "1"), minimum=1, maximum=MAX_QUANTITY)
    if quantity is None:
        messages.error(
            request,
            _("Not reserved. The quantity must be a whole number from 1 to %(max)s.")
            % {"max": MAX_QUANTITY},
        )
        return redirect(back)
    try:
        expires_at = _deadline(post.get("expires_at", ""), store)
        reservation = reserve_for_customer(
            actor=Actor(user=request.user, channel=Channel.PHONE),
            store=store,
            lines=[(variant, quantity)],
            customer=customer,
            customer_details=None
            if customer
            else {
                "phone": post.get("phone"),
                "email": post.get("email"),
                "first_name": post.get("first_name", "").strip(),
                "last_name": post.get("last_name", "").strip(),
            },
            expires_at=expires_at,
            note=post.get("note", "")[:500],
        )
    except ApplicationError as exc:
        messages.error(request, _("Not reserved. %(why)s") % {"why": _error_text(exc)})
        return redirect(back)
    messages.success(
        request,
        _(
            "Reservation %(id)s: %(quantity)s × %(item)s (%(sku)s) held at %(store)s for "
            "%(customer)s until %(until)s. The confirmation e-mail is on its way."
        )
        % {
            "id": reservation.pk,
            "quantity": quantity,
            "item": variant.label,
            "sku": variant.sku,
            "store": f"{store.code} {store.name}",
            "customer": reservation.customer,
            "until": local_datetime(reservation.expires_at, store.zone),
        },
    )
    return redirect(_back_to_phone_desk({"phone": post.get("phone", "")}))


@desk_rule()
@require_safe
def store_reservations(request):
    """Active reservations in the staff member's stores, expiring first on top."""
    now = timezone.now()
    rows = [
        {"reservation": r, "today": expires_today(r, now), "expired": r.expires_at <= now}
        for r in active_reservations_in_stores(store_ids_for_staff(request.user))
    ]
    return render(
        request,
        "desk/reservations/store_reservations.html",
        {"rows": rows, "is_service_agent": is_service_agent(request.user)},
    )


def _acting_on(request, pk: int) -> Reservation | None:
    reservation = get_object_or_404(Reservation.objects.select_related("store"), pk=pk)
    if not can_act_on_store(request.user, reservation.store):
        messages.error(
            request, _("Reservation %(id)s is in a store you do not work in.") % {"id": pk}
        )
        return None
    return reservation


@desk_rule("orders.change_reservation")
@require_POST
def collect(request, pk: int):
    reservation = _acting_on(request, pk)
    if reservation is not None and not confirmed(request):
        return confirm_page(
            request,
            title=_("Collect reservation %(id)s") % {"id": pk},
            question=_("The customer takes and pays for these items now?"),
            button=_("Yes, collect"),
            back=reverse("desk:store-reservations"),
            details=[f"{line.quantity} × {line.variant.label}" for line in reservation.lines.all()],
        )
    if reservation is not None:
        try:
            reservation = collect_reservation(
                actor=Actor(user=request.user, channel=Channel.STORE), reservation=reservation
            )
        except ApplicationError as exc:
            messages.error(request, _("Not collected. %(why)s") % {"why": _error_text(exc)})
        else:
            messages.success(
                request,
                _("Reservation %(id)s collected: sale %(number)s.")
                % {"id": pk, "number": reservation.order.number},
            )
    return redirect("desk:store-reservations")


@desk_rule("orders.change_reservation")
@require_POST
def release(request, pk: int):
    reservation = _acting_on(request, pk)
    if reservation is not None and not confirmed(request):
        return confirm_page(
            request,
            title=_("Release reservation %(id)s") % {"id": pk},
            question=_("Put these items back on sale? The hold ends now."),
            button=_("Yes, release"),
            back=reverse("desk:store-reservations"),
            details=[f"{line.quantity} × {line.variant.label}" for line in reservation.lines.all()],
        )
    if reservation is not None:
        try:
            cancel_reservation(
                actor=Actor(user=request.user, channel=Channel.STORE),
                reservation=reservation,
                note="Released at the store desk",
            )
        except ApplicationError as exc:
            messages.error(request, _("Not released. %(why)s") % {"why": _error_text(exc)})
        else:
            messages.success(
                request, _("Reservation %(id)s released: the items are back on sale.") % {"id": pk}
            )
    return redirect("desk:store-reservations")


urlpatterns = [
    path("phone/", phone_desk, name="phone-desk"),
    path("phone/reserve/", phone_desk_reserve, name="phone-desk-reserve"),
    path("reservations/", store_reservations, name="store-reservations"),
    path("reservations/<int:pk>/collect/", collect, name="reservation-collect"),
    path("reservations/<int:pk>/release/", release, name="reservation-release"),
]
