"""Sizes follow the customer (journey 4): the size they told us, the one they keep buying, or
the one they keep looking at."""

from collections import Counter, defaultdict

from django.db.models import OuterRef, Subquery

from customers.models import Customer, TimelineEvent, TimelineKind
from inventory.models import Variant
from orders.models.orders import OrderLine, OrderStatus

VIEWS_LOOKED_AT = 200  # the latest views and size filters that count


def _looked_at(customer: Customer) -> dict[str, Counter]:
    """Per category, how often the customer filtered by a size or viewed a variant in it."""
    variant = Variant.objects.filter(sku=OuterRef("sku"))
    rows = (
        TimelineEvent.objects.filter(
            customer=customer, kind__in=[TimelineKind.PRODUCT_VIEW, TimelineKind.SIZE_FILTER]
        )
        .annotate(
            variant_category=Subquery(variant.values("product__category__slug")[:1]),
            variant_attributes=Subquery(variant.values("attributes")[:1]),
        )
        .order_by("-at", "-id")
        .values_list("kind", "data", "variant_category", "variant_attributes")[:VIEWS_LOOKED_AT]
    )
    seen: dict[str, Counter] = defaultdict(Counter)
    for kind, data, category, attributes in rows:
        if kind == TimelineKind.SIZE_FILTER:
            category, size = (data or {}).get("category"), (data or {}).get("size")
        else:
            size = attributes.get("size") if isinstance(attributes, dict) else None
        if category and size:
            seen[str(category)][str(size)] += 1
    return seen


def usual_sizes(customer: Customer) -> dict[str, dict]:
    """Per category: {"size", "source": "profile" | "purchases" | "views", "units"}.

    A size the customer gave us wins; otherwise the size bought most often (units kept, i.e.
    handed over or still open, minus returns) in any channel; otherwise the size the customer
    filtered by or viewed most often lately. Two queries.
    """
    bought: dict[str, Counter] = defaultdict(Counter)
    rows = (
        OrderLine.objects.filter(order__customer=customer)
        .exclude(order__status=OrderStatus.CANCELLED)
        .values_list(
            "variant__product__category__slug", "variant__attributes", "quantity", "returned"
        )
    )
    for category, attributes, quantity, returned in rows:
        size = (attributes or {}).get("size")
        if size and quantity - returned > 0:
            bought[category][str(size)] += quantity - returned
    result = {
        category: {"size": sizes.most_common(1)[0][0], "source": "views", "units": 0}
        for category, sizes in _looked_at(customer).items()
    }
    result |= {
        category: {
            "size": sizes.most_common(1)[0][0],
            "source": "purchases",
            "units": sum(sizes.values()),
        }
        for category, sizes in bought.items()
    }
    for category, size in (customer.sizes or {}).items():
        result[category] = {
            "size": str(size),
            "source": "profile",
            "units": sum(bought[category].values()),
        }
    return dict(sorted(result.items()))
