"""Segments in the admin: managers write the rules (JSON, checked on save), see the member count
and download the members as CSV."""

from django.contrib import admin
from django.http import HttpResponse
from django.utils.text import slugify

from common.access import action_permission
from common.admin import ReadOnlyAdmin
from customers.models import Nudge, Segment
from orders.selectors.segments import members_csv, segment_members


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "description", "members", "updated_at")
    search_fields = ("name", "description")
    readonly_fields = ("members", "created_by", "created_at", "updated_at")
    fields = ("name", "description", "rules", "members", "created_by", "created_at", "updated_at")
    actions = ("export_members",)

    has_export_permission = action_permission("customers.change_segment")

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


@admin.register(Nudge)
class NudgeAdmin(ReadOnlyAdmin):
    """Who was told what and when: written by the nudge sweep and segment nudges only."""

    list_display = ("created_at", "customer", "variant", "week", "reason", "store", "available")
    list_filter = ("reason", "week", "store")
    list_select_related = ("customer", "variant", "store")
    search_fields = ("customer__email", "customer__phone", "variant__sku")
