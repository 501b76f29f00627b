"""Segments in the admin: managers write the rules (JSON, checked on save), see the member count
and download the members as CSV."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import slugify

from common.access import action_permission
from common.actor import Actor
from common.admin import ReadOnlyAdmin
from common.errors import InvalidInput
from common.models import Channel
from customers.models import Nudge, Segment
from orders.selectors.segments import members_csv, segment_members
from orders.services.campaigns import offer_codes_to_segment
from stores.models import Store


class OfferCodeForm(forms.Form):
    """The terms of a segment's code campaign; the service checks them again."""

    campaign = forms.CharField(max_length=50, help_text="The tag its codes are followed by.")
    percent = forms.DecimalField(required=False, min_value=0, max_value=100, decimal_places=2)
    amount = forms.DecimalField(required=False, min_value=0, max_digits=10, decimal_places=2)
    days = forms.IntegerField(min_value=1, max_value=365, initial=14, label="Valid for days")
    min_total = forms.DecimalField(
        min_value=0, max_digits=10, decimal_places=2, initial=0, label="Minimum purchase"
    )
    store = forms.ModelChoiceField(
        queryset=Store.objects.filter(is_active=True, is_warehouse=False), required=False
    )


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "members", "updated_at")
    search_fields = ("name", "description")
    readonly_fields = ("members", "created_by", "created_at", "updated_at")
    fields = ("name", "description", "rules", "members", "created_by", "created_at", "updated_at")
    actions = ("export_members", "offer_code")

    has_export_permission = action_permission("customers.change_segment")
    # Managers build the segments and run their campaigns.
    has_offer_permission = action_permission("customers.change_segment")

    @admin.display(description="members")
    def members(self, segment: Segment) -> int | str:
        if segment.pk is None:
            return "-"
        return segment_members(segment).count()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Download the members as CSV", permissions=["export"])
    def export_members(self, request, queryset):
        segments = list(queryset.order_by("name"))
        body = "".join(
            (f"# {segment.name}\n" if len(segments) > 1 else "") + members_csv(segment)
            for segment in segments
        )
        name = slugify(segments[0].name) if len(segments) == 1 else "segments"
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}-members.csv"'
        return response

    @admin.action(description="Offer each member a discount code", permissions=["offer"])
    def offer_code(self, request, queryset):
        form = OfferCodeForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            actor = Actor(user=request.user, channel=Channel.STORE)
            data = form.cleaned_data
            try:
                for segment in queryset.order_by("name"):
                    offered = offer_codes_to_segment(
                        actor=actor,
                        segment=segment,
                        campaign=data["campaign"],
                        valid_until=timezone.now() + timedelta(days=data["days"]),
                        percent=data["percent"],
                        amount=data["amount"],
                        min_total=data["min_total"],
                        store=data["store"],
                    )
                    self.message_user(
                        request, f"{segment}: {offered} code(s) offered.", messages.SUCCESS
                    )
                return None
            except InvalidInput as error:
                for field, problems in error.errors.items():
                    form.add_error(field if field in form.fields else None, problems)
        return TemplateResponse(
            request,
            "admin/customers/segment/offer_code.html",
            {
                **self.admin_site.each_context(request),
                "title": "Offer a discount code to the members",
                "segments": queryset,
                "form": form,
                "opts": self.model._meta,
            },
        )


@admin.register(Nudge)
class NudgeAdmin(ReadOnlyAdmin):
    """Who was told what and when: written by the nudge sweep and segment nudges only."""

    list_display = ("created_at", "customer", "variant", "week", "reason", "store", "available")
    list_filter = ("reason", "week", "store")
    list_select_related = ("customer", "variant", "store")
    search_fields = ("customer__email", "customer__phone", "variant__sku")
