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
    sorted_by_sizes,
    stock_by_variant_and_store,
    stock_stores_for_desk,
)
from orders.selectors.sizes import usual_sizes
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


def _stock_rows(variant, stores, stock) -> dict:
    """One search result: availability per store (in the stores' order), which store the Reserve
    form preselects (the first one the staff member may reserve in that has stock) and where else
    there is stock."""
    rows = [
        {
            "store": store,
            "available": stock[(variant.pk, store.pk)].available
            if (variant.pk, store.pk) in stock
            else 0,
        }
        for store in stores
    ]
    reservable = [row for row in rows if row["store"].may_reserve]
    preselected = next((row["store"] for row in reservable if row["available"] > 0), None)
    return {
        "variant": variant,
        "stores": rows,
        "reservable": reservable,
        "preselected": preselected,
        "elsewhere": [r for r in rows if r["available"] > 0 and not r["store"].may_reserve],
        "here": sum(r["available"] for r in rows if r["store"].is_own),
        "in_stock": [r for r in rows if r["available"] > 0],
    }


def _phone_desk_context(request, *, phone: str, q: str, postcode: str) -> dict:
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
        stores = stock_stores_for_desk(request.user, customer=customer, postcode=postcode)
        sizes = usual_sizes(customer) if customer is not None else {}
        variants = sorted_by_sizes(list(search_variants(q)), sizes)
        stock = stock_by_variant_and_store(variants, stores)
        context["stores"] = stores
        context["results"] = [_stock_rows(variant, stores, stock) for variant in variants]
    return context


@desk_rule()
@require_safe
def phone_desk(request):
    """Look up the caller by phone, find a product, see stock in every store, reserve."""
    context = _phone_desk_context(
        request,
        phone=request.GET.get("phone", "").strip()[:MAX_TYPED],
        q=request.GET.get("q", "").strip()[:MAX_TYPED],
        postcode=request.GET.get("postcode", "").strip()[:MAX_TYPED],
    )
    return render(request, "desk/reservations/phone_desk.html", context)


MAX_TYPED = 100  # a phone number, a product search, a postcode: longer is not one
MAX_NAME = 100  # Customer.first_name / last_name
MAX_EMAIL = 254
MAX_NOTE = 500  # Reservation.note


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


def _typed_errors(post, *, new_customer: bool) -> dict[str, str]:
    """What the desk checks before asking the service: lengths and the new caller's name."""
    errors = {}
    if new_customer:
        if not post.get("first_name", "").strip():
            errors["first_name"] = _("A new customer needs a first name.")
        for name, limit in (
            ("first_name", MAX_NAME),
            ("last_name", MAX_NAME),
            ("email", MAX_EMAIL),
        ):
            if len(post.get(name, "").strip()) > limit:
                errors[name] = _("At most %(max)s characters.") % {"max": limit}
    if len(post.get("note", "")) > MAX_NOTE:
        errors["note"] = _("At most %(max)s characters.") % {"max": MAX_NOTE}
    return errors


def _service_errors(exc: ApplicationError) -> dict[str, str]:
    """The service's refusal, by the form's fields (its `lines` are the quantity here)."""
    fields = {"lines": "quantity", "customer": "phone"}
    errors: dict[str, str] = {}
    for field, problems in exc.errors.items():
        name = fields.get(field, field)
        # The service's field details are written in English (for the API).
        errors[name] = (
            " ".join(str(p) for p in problems) if english() else _("Please check this entry.")
        )
    short = [line for line in exc.extra.get("lines", []) if "available" in line]
    if short:
        errors["quantity"] = " ".join(
            _("%(available)s available at %(store)s.")
            % {"available": line["available"], "store": line["store"]}
            for line in short
        )
    if not errors:
        errors["reserve"] = desk_error(exc)
    return errors


def _refused(request, post, errors: dict[str, str]):
    """The phone desk again, the form's values kept and each problem next to its field."""
    context = _phone_desk_context(
        request,
        phone=post.get("phone", "").strip()[:MAX_TYPED],
        q=post.get("q", "").strip()[:MAX_TYPED],
        postcode=post.get("postcode", "").strip()[:MAX_TYPED],
    )
    sku = post.get("sku", "")
    context["posted"] = {
        "sku": sku,
        "errors": errors,
        "values": {k: post.get(k, "")[:MAX_NOTE] for k in post if k != "csrfmiddlewaretoken"},
    }
    if not any(result["variant"].sku == sku for result in context.get("results", [])):
        # The form is not on the page (the search changed): say it at the top, field by field.
        labels = {
            "sku": _("Product"),
            "store": _("Store"),
            "quantity": _("Quantity"),
            "phone": _("Caller's phone number"),
            "first_name": _("First name"),
            "last_name": _("Last name"),
            "email": _("E-mail"),
            "expires_at": _("Until (optional)"),
            "note": _("Note (optional)"),
        }
        context["posted"]["unplaced"] = [
            f"{labels[field]}: {problem}" if field in labels else problem
            for field, problem in errors.items()
        ]
    return render(request, "desk/reservations/phone_desk.html", context, status=400)


@desk_rule("orders.add_reservation")
@require_POST
def phone_desk_reserve(request):
    """One submit: customer (known or new), SKU, store, quantity, optional deadline."""
    post = request.POST
    errors: dict[str, str] = {}
    variant = (
        Variant.objects.select_related("product")
        .filter(sku=post.get("sku", "")[:MAX_TYPED], is_active=True)
        .first()
    )
    if variant is None:
        errors["sku"] = _("Choose a product from the search results.")
    store = reservation_stores_for(request.user).filter(code=post.get("store", "")[:20]).first()
    if store is None:
        errors["store"] = _("Choose a store you may reserve in.")
    customer = None
    if post.get("customer"):
        customer_id = object_id(post["customer"])
        customer = customer_for_desk(customer_id) if customer_id else None
        if customer is None:
            errors["phone"] = _("That customer no longer exists; look the caller up again.")
    quantity = whole_number(post.get("quantity", "1"), minimum=1, maximum=MAX_QUANTITY)
    if quantity is None:
        errors["quantity"] = _("A whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY}
    errors |= _typed_errors(post, new_customer=not post.get("customer"))
    if errors:
        return _refused(request, post, errors)
    try:
        expires_at = _deadline(post.get("expires_at", "").strip()[:MAX_TYPED], store)
        reservation = reserve_for_customer(
            actor=Actor(user=request.user, channel=Channel.PHONE),
            store=store,
            lines=[(variant, quantity)],
            customer=customer,
            customer_details=None
            if customer
            else {
                "phone": post.get("phone", "")[:MAX_TYPED],
                "email": post.get("email", "").strip(),
                "first_name": post.get("first_name", "").strip(),
                "last_name": post.get("last_name", "").strip(),
            },
            expires_at=expires_at,
            note=post.get("note", ""),
        )
    except ApplicationError as exc:
        return _refused(request, post, _service_errors(exc))
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
    return redirect(_back_to_phone_desk({"phone": post.get("phone", "")[:MAX_TYPED]}))


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
