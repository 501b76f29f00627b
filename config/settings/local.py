"""Local development: `make run` (DEBUG is switched on there through DJANGO_DEBUG=1)."""

from .base import *  # noqa: F403
