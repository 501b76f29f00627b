"""Whole numbers typed into the desk's forms: ASCII digits only, within a range.

Python's int() also reads "²"-like digits of other scripts ("٣" is 3; "²" passes isdigit() and
then fails int()) and numbers of any size; the database holds neither. Out of range or not a
number: None, and the page says so instead of failing.
"""

from common.input_guard import MAX_ID

MAX_QUANTITY = 9999


def whole_number(raw: str | None, *, minimum: int = 0, maximum: int = MAX_QUANTITY) -> int | None:
    value = (raw or "").strip()
    if not value or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if minimum <= number <= maximum else None


def object_id(raw: str | None) -> int | None:
    return whole_number(raw, minimum=1, maximum=MAX_ID)
