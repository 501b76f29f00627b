"""One page per customer (`/desk/customers/<id>/`), linked wherever a customer appears in the
desk: profile, consents, sizes, timeline, service notes with the form to write one, what is open."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from common.access import desk_rule
from common.actor import Actor
from common.errors import ApplicationError
from common.models import Channel
from customers.services import add_service_note
from orders.desk.errors import desk_error
from orders.selectors.customer_page import customer_for_page, customer_page
from stores.models import Store
from stores.selectors import is_service_agent, store_ids_for_staff

NOTE_MAX_LENGTH = 4000  # ServiceNote.text


class ServiceNoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Service note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        error_messages={
            "required": gettext_lazy("A note needs some text."),
            "max_length": gettext_lazy(
                "At most %(limit_value)d characters (this has %(show_value)d)."
            ),
        },
    )


def _customer(customer_id: int):
    customer = customer_for_page(customer_id)
    if customer is None:
        raise Http404(_("No such customer."))
    return customer


def _render(request, customer, form: ServiceNoteForm, status: int = 200):
    context = {
        "page": customer_page(customer, page=request.GET.get("page", 1)),
        "customer": customer,
        "form": form,
        "may_write_notes": request.user.has_perm("customers.add_servicenote"),
    }
    return render(request, "desk/customers/detail.html", context, status=status)


@desk_rule(scope="")
@require_safe
def customer_detail(request, customer_id: int):
    customer = _customer(customer_id)
    if customer.merged_into_id:  # an alias: the surviving record is the customer's page
        return redirect("desk:customer", customer.merged_into_id)
    return _render(request, customer, ServiceNoteForm())


def _note_channel_and_store(user) -> tuple[str, Store | None]:
    """Service agents write from the phone desk; store staff from their (first) store."""
    if is_service_agent(user):
        return Channel.PHONE, None
    store = Store.objects.filter(pk__in=store_ids_for_staff(user)).order_by("code").first()
    return Channel.STORE, store


@desk_rule("customers.add_servicenote", scope="")
@require_POST
def customer_add_note(request, customer_id: int):
    customer = _customer(customer_id)
    if customer.merged_into_id:
        raise Http404(_("This customer was merged into another."))
    form = ServiceNoteForm(request.POST)
    if not form.is_valid():
        return _render(request, customer, form, status=400)
    channel, store = _note_channel_and_store(request.user)
    try:
        add_service_note(
            actor=Actor(user=request.user, channel=channel),
            customer=customer,
            text=form.cleaned_data["text"],
            channel=channel,
            store=store,
        )
    except ApplicationError as exc:
        for field, problems in exc.errors.items():
            for problem in problems:
                form.add_error(field if field in form.fields else None, str(problem))
        if not exc.errors:
            form.add_error(None, desk_error(exc))
        return _render(request, customer, form, status=400)
    messages.success(request, _("Note saved: every channel sees it now."))
    return redirect(reverse("desk:customer", args=[customer.pk]) + "#notes")


urlpatterns = [
    path("customers/<int:customer_id>/", customer_detail, name="customer"),
    path("customers/<int:customer_id>/notes/", customer_add_note, name="customer-add-note"),
]
