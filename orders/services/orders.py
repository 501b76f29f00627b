"""Services: orders."""
