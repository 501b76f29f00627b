def seed_orders(*, stdout=None) -> None:
    """Orders, reservations and returns of the demo retailer (filled in by the orders workflows)."""
