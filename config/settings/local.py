"""Local development: `make run` (DEBUG is switched on there through DJANGO_DEBUG=1).

The console is for the person trying Omnis: e-mails and SMS go to files (one line each on the
console), and the in-process Celery tasks do not log every run.
"""

from .base import *  # noqa: F403
from .base import LOGGING, SMS_URL, env

if not env("EMAIL_URL", default=""):
    EMAIL_BACKEND = env("EMAIL_BACKEND", default="common.devmail.SummaryFileBackend")
SMS_BACKEND = env(
    "SMS_BACKEND", default="common.sms.HttpBackend" if SMS_URL else "common.sms.SummaryFileBackend"
)
# Start-up notes, every eager task run and a second access line per request (runserver prints
# one) are noise here; warnings still show.
for quiet in (
    "celery.app.trace",
    "axes.apps",
    "pyBarcode",
    "django.utils.autoreload",
    "omnis.requests",
):
    LOGGING["loggers"][quiet] = {"level": "WARNING"}
