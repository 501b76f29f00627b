"""Reads for orders, reservations and returns, shaped for their callers."""
