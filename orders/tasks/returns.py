"""Celery tasks for returns."""
