"""Selectors: orders."""
