"""Sizes follow the customer (journey 4): the size they told us, or the one they keep buying."""

from collections import Counter, defaultdict

from customers.models import Customer
from orders.models.orders import OrderLine, OrderStatus


def usual_sizes(customer: Customer) -> dict[str, dict]:
    """Per category: {"size", "source": "profile" | "purchases", "units"}.

    A size the customer gave us wins; otherwise the size bought most often (units kept, i.e.
    handed over or still open, minus returns) in any channel. One query.
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
