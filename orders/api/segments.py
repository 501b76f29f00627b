"""Segments for managers: the rules with today's member count, the members as CSV, and a
campaign followed from the poster to the sale."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from common.access import Rule
from customers.models import Segment
from orders.selectors.campaigns import campaign_funnel
from orders.selectors.segments import members_csv, segment_members

SEGMENTS = Rule(staff="customers.change_segment")


class SegmentOutput(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "rules", "members", "updated_at"]

    def get_members(self, segment) -> int:
        return segment_members(segment).count()


class SegmentDetailView(APIView):
    access = {"GET": SEGMENTS}

    @extend_schema(responses=SegmentOutput, summary="A segment's rules and how many match today")
    def get(self, request, pk: int):
        return Response(SegmentOutput(get_object_or_404(Segment, pk=pk)).data)


class SegmentMembersCsvView(APIView):
    access = {"GET": SEGMENTS}

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV.")},
        summary="The segment's members as CSV (id, names, e-mail, phone, store, channel)",
    )
    def get(self, request, pk: int):
        segment = get_object_or_404(Segment, pk=pk)
        response = HttpResponse(members_csv(segment), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{slugify(segment.name) or "segment"}-members.csv"'
        )
        return response


class CampaignOutput(serializers.Serializer):
    campaign = serializers.CharField()
    touchpoints = serializers.IntegerField(help_text="Visits and views carrying the tag.")
    customers_reached = serializers.IntegerField()
    codes_issued = serializers.IntegerField()
    redemptions = serializers.IntegerField()
    redemptions_by_channel = serializers.DictField(child=serializers.IntegerField())
    discount_given = serializers.DecimalField(max_digits=12, decimal_places=2)
    revenue = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Totals of the orders that spent a code."
    )


class CampaignView(APIView):
    """A tag on touchpoints (the QR poster) and on codes: each step up to the sale."""

    access = {"GET": SEGMENTS}

    @extend_schema(responses=CampaignOutput, summary="A campaign from the poster to the sale")
    def get(self, request, tag: str):
        funnel = campaign_funnel(tag.strip())
        return Response(CampaignOutput(funnel).data)
