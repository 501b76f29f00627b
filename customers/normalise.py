"""One person, one identity: e-mail lower-cased, phone in E.164 (parsed for the deployment's region)."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email


def normalise_email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not value:
        return None
    validate_email(value)
    return value


def normalise_phone(value: str | None, region: str | None = None) -> str | None:
    """'030 1234567', '+49 30 1234567' and '0049301234567' all become '+49301234567'."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    region = region or settings.OMNIS_PHONE_REGION
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"'{value}' is not a phone number we can read (region {region}).")
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValidationError(f"'{value}' is not a valid phone number (region {region}).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
