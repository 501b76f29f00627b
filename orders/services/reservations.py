"""Services: reservations."""
