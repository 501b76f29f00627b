"""Selectors: returns."""
