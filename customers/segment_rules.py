"""The format of a segment's saved rules: a list of conditions, all of which must hold.

    [{"rule": "bought_in_channel", "channels": ["store", "web"], "days": 90},
     {"rule": "reserved_not_collected", "days": 30},
     {"rule": "preferred_store", "store": "BER-01"},
     {"rule": "size", "category": "shirts", "size": "M"},
     {"rule": "viewed_product", "sku": "SHIRT-M-BLUE", "days": 14}]

orders.selectors.segments turns them into one SQL query; this module only checks the format, so
the admin can say what is wrong before anything is saved.
"""

import re

from common.models import Channel

SLUG = re.compile(r"[-a-zA-Z0-9_]{1,100}")
MAX_DAYS = 3650

# rule name → {key: kind}; every key is required.
RULES: dict[str, dict[str, str]] = {
    "bought_in_channel": {"channels": "channels", "days": "days"},
    "reserved_not_collected": {"days": "days"},
    "preferred_store": {"store": "text"},
    "size": {"category": "slug", "size": "text"},
    "viewed_product": {"sku": "text", "days": "days"},
}


def _value_error(kind: str, value) -> str | None:
    if kind == "days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
            return f"a whole number of days from 1 to {MAX_DAYS}"
    elif kind == "channels":
        if (
            not isinstance(value, list)
            or not value
            or any(channel not in Channel.values for channel in value)
        ):
            return f"a non-empty list of channels out of {', '.join(Channel.values)}"
    elif kind == "slug":
        if not isinstance(value, str) or not SLUG.fullmatch(value) or "__" in value:
            return "a category slug, e.g. shirts"
    elif kind == "text" and (not isinstance(value, str) or not value.strip() or len(value) > 100):
        return "a non-empty text"
    return None


def validate_rules(rules) -> list[str]:
    """The problems with `rules`, one sentence each; empty when the format is right."""
    if not isinstance(rules, list) or not rules:
        return ["Rules are a non-empty list of conditions."]
    errors = []
    for number, condition in enumerate(rules, start=1):
        if not isinstance(condition, dict):
            errors.append(f"Condition {number}: an object with a 'rule' key is needed.")
            continue
        name = condition.get("rule")
        if name not in RULES:
            errors.append(f"Condition {number}: 'rule' is one of {', '.join(sorted(RULES))}.")
            continue
        keys = RULES[name]
        unknown = sorted(set(condition) - set(keys) - {"rule"})
        if unknown:
            errors.append(f"Condition {number} ({name}): unknown key(s) {', '.join(unknown)}.")
        for key, kind in keys.items():
            if key not in condition:
                errors.append(f"Condition {number} ({name}): '{key}' is missing.")
                continue
            problem = _value_error(kind, condition[key])
            if problem:
                errors.append(f"Condition {number} ({name}): '{key}' must be {problem}.")
    return errors
