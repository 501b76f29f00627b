"""The till: scan articles (EAN or SKU) into a sale, name the customer if they want a receipt by
e-mail (phone, e-mail or the QR code of their customer card), take the payment, print the receipt.

The page keeps the lines in the form itself, so every scan is one submit and the till works
without JavaScript; the receipt's barcode is the code the returns counter scans.
"""

import io
from decimal import Decimal

import barcode
from barcode.writer import SVGWriter
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from customers.models import Customer
from customers.selectors import find_customers
from customers.services import is_walk_in
from inventory.exceptions import InsufficientStock
from inventory.models import Variant
from orders.desk.errors import desk_error
from orders.desk.numbers import MAX_QUANTITY, object_id, whole_number
from orders.models.orders import Fulfilment, Order
from orders.services.sales import PaymentMethod, receipt_code, sell_at_till
from stores.models import Store
from stores.selectors import store_ids_for_staff

# What the QR code on a customer card holds.
CUSTOMER_QR_PREFIX = "OMNIS-CUSTOMER:"
MAX_SCAN = 64
MAX_CUSTOMER_INPUT = 254
MAX_LINES = 100


def _till_stores(user) -> list[Store]:
    return list(
        Store.objects.filter(
            pk__in=store_ids_for_staff(user), is_active=True, sells_in_store=True
        ).order_by("code")
    )


def payment_choices() -> list[tuple[str, str]]:
    return [
        (PaymentMethod.CASH, _("Cash")),
        (PaymentMethod.CARD, _("Card")),
        (PaymentMethod.STORE_CREDIT, _("Store credit")),
    ]


def find_till_customer(raw: str) -> tuple[Customer | None, str]:
    """(customer, error) for what was typed or scanned into the customer field."""
    text = (raw or "").strip()
    if not text:
        return None, ""
    if len(text) > MAX_CUSTOMER_INPUT:
        return None, _("Too long for a phone number, e-mail address or customer code.")
    if text.upper().startswith(CUSTOMER_QR_PREFIX):
        pk = object_id(text[len(CUSTOMER_QR_PREFIX) :])
        customer = Customer.objects.filter(pk=pk, merged_into__isnull=True).first() if pk else None
        return (customer, "") if customer else (None, _("Unknown customer code."))
    if "@" in text:
        found = list(find_customers(email=text)[:2])
    elif any(ch.isdigit() for ch in text):
        found = list(find_customers(phone=text)[:2])
    else:
        return None, _("Enter a phone number, an e-mail address or scan the customer's code.")
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, _("No customer with this phone number or e-mail address.")
    return None, _("More than one customer matches; use the e-mail address.")


def _find_article(code: str) -> Variant | None:
    return (
        Variant.objects.select_related("product")
        .filter(Q(ean=code) | Q(sku=code), is_active=True)
        .first()
    )


def _read_lines(post) -> tuple[list[list], str]:
    """[[variant, quantity]] from the form's hidden SKUs and quantity fields; quantity 0 drops a
    line."""
    skus = post.getlist("sku")[:MAX_LINES]
    quantities = post.getlist("quantity")
    variants = {
        v.sku: v
        for v in Variant.objects.select_related("product").filter(sku__in=skus, is_active=True)
    }
    lines, error = [], ""
    for index, sku in enumerate(skus):
        quantity = whole_number(quantities[index] if index < len(quantities) else "")
        if sku not in variants:
            error = _("An article of this sale is no longer sold; scan it again.")
            continue
        if quantity is None:
            error = _("Quantities are whole numbers from 0 to %(max)s.") % {"max": MAX_QUANTITY}
            quantity = 1
        if quantity:
            lines.append([variants[sku], quantity])
    return lines, error


def _add_scan(lines: list[list], code: str) -> str:
    code = code.strip()
    if not code:
        return ""
    if len(code) > MAX_SCAN:
        return _("This is not an EAN or article number.")
    variant = _find_article(code)
    if variant is None:
        return _("No article with EAN or article number “%(code)s”.") % {"code": code}
    for line in lines:
        if line[0].pk == variant.pk:
            if line[1] < MAX_QUANTITY:
                line[1] += 1
            return ""
    if len(lines) >= MAX_LINES:
        return _("A sale has at most %(max)s lines.") % {"max": MAX_LINES}
    lines.append([variant, 1])
    return ""


def _sale_errors(exc: ApplicationError) -> dict[str, str]:
    if isinstance(exc, InsufficientStock):
        short = ", ".join(
            _("%(sku)s: %(available)s on the shelf")
            % {"sku": s["sku"], "available": s.get("available", 0)}
            for s in exc.short_lines
        )
        return {"lines": _("Not enough on the shelf. %(short)s") % {"short": short}}
    errors = {}
    for field, problems in (exc.errors or {}).items():
        key = field if field in ("store", "payment_method", "customer") else "lines"
        flat = []
        for problem in problems:
            if isinstance(problem, dict):
                flat += [" ".join(map(str, v)) for v in problem.values()]
            elif problem:
                flat.append(str(problem))
        errors[key] = " ".join(flat)
    return errors or {"lines": desk_error(exc)}


@desk_rule("orders.add_order")
def till(request):
    stores = _till_stores(request.user)
    post = request.POST if request.method == "POST" else None
    errors: dict[str, str] = {}
    lines: list[list] = []
    customer = None
    values = {"store": stores[0].code if stores else "", "customer": "", "payment_method": "card"}
    if post is not None:
        values = {
            "store": post.get("store", ""),
            "customer": post.get("customer", "").strip()[:MAX_CUSTOMER_INPUT],
            "payment_method": post.get("payment_method", ""),
        }
        lines, problem = _read_lines(post)
        if problem:
            errors["lines"] = problem
        problem = _add_scan(lines, post.get("scan", ""))
        if problem:
            errors["scan"] = problem
        customer, problem = find_till_customer(post.get("customer", ""))
        if problem:
            errors["customer"] = problem
        store = next((s for s in stores if s.code == values["store"]), None)
        if post.get("action") == "sell":
            if store is None:
                errors["store"] = _("Choose one of your stores.")
            if values["payment_method"] not in PaymentMethod.CHOICES:
                errors["payment_method"] = _("Choose how the customer pays.")
            if not lines and "lines" not in errors:
                errors["lines"] = _("Scan at least one article.")
            if not errors:
                try:
                    order = sell_at_till(
                        actor=Actor(user=request.user, channel=Channel.STORE),
                        store=store,
                        lines=[(v, q) for v, q in lines],
                        payment_method=values["payment_method"],
                        customer=customer,
                    )
                except ApplicationError as exc:
                    errors.update(_sale_errors(exc))
                else:
                    return redirect("desk:till-receipt", number=order.number)
    total = sum((v.price * q for v, q in lines), Decimal("0.00"))
    return render(
        request,
        "desk/till/till.html",
        {
            "stores": stores,
            "lines": [{"variant": v, "quantity": q, "line_total": v.price * q} for v, q in lines],
            "total": total,
            "customer": customer,
            "values": values,
            "errors": errors,
            "payment_choices": payment_choices(),
        },
        status=200,
    )


def barcode_svg(code: str) -> str:
    """Code128 of the receipt code as inline SVG (no XML prolog, so it can sit in the page)."""
    out = io.BytesIO()
    barcode.Code128(code, writer=SVGWriter()).write(
        out, options={"module_width": 0.3, "module_height": 12, "font_size": 8, "text_distance": 4}
    )
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]


@desk_rule()
@require_safe
def till_receipt(request, number: str):
    order = (
        Order.objects.select_related("customer", "fulfilment_store")
        .filter(
            number=number,
            fulfilment=Fulfilment.COUNTER,
            fulfilment_store_id__in=store_ids_for_staff(request.user),
        )
        .first()
    )
    if order is None:
        raise Http404
    code = receipt_code(order)
    return render(
        request,
        "desk/till/receipt.html",
        {
            "order": order,
            "store": order.fulfilment_store,
            "lines": list(order.lines.all()),
            "code": code,
            "barcode": barcode_svg(code),
            "known_customer": not is_walk_in(order.customer),
            "payment": dict(payment_choices()).get(order.payment_method, order.payment_method),
        },
    )


urlpatterns = [
    path("till/", till, name="till"),
    path("till/receipt/<str:number>/", till_receipt, name="till-receipt"),
]
