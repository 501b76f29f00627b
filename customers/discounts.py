"""Discount codes: issued after advice in one channel, spent in any other.

`issue_discount_code` (a service) writes a code; `check_discount_code` (a selector) says whether a
code would work for a customer and a subtotal, and why not; `take_discount_code_use` is what an
order calls inside its own transaction to spend one use.

Never beyond `max_uses`: a use is taken with one conditional UPDATE (`uses = uses + 1 WHERE uses <
max_uses AND still valid`). On PostgreSQL a concurrent redemption waits for the row and then
re-checks the condition against the committed count, so of N racing orders exactly
`max_uses - uses` match; the others match no row and are refused. The row stays locked until the
order's transaction ends: it is taken before any stock row (the global lock order puts customer
data before stock).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from common.actor import Actor
from common.errors import ApplicationError, InvalidInput
from customers.models import Customer, DiscountCode, Segment, TimelineKind
from customers.services import record_timeline_event
from stores.models import Store

# Unambiguous when read from a receipt or over the phone: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 8
CENT = Decimal("0.01")
MAX_CAMPAIGN_LENGTH = 50


class DiscountCodeInvalid(ApplicationError):
    """Unknown, not yet or no longer valid, used up, another customer's, or below its minimum."""

    code = "discount_code_invalid"


class AlreadyOffered(ApplicationError):
    """The customer already has a code of this segment's campaign."""

    code = "already_offered"


class Reason:
    UNKNOWN = "unknown"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    USED_UP = "used_up"
    OTHER_CUSTOMER = "other_customer"
    BELOW_MIN_TOTAL = "below_min_total"


REASON_TEXT = {
    Reason.UNKNOWN: "There is no such discount code.",
    Reason.NOT_YET_VALID: "The discount code is not valid yet.",
    Reason.EXPIRED: "The discount code has expired.",
    Reason.USED_UP: "The discount code has been used up.",
    Reason.OTHER_CUSTOMER: "The discount code belongs to another customer.",
    Reason.BELOW_MIN_TOTAL: "The order is below the code's minimum total.",
}


def normalise_code(code: str) -> str:
    """What people type: any case, with spaces or dashes."""
    return "".join(ch for ch in str(code or "").upper() if ch not in " -")


def is_well_formed(code: str) -> bool:
    code = normalise_code(code)
    return len(code) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in code)


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def discount_for(code: DiscountCode, subtotal: Decimal) -> Decimal:
    """Percent of the subtotal rounded to cents, or the amount; never more than the subtotal."""
    if code.percent is None:
        return min(code.amount, subtotal)
    return min(money(subtotal * code.percent / 100), subtotal)


# --- issuing ----------------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def issue_discount_code(
    *,
    actor: Actor,
    valid_until: datetime,
    customer: Customer | None = None,
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    max_uses: int = 1,
    min_total: Decimal = Decimal("0.00"),
    campaign: str = "",
    store: Store | None = None,
    valid_from: datetime | None = None,
    segment: Segment | None = None,
) -> DiscountCode:
    """Issue a new code (8 characters, random) for one customer or, without one, for anyone.

    The customer's timeline shows who issued it, where and for which campaign. Raises
    InvalidInput (400, field errors) for percent and amount both or neither given, a percent
    outside (0, 100], an amount or minimum below zero, fewer than one use, a validity that has
    already ended, or a merged customer record. Nothing is written then. With `segment` (a
    campaign to an audience) raises AlreadyOffered when the customer has this campaign's code.
    """
    now = timezone.now()
    valid_from = valid_from or now
    errors: dict[str, list[str]] = {}
    if (percent is None) == (amount is None):
        errors["percent"] = ["Give either a percent or an amount."]
    if percent is not None and not (Decimal("0") < Decimal(percent) <= Decimal("100")):
        errors["percent"] = ["Must be above 0 and at most 100."]
    if amount is not None and Decimal(amount) <= 0:
        errors["amount"] = ["Must be above 0."]
    if min_total is None or Decimal(min_total) < 0:
        errors["min_total"] = ["Cannot be negative."]
    if isinstance(max_uses, bool) or not isinstance(max_uses, int) or max_uses < 1:
        errors["max_uses"] = ["Must be a whole number of at least 1."]
    if valid_until is None or valid_until <= max(now, valid_from):
        errors["valid_until"] = ["Must be in the future (and after valid_from)."]
    if len(campaign or "") > MAX_CAMPAIGN_LENGTH:
        errors["campaign"] = [f"At most {MAX_CAMPAIGN_LENGTH} characters."]
    if customer is not None and (customer.pk is None or customer.merged_into_id):
        errors["customer"] = ["An existing customer is needed (merged records are aliases)."]
    if errors:
        raise InvalidInput("Invalid discount code.", errors=errors)

    for attempt in range(5):
        try:
            with transaction.atomic():
                code = DiscountCode.objects.create(
                    code=_new_code(),
                    customer=customer,
                    percent=money(percent) if percent is not None else None,
                    amount=money(amount) if amount is not None else None,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    max_uses=max_uses,
                    min_total=money(min_total),
                    campaign=(campaign or "").strip(),
                    channel=actor.channel,
                    issued_by_user=actor.user if getattr(actor.user, "pk", None) else None,
                    issued_by_client=actor.client,
                    issued_at_store=store,
                    segment=segment,
                )
                if customer is not None:
                    where = f" in {store.name}" if store else ""
                    record_timeline_event(
                        customer=customer,
                        kind=TimelineKind.DISCOUNT_CODE_ISSUED,
                        channel=actor.channel,
                        summary=(
                            f"Discount code {code.code} ({code.value_label}) issued by "
                            f"{actor.label}{where}"
                            + (f", campaign {code.campaign}" if code.campaign else "")
                        ),
                        actor=actor,
                        store=store,
                        subject_type="discount_code",
                        subject_id=code.code,
                        data={
                            "code": code.code,
                            "issued_by": actor.label,
                            "store": store.code if store else None,
                            "valid_until": code.valid_until.isoformat(),
                        },
                        campaign=code.campaign,
                    )
                return code
        except IntegrityError:
            if (
                segment is not None
                and DiscountCode.objects.filter(
                    segment=segment, campaign=(campaign or "").strip(), customer=customer
                ).exists()
            ):
                raise AlreadyOffered(
                    f"{customer} already has a code of campaign '{campaign}'."
                ) from None
            # 25^8 codes: a collision is rare, drawing again is the cure.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


# --- checking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeCheck:
    code: DiscountCode | None
    valid: bool
    reason: str = ""
    discount: Decimal | None = None

    @property
    def message(self) -> str:
        return REASON_TEXT.get(self.reason, "")


def find_discount_code(code: str) -> DiscountCode | None:
    return (
        DiscountCode.objects.select_related("customer", "issued_at_store")
        .filter(code=normalise_code(code))
        .first()
    )


def _refusal(
    found: DiscountCode | None,
    customer: Customer | None,
    total: Decimal | None,
    now: datetime,
) -> str:
    if found is None:
        return Reason.UNKNOWN
    if found.customer_id is not None and customer is not None and found.customer_id != customer.pk:
        return Reason.OTHER_CUSTOMER
    if now < found.valid_from:
        return Reason.NOT_YET_VALID
    if now >= found.valid_until:
        return Reason.EXPIRED
    if found.uses >= found.max_uses:
        return Reason.USED_UP
    if total is not None and total < found.min_total:
        return Reason.BELOW_MIN_TOTAL
    return ""


def check_discount_code(
    code: str,
    *,
    customer: Customer | None = None,
    total: Decimal | None = None,
    now: datetime | None = None,
) -> CodeCheck:
    """Would this code work now, for this customer (when known) and subtotal (when known)?

    A selector: reads only. A customer-bound code checked without a customer is valid (the
    order will check the customer).
    """
    found = find_discount_code(code)
    reason = _refusal(found, customer, total, now or timezone.now())
    discount = discount_for(found, total) if not reason and total is not None else None
    return CodeCheck(code=found, valid=not reason, reason=reason, discount=discount)


# --- spending ---------------------------------------------------------------------------------


def take_discount_code_use(
    *, code: str, customer: Customer, subtotal: Decimal
) -> tuple[DiscountCode, Decimal]:
    """Spend one use of the code on a subtotal; returns the code and the discount.

    Must run inside the order's transaction: the use is given back if the order fails. Raises
    DiscountCodeInvalid (409, `reason` in the body) when the code is unknown, not valid now,
    another customer's, below its minimum or used up — also when a concurrent order took the last
    use first. Nothing is written then.
    """
    now = timezone.now()
    found = find_discount_code(code)
    reason = _refusal(found, customer, subtotal, now)
    if not reason:
        taken = DiscountCode.objects.filter(
            pk=found.pk,
            uses__lt=F("max_uses"),
            valid_from__lte=now,
            valid_until__gt=now,
        ).update(uses=F("uses") + 1)
        if taken:
            found.uses += 1
            return found, discount_for(found, subtotal)
        found.refresh_from_db(fields=["uses", "max_uses", "valid_from", "valid_until"])
        reason = _refusal(found, customer, subtotal, now) or Reason.USED_UP
    raise DiscountCodeInvalid(
        REASON_TEXT[reason],
        errors={"discount_code": [REASON_TEXT[reason]]},
        extra={"reason": reason},
    )


@transaction.atomic
def withdraw_discount_codes(*, actor: Actor, codes) -> int:
    """End the validity of still valid codes now (a code given by mistake); returns how many.

    Uses already taken stay; orders placed with them are not touched.
    """
    now = timezone.now()
    return DiscountCode.objects.filter(
        pk__in=[c.pk for c in codes], valid_until__gt=now, valid_from__lt=now
    ).update(valid_until=now)
