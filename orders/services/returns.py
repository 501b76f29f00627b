"""Services: returns."""
