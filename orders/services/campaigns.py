"""A discount-code campaign to a segment: each member who may get marketing is offered their own
code (one use), by their channel, and the campaign tag follows it to the sale
(orders.selectors.campaigns)."""

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from common import outbox
from common.actor import Actor
from common.errors import InvalidInput
from customers.discounts import AlreadyOffered, issue_discount_code
from customers.models import Segment
from customers.selectors import may_send_marketing, open_consents
from stores.models import Store

OFFER_TOPIC = "orders.send_discount_offer"


def offer_codes_to_segment(
    *,
    actor: Actor,
    segment: Segment,
    campaign: str,
    valid_until: datetime,
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    min_total: Decimal = Decimal("0.00"),
    store: Store | None = None,
) -> int:
    """Offer one code of `campaign` to each member of `segment` who may get marketing and has
    none of it yet; queue the message with the code. Returns the number of codes issued.

    One transaction: bad terms (issue_discount_code's field errors, or no campaign tag) write
    nothing. Running it again offers codes only to members who joined since; two runs at once
    cannot give anyone two codes (the DiscountCode constraint, not a look first).
    """
    from orders.selectors.segments import segment_members

    campaign = (campaign or "").strip()
    if not campaign:
        raise InvalidInput(
            "A campaign needs a tag.",
            errors={"campaign": ["Give the campaign a tag; its codes are followed by it."]},
        )
    members = [
        m
        for m in segment_members(segment).prefetch_related(open_consents()).order_by("pk")
        if may_send_marketing(m)
    ]
    offered = 0
    with transaction.atomic():
        for member in members:
            try:
                code = issue_discount_code(
                    actor=actor,
                    customer=member,
                    valid_until=valid_until,
                    percent=percent,
                    amount=amount,
                    max_uses=1,
                    min_total=min_total,
                    campaign=campaign,
                    store=store,
                    segment=segment,
                )
            except AlreadyOffered:
                continue
            outbox.enqueue(OFFER_TOPIC, {"code_id": code.pk}, key=f"discount-offer:{code.pk}")
            offered += 1
    return offered
