from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

sku_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{2,31}$",
    "A SKU is 3–32 capital letters, digits and dashes, starting with a letter or digit.",
)


def ean13_check_digit(first12: str) -> int:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def validate_ean13(value: str) -> None:
    if not (isinstance(value, str) and len(value) == 13 and value.isdigit()):
        raise ValidationError("An EAN-13 barcode has exactly 13 digits.")
    if int(value[12]) != ean13_check_digit(value[:12]):
        raise ValidationError(
            f"{value} has a wrong check digit (expected {ean13_check_digit(value[:12])})."
        )
