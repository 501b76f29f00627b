"""Query parameters every list endpoint reads the same way; a bad value is a 400 on that field."""

from rest_framework.exceptions import ValidationError


def parse_near(value: str | None) -> tuple[float, float] | None:
    """?near=LAT,LON → (lat, lon)."""
    if not value:
        return None
    try:
        lat, lon = (float(part) for part in value.split(","))
    except ValueError:
        raise ValidationError({"near": ["Use near=LAT,LON, e.g. near=52.52,13.40."]})
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError({"near": ["Latitude must be within ±90 and longitude within ±180."]})
    return lat, lon


def parse_bool(value: str | None, field: str) -> bool | None:
    """true/false, 1/0, yes/no; absent → None (no filter). Given but empty is an error: the
    published schema says boolean, so a client generated from it never sends that."""
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ValidationError({field: ["Use true or false."]})
