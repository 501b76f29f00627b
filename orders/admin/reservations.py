"""Admin for reservations."""
