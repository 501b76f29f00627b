"""A campaign followed from the poster to the sale: touchpoints, codes issued, codes spent, revenue."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum

from customers.models import DiscountCode, TimelineEvent, TimelineKind
from orders.models import DiscountRedemption, OrderStatus

TOUCHPOINT_KINDS = (TimelineKind.TOUCHPOINT, TimelineKind.PRODUCT_VIEW)


@dataclass(frozen=True)
class CampaignFunnel:
    campaign: str
    touchpoints: int
    customers_reached: int
    codes_issued: int
    redemptions: int
    discount_given: Decimal
    revenue: Decimal
    redemptions_by_channel: dict[str, int] = field(default_factory=dict)


def campaign_funnel(tag: str) -> CampaignFunnel:
    """Each step of a campaign tag's funnel, in four queries.

    Revenue is what the customers paid on the orders that spent one of the campaign's codes
    (order totals after the discount; cancelled orders are left out).
    """
    tag = (tag or "").strip()
    visits = TimelineEvent.objects.filter(campaign=tag, kind__in=TOUCHPOINT_KINDS).aggregate(
        touchpoints=Count("id"), customers=Count("customer", distinct=True)
    )
    issued = DiscountCode.objects.filter(campaign=tag).count()
    spent = DiscountRedemption.objects.filter(code__campaign=tag).exclude(
        order__status=OrderStatus.CANCELLED
    )
    sums = spent.aggregate(
        redemptions=Count("id"), discount=Sum("amount"), revenue=Sum("order__total")
    )
    by_channel = dict(
        spent.order_by()
        .values_list("order__channel")
        .annotate(n=Count("id"))
        .values_list("order__channel", "n")
    )
    return CampaignFunnel(
        campaign=tag,
        touchpoints=visits["touchpoints"],
        customers_reached=visits["customers"],
        codes_issued=issued,
        redemptions=sums["redemptions"],
        discount_given=sums["discount"] or Decimal("0.00"),
        revenue=sums["revenue"] or Decimal("0.00"),
        redemptions_by_channel=by_channel,
    )
