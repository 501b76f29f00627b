"""Admin for customers: profile edits go through customers.services so the timeline records them;
notes, timeline, wishlist and store credit are shown, never edited here."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.template.response import TemplateResponse

from common.access import action_permission
from common.actor import Actor
from common.admin import HistoryAdmin, ReadOnlyAdmin, ReadOnlyInline
from common.errors import ApplicationError
from common.models import Channel
from customers.discounts import withdraw_discount_codes
from customers.messaging import sms_channel_errors
from customers.models import (
    Consent,
    Customer,
    DiscountCode,
    PossibleDuplicate,
    ServiceNote,
    StoreCreditEntry,
    TimelineEvent,
    WishlistItem,
)
from customers.normalise import normalise_phone
from customers.privacy.erasure import erase_customer
from customers.privacy.export import export_customer
from customers.services import (
    PROFILE_FIELDS,
    find_or_create_customer,
    resolve_possible_duplicates,
    update_customer_profile,
)


class ServiceNoteInline(ReadOnlyInline):
    model = ServiceNote
    fields = ("created_at", "channel", "store", "author_user", "author_client", "text")


class TimelineInline(ReadOnlyInline):
    model = TimelineEvent
    fields = ("at", "kind", "channel", "store", "sku", "summary")
    ordering = ("-at", "-id")
    verbose_name_plural = "timeline"


class WishlistInline(ReadOnlyInline):
    model = WishlistItem
    fields = ("created_at", "variant", "note", "channel", "added_by_user", "store")
    verbose_name_plural = "wishlist"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("variant__product")


class StoreCreditInline(ReadOnlyInline):
    model = StoreCreditEntry
    fields = ("created_at", "amount", "reason", "cause_type", "cause_id")


class ConsentInline(ReadOnlyInline):
    model = Consent
    fields = (
        "purpose",
        "channel",
        "source",
        "given_at",
        "confirmed_at",
        "withdrawn_at",
        "withdrawn_source",
    )
    ordering = ("-given_at", "-id")


class MergedFilter(admin.SimpleListFilter):
    title = "merged"
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return (("no", "Active records"), ("yes", "Merged into another (aliases)"))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(merged_into__isnull=True)
        if self.value() == "yes":
            return queryset.filter(merged_into__isnull=False)
        return queryset


# Fields that say who the customer is and what they prefer; the rest is history.
EDITABLE = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "postcode",
    "preferred_store",
    "sizes",
    "favourite_categories",
    "contact_channel",
)


class CustomerAdminForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        wanted = Customer(
            contact_channel=cleaned.get("contact_channel", self.instance.contact_channel),
            phone=cleaned.get("phone", self.instance.phone),
        )
        for field, errors in sms_channel_errors(wanted).items():
            self.add_error(field, errors)
        return cleaned


@admin.register(Customer)
class CustomerAdmin(HistoryAdmin):
    form = CustomerAdminForm
    list_display = (
        "__str__",
        "email",
        "phone",
        "preferred_store",
        "source_channel",
        "marketing_consent",
        "created_at",
    )
    list_filter = (
        MergedFilter,
        "source_channel",
        "preferred_store",
        "marketing_consent",
        "contact_channel",
    )
    list_select_related = ("preferred_store",)
    search_fields = ("first_name", "last_name", "email", "phone", "postcode")
    readonly_fields = (
        "source_channel",
        "created_by_client",
        "user",
        "merged_into",
        "erased_at",
        "marketing_consent",
        "marketing_consent_at",
        "marketing_consent_source",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("first_name", "last_name", "email", "phone", "postcode")}),
        (
            "Preferences",
            {
                "fields": (
                    "preferred_store",
                    "sizes",
                    "favourite_categories",
                    "contact_channel",
                    "marketing_consent",
                    "marketing_consent_at",
                    "marketing_consent_source",
                )
            },
        ),
        (
            "Record",
            {
                "fields": (
                    "source_channel",
                    "created_by_client",
                    "user",
                    "merged_into",
                    "erased_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    inlines = (
        ConsentInline,
        ServiceNoteInline,
        WishlistInline,
        StoreCreditInline,
        TimelineInline,
    )
    actions = ("export_data", "erase_data")

    has_export_permission = action_permission("customers.export_customer")
    has_erase_permission = action_permission("customers.erase_customer")

    @admin.action(description="Export personal data (JSON)", permissions=["export"])
    def export_data(self, request, queryset):
        actor = Actor(user=request.user, channel=Channel.STORE)
        data = {}
        for customer in queryset.order_by("pk"):
            try:
                data[str(customer.pk)] = export_customer(actor=actor, customer=customer)
            except ApplicationError as exc:
                self.message_user(request, f"{customer.pk}: {exc.detail}", messages.ERROR)
                return None
        response = HttpResponse(
            json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json",
        )
        response["Content-Disposition"] = 'attachment; filename="customer-export.json"'
        return response

    @admin.action(description="Erase personal data", permissions=["erase"])
    def erase_data(self, request, queryset):
        # Erasure cannot be undone: ask once more, as deleting does.
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/customers/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase personal data?",
                    "customers": queryset,
                    "action": "erase_data",
                    "opts": self.model._meta,
                },
            )
        actor = Actor(user=request.user, channel=Channel.STORE)
        erased = 0
        for customer in queryset.order_by("pk"):
            try:
                erase_customer(actor=actor, customer=customer)
                erased += 1
            except ApplicationError as exc:
                self.message_user(request, f"{customer.pk}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"{erased} customer(s) erased.", messages.SUCCESS)
        return None

    def get_search_results(self, request, queryset, search_term):
        """A phone number in any format ("030 1234567") also finds its E.164 form."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if sum(ch.isdigit() for ch in term) >= 5:
            try:
                phone = normalise_phone(term)
            except ValidationError:
                phone = None
            if phone:
                results = results | queryset.filter(phone=phone)
        return results, may_have_duplicates

    def save_model(self, request, obj, form, change):
        actor = Actor(user=request.user, channel=Channel.STORE)
        data = {f: form.cleaned_data[f] for f in EDITABLE if f in form.cleaned_data}
        if change:
            changes = {f: data[f] for f in form.changed_data if f in data and f in PROFILE_FIELDS}
            if not changes:
                return
            try:
                # The form already changed obj: let the service work on the stored record.
                stored = Customer.objects.get(pk=obj.pk)
                update_customer_profile(actor=actor, customer=stored, **changes)
            except ApplicationError as exc:
                # The form's validation catches nearly everything; this is a race with another edit.
                self.message_user(request, exc.detail, messages.ERROR)
            return
        identity = {k: data.pop(k) for k in ("email", "phone", "first_name", "last_name")}
        customer, created = find_or_create_customer(actor=actor, **identity, **data)
        if not created:
            self.message_user(
                request,
                f"This person was already known as customer {customer.pk}; nothing new was created.",
                messages.WARNING,
            )
        obj.pk = customer.pk
        obj._state.adding = False
        obj._state.db = customer._state.db

    def has_delete_permission(self, request, obj=None) -> bool:
        # History points at the customer; duplicates are merged, not deleted.
        return False


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    """Written only through customers.services; the history is never edited."""

    list_display = ("at", "customer", "kind", "channel", "store", "sku", "summary")
    list_filter = ("kind", "channel", "store")
    list_select_related = ("customer", "store")
    search_fields = (
        "customer__email",
        "customer__phone",
        "customer__last_name",
        "summary",
        "sku",
    )
    show_full_result_count = False


@admin.register(ServiceNote)
class ServiceNoteAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "customer", "channel", "store", "author_user", "text")
    list_filter = ("channel", "store")
    list_select_related = ("customer", "store", "author_user")
    search_fields = ("text", "customer__email", "customer__phone", "customer__last_name")


@admin.register(WishlistItem)
class WishlistItemAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "customer",
        "variant",
        "channel",
        "added_by_user",
        "store",
        "note",
    )
    list_filter = ("channel", "store")
    list_select_related = ("customer", "variant__product", "added_by_user", "store")
    search_fields = ("customer__email", "customer__last_name", "variant__sku", "note")


@admin.register(StoreCreditEntry)
class StoreCreditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "customer", "amount", "reason", "cause_type", "cause_id")
    list_filter = ("cause_type",)
    list_select_related = ("customer",)
    search_fields = ("customer__email", "customer__last_name", "reason", "cause_id")


@admin.register(PossibleDuplicate)
class PossibleDuplicateAdmin(ReadOnlyAdmin):
    """Contact data that contradicted a known customer: the service desk merges or dismisses."""

    list_display = ("created_at", "customer", "email", "phone", "channel", "resolved_at")
    list_filter = (("resolved_at", admin.EmptyFieldListFilter), "channel")
    list_select_related = ("customer",)
    search_fields = ("email", "phone", "customer__email", "customer__phone")
    actions = ("resolve",)

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("customers.change_customer")

    @admin.action(description="Mark as looked at", permissions=["resolve"])
    def resolve(self, request, queryset):
        count = resolve_possible_duplicates(actor=Actor(user=request.user), flags=queryset)
        self.message_user(request, f"{count} flag(s) resolved.", messages.SUCCESS)


@admin.register(DiscountCode)
class DiscountCodeAdmin(ReadOnlyAdmin):
    """Codes are issued through the API and the desk (customers.discounts); uses only ever rise
    when an order spends one, so nothing here is edited by hand."""

    list_display = (
        "code",
        "customer",
        "value",
        "uses",
        "max_uses",
        "min_total",
        "valid_until",
        "campaign",
        "issued_at_store",
        "issued_by_user",
        "created_at",
    )
    list_filter = ("campaign", "channel", "issued_at_store")
    list_select_related = ("customer", "issued_at_store", "issued_by_user")
    search_fields = ("code", "campaign", "customer__email", "customer__phone")
    actions = ("withdraw",)

    @admin.display(description="Value")
    def value(self, code: DiscountCode) -> str:
        return code.value_label

    has_withdraw_permission = action_permission("customers.issue_discount_code")

    @admin.action(description="End validity now", permissions=["withdraw"])
    def withdraw(self, request, queryset):
        count = withdraw_discount_codes(actor=Actor(user=request.user), codes=queryset)
        self.message_user(request, f"{count} code(s) no longer valid.", messages.SUCCESS)
