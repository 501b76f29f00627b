"""Celery tasks for reservations."""
