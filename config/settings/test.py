"""Test settings: fast hashing, mails kept in memory, tasks eager unless a test says otherwise."""

from .base import *  # noqa: F403
from .base import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "common.sms.LocmemBackend"
CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
DEBUG = False

if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# Each test process counts throttles on its own (never a shared Redis); tests that check a rate set
# a small one themselves, and the conftest empties the cache between tests.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
