"""Admin for orders."""
