"""Selectors: reservations."""
