"""The profile form on the customer's desk page: staff change the name, contact data and
preferences on the customer's behalf, through the same service as the API's staff PATCH
(customers.services.update_customer_profile). A customer with a login keeps the rule that a new
e-mail or phone applies only once confirmed with the code sent to it."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.actor import Actor
from common.errors import ApplicationError
from customers.models import ContactChannel, Customer
from customers.normalise import normalise_email, normalise_phone
from customers.services import pending_contact_changes, update_customer_profile
from orders.desk.errors import desk_error, english
from stores.models import Store

# The language of the customer's e-mails and SMS, where customers have one.
HAS_LANGUAGE = any(f.name == "language" for f in Customer._meta.get_fields())
MAX_SIZES = 20
MAX_CATEGORY = 50
MAX_SIZE = 20

TOO_LONG = gettext_lazy("At most %(limit_value)d characters (this has %(show_value)d).")


def _text(label, max_length: int) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=False,
        error_messages={"max_length": TOO_LONG},
    )


class StoreByCode(forms.ModelChoiceField):
    def label_from_instance(self, store: Store) -> str:
        return f"{store.code} {store.name}"


class CustomerProfileForm(forms.Form):
    first_name = _text(gettext_lazy("First name"), 100)
    last_name = _text(gettext_lazy("Last name"), 100)
    email = _text(gettext_lazy("E-mail"), 254)
    phone = _text(gettext_lazy("Phone"), 40)
    contact_channel = forms.ChoiceField(
        label=gettext_lazy("Preferred channel"),
        choices=ContactChannel.choices,
        error_messages={
            "required": gettext_lazy("Choose how the customer wants to be contacted."),
            "invalid_choice": gettext_lazy("Choose one of the channels listed."),
        },
    )
    preferred_store = StoreByCode(
        label=gettext_lazy("Preferred store"),
        queryset=Store.objects.filter(is_active=True, is_warehouse=False).order_by("code"),
        to_field_name="code",
        required=False,
        empty_label=gettext_lazy("none"),
        error_messages={"invalid_choice": gettext_lazy("Choose one of the stores listed.")},
    )
    postcode = _text(gettext_lazy("Postcode"), 10)
    sizes = forms.CharField(
        label=gettext_lazy("Sizes"),
        required=False,
        max_length=MAX_SIZES * (MAX_CATEGORY + MAX_SIZE + 3),
        help_text=gettext_lazy("One per category, e.g. “shirts: M, shoes: 42”."),
        error_messages={"max_length": TOO_LONG},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if HAS_LANGUAGE:
            self.fields["language"] = forms.ChoiceField(
                label=gettext_lazy("Language of messages"),
                choices=settings.LANGUAGES,
                error_messages={
                    "required": gettext_lazy("Choose a language."),
                    "invalid_choice": gettext_lazy("Choose one of the languages listed."),
                },
            )

    def clean_sizes(self) -> dict[str, str]:
        text = self.cleaned_data["sizes"]
        sizes: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.replace("\n", ",").split(","))):
            category, colon, size = (x.strip() for x in part.partition(":"))
            if not colon or not category or not size:
                raise forms.ValidationError(
                    _("Write each size as “category: size”, e.g. “shirts: M”.")
                )
            if len(category) > MAX_CATEGORY or len(size) > MAX_SIZE:
                raise forms.ValidationError(
                    _("A category has at most %(category)s characters, a size %(size)s.")
                    % {"category": MAX_CATEGORY, "size": MAX_SIZE}
                )
            sizes[category] = size
        if len(sizes) > MAX_SIZES:
            raise forms.ValidationError(_("At most %(max)s sizes.") % {"max": MAX_SIZES})
        return sizes


def initial_for(customer: Customer) -> dict:
    """The profile as the form shows it."""
    stored = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email or "",
        "phone": customer.phone or "",
        "contact_channel": customer.contact_channel,
        "preferred_store": customer.preferred_store.code if customer.preferred_store else None,
        "postcode": customer.postcode,
        "sizes": ", ".join(f"{c}: {s}" for c, s in (customer.sizes or {}).items()),
    }
    if HAS_LANGUAGE:
        stored["language"] = customer.language
    return stored


def changes_of(form: CustomerProfileForm, customer: Customer) -> dict:
    """Only what the form changes: an e-mail left as it is asks for no confirmation."""
    data = form.cleaned_data
    current = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email or "",
        "phone": customer.phone or "",
        "contact_channel": customer.contact_channel,
        "preferred_store": customer.preferred_store,
        "postcode": customer.postcode,
        "sizes": customer.sizes or {},
    }
    if HAS_LANGUAGE:
        current["language"] = customer.language
    changes = {}
    for name, value in data.items():
        if isinstance(value, str):
            value = value.strip()
        if value != current[name] and not _same_contact(name, value, current[name]):
            changes[name] = value
    return changes


def _same_contact(name: str, typed: str, stored: str) -> bool:
    """ "030 1234567" is the +49301234567 already stored: no change to confirm."""
    normalise = {"email": normalise_email, "phone": normalise_phone}.get(name)
    if normalise is None or not typed:
        return False
    try:
        return normalise(typed) == stored
    except ValidationError:
        return False


def refusal_to_form(form: CustomerProfileForm, exc: ApplicationError, changes: dict) -> None:
    """The service's refusal next to the field it concerns."""
    for field, problems in exc.errors.items():
        target = field if field in form.fields else None
        if english():
            for problem in problems:
                form.add_error(target, str(problem))
        else:  # the service's details are written in English (for the API)
            form.add_error(target, _("Please check this entry."))
    if exc.errors:
        return
    contact = [name for name in ("email", "phone") if name in changes]
    if exc.code == "customer_conflict" and contact:
        for name in contact:
            form.add_error(name, _("Another customer already has this e-mail address or phone."))
    else:
        form.add_error(None, desk_error(exc))


def save_profile(*, actor: Actor, customer: Customer, form: CustomerProfileForm):
    """(customer, pending fields): the changes applied; e-mail or phone of a customer with a login
    waiting for the code sent to the new address. Raises ApplicationError like the service."""
    changes = changes_of(form, customer)
    form.changes = changes
    if not changes:
        return customer, []
    customer = update_customer_profile(actor=actor, customer=customer, **changes)
    pending = [
        name
        for name in ("email", "phone")
        if name in changes and name in pending_contact_changes(customer)
    ]
    return customer, pending
