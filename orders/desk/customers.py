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
from customers.services import add_service_note, pending_contact_changes
from orders.desk.customer_profile import (
    CustomerProfileForm,
    initial_for,
    refusal_to_form,
    save_profile,
)
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


def _render(
    request,
    customer,
    form: ServiceNoteForm | None = None,
    status: int = 200,
    profile_form: CustomerProfileForm | None = None,
):
    may_edit = request.user.has_perm("customers.change_customer") and not customer.erased_at
    context = {
        "page": customer_page(customer, page=request.GET.get("page", 1)),
        "customer": customer,
        "form": form or ServiceNoteForm(),
        "may_write_notes": request.user.has_perm("customers.add_servicenote"),
        "may_edit_profile": may_edit,
        "profile_form": profile_form or CustomerProfileForm(initial=initial_for(customer)),
        "pending_contact": pending_contact_changes(customer) if may_edit else {},
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


PENDING_NAMES = {"email": gettext_lazy("e-mail address"), "phone": gettext_lazy("phone number")}


def _actor(user) -> Actor:
    channel, _store = _note_channel_and_store(user)
    return Actor(user=user, channel=channel)


@desk_rule("customers.change_customer", scope="")
@require_POST
def customer_edit_profile(request, customer_id: int):
    """Service agents and managers change the profile on the customer's behalf."""
    customer = _customer(customer_id)
    if customer.merged_into_id:
        raise Http404(_("This customer was merged into another."))
    form = CustomerProfileForm(request.POST)
    if not form.is_valid():
        return _render(request, customer, status=400, profile_form=form)
    try:
        customer, pending = save_profile(actor=_actor(request.user), customer=customer, form=form)
    except ApplicationError as exc:
        refusal_to_form(form, exc, form.changes)
        return _render(request, customer_for_page(customer.pk), status=400, profile_form=form)
    if not form.changes:
        messages.info(request, _("Nothing changed."))
    elif pending:
        messages.success(
            request,
            _(
                "Profile saved. The new %(fields)s applies once the customer confirms it with "
                "the code just sent to it."
            )
            % {"fields": _(" and ").join(str(PENDING_NAMES[name]) for name in pending)},
        )
    else:
        messages.success(request, _("Profile saved."))
    return redirect(reverse("desk:customer", args=[customer.pk]) + "#profile")


urlpatterns = [
    path("customers/<int:customer_id>/", customer_detail, name="customer"),
    path("customers/<int:customer_id>/notes/", customer_add_note, name="customer-add-note"),
    path("customers/<int:customer_id>/profile/", customer_edit_profile, name="customer-profile"),
]
