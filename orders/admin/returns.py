"""Admin for returns."""
