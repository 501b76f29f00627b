"""Money, dates and times as the reader's language writes them: one helper per kind, used by the
desk's templates (the `omnis` template library), its messages and every customer e-mail and SMS.

- money: `21,90 €` in German, `€21.90` in English (Django's number formatting, grouped).
- date, time, date with time: the formats of config/formats/<language>/formats.py, always in
  the zone given (the store's), never the server's.
"""

import zoneinfo
from datetime import date, datetime, tzinfo
from decimal import Decimal

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import get_language

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF"}


def money(amount: Decimal | int | float | str | None, currency: str | None = None) -> str:
    """`21,90 €` (de) / `€21.90` (en); other currencies by their symbol or code."""
    if amount is None or amount == "":
        return ""
    currency = (currency or settings.OMNIS_CURRENCY).upper()
    number = formats.number_format(
        Decimal(str(amount)), decimal_pos=2, use_l10n=True, force_grouping=True
    )
    symbol = SYMBOLS.get(currency, currency)
    if (get_language() or settings.LANGUAGE_CODE).startswith("en"):
        negative = number.startswith("-")
        number = number.lstrip("-")
        glue = " " if len(symbol) > 1 else ""
        return f"{'-' if negative else ''}{symbol}{glue}{number}"
    return f"{number} {symbol}"


def as_zone(zone: tzinfo | str | None) -> tzinfo:
    """A store's zone (its `zone` or `time_zone`), a zone name, or the default TIME_ZONE."""
    if zone is None or zone == "":
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)
    if isinstance(zone, str):
        return zoneinfo.ZoneInfo(zone)
    if isinstance(zone, tzinfo):
        return zone
    return as_zone(getattr(zone, "time_zone", None))  # a Store


def _local(value: datetime | date, zone) -> datetime | date:
    if isinstance(value, datetime) and timezone.is_aware(value):
        return value.astimezone(as_zone(zone))
    return value


def local_date(value: datetime | date | None, zone=None) -> str:
    return "" if value is None else formats.date_format(_local(value, zone), "DATE_FORMAT")


def local_time(value: datetime | None, zone=None) -> str:
    return "" if value is None else formats.time_format(_local(value, zone), "TIME_FORMAT")


def local_datetime(value: datetime | None, zone=None) -> str:
    return "" if value is None else formats.date_format(_local(value, zone), "DATETIME_FORMAT")
