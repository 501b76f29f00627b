"""Settings shared by every environment. Everything that differs comes from the environment."""

from datetime import time, timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="omnis-local-development-key-not-for-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "axes",
    "simple_history",
    "django_htmx",
    "common",
    "stores",
    "inventory",
    "customers",
    "orders",
]

MIDDLEWARE = [
    # Health and metrics probes are answered first: plain HTTP, any Host, no access log.
    "common.probes.ProbeMiddleware",
    "common.requestlog.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, API docs) served by the web process itself: no CDN, no extra server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The desk and the admin speak the user's language (cookie, then Accept-Language, else German);
    # the API always English (common.locale). After sessions, before CommonMiddleware.
    "common.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # NUL, unpaired surrogates and ids beyond 64 bits: 400/404 before any view (common.input_guard).
    "common.input_guard.RefuseUnstorableInput",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Keeps the request for change history (common.history): who acted, read when a row is saved.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: the desk answers htmx requests with a page's fragment (the morning board).
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a login refused for too many failures into the lock-out answer (metrics count it).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# No DATABASE_URL: an SQLite file beside manage.py, so a new user needs nothing else.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two desk users (or the desk and the webshop) writing at once wait for each other instead of
    # failing with "database is locked": every transaction takes the write lock when it begins
    # (IMMEDIATE; a read that later writes cannot be refused mid-way), a writer waits up to 20 s
    # for it, and WAL lets readers go on while someone writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters bound by the server and, from a statement's second run on a connection, prepared
    # statements: PostgreSQL parses and plans the write path's statements once per connection
    # instead of once per call (docs/performance.md). Behind PgBouncer in transaction mode (before
    # 1.21, or without max_prepared_statements) set DATABASE_PREPARE_THRESHOLD= (empty): off.
    _prepare = env("DATABASE_PREPARE_THRESHOLD", default="2")
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": int(_prepare) if _prepare else None}
    )

# REDIS_URL: one cache shared by every process (the stock check's result for /metrics, probes);
# without it each process keeps its own in memory, which is all development needs.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "omnis",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "common.backends.PermissionsBackend",
]

# Password guessing (django-axes): every password login (admin and desk, which log in through the
# admin's page, and POST /api/v1/auth/token/) counts failures per username and address; the 5th
# failure locks that pair out for 15 minutes. `manage.py axes_reset_username USER` unlocks early.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# 15 minutes from the lock-out, not from the last attempt during it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "common.security.lockout_response"
# The client's address is REMOTE_ADDR unless a proxy in front is trusted to set X-Forwarded-For
# (AXES_IPWARE_PROXY_COUNT / NUM_PROXIES = the number of proxies): a header the client can send
# itself must not pick the counter it is counted on.
AXES_IPWARE_PROXY_COUNT = env.int("NUM_PROXIES", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    if env.int("NUM_PROXIES", default=0)
    else ["REMOTE_ADDR"]
)

# Change history (common.history) is read in the admin, never reverted or edited there.
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_EDIT = False

# Throttles (DRF, common.throttling): requests per API client, per customer login, per staff
# login and per address of anonymous callers; the token endpoint also per address. Generous by
# default: they stop floods, not a busy shop. "None" switches one off.
OMNIS_THROTTLE_RATES = {
    "client": env("OMNIS_THROTTLE_CLIENT", default="6000/min"),
    "customer": env("OMNIS_THROTTLE_CUSTOMER", default="600/min"),
    "staff": env("OMNIS_THROTTLE_STAFF", default="3000/min"),
    "anon": env("OMNIS_THROTTLE_ANON", default="600/min"),
    "login": env("OMNIS_THROTTLE_LOGIN", default="60/min"),
}

# API tokens of staff and customer logins expire; a password change revokes them all.
OMNIS_STAFF_TOKEN_TTL = timedelta(hours=env.int("OMNIS_STAFF_TOKEN_TTL_HOURS", default=12))
OMNIS_CUSTOMER_TOKEN_TTL = timedelta(days=env.int("OMNIS_CUSTOMER_TOKEN_TTL_DAYS", default=30))
# last_used_at is written at most this often per token (one UPDATE, not one per request).
OMNIS_TOKEN_LAST_USED_RESOLUTION = timedelta(minutes=1)

# Throttle counters (and anything else cached) live in Redis when REDIS_URL is set, so that every
# web process counts together; without it each process counts for itself in memory.
if env("REDIS_URL", default=""):
    CACHES = {"default": env.cache_url("REDIS_URL")}  # Django's own RedisCache
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# German for the retailer's staff and customers; English on request (the desk's language
# switcher, a customer's `language`). The API's messages stay English (docs/api.md).
LANGUAGE_CODE = env("LANGUAGE_CODE", default="de")
LANGUAGES = [("de", "Deutsch"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date, time and date-with-time format per language (config/formats/<lang>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
API_LANGUAGE = "en"
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Without collectstatic (development, tests) WhiteNoise serves straight from the apps.
STATIC_ROOT = env("STATIC_ROOT", default=None)
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/admin/login/"

# The retailer's deployment
OMNIS_CURRENCY = env("OMNIS_CURRENCY", default="EUR")
OMNIS_PHONE_REGION = env("OMNIS_PHONE_REGION", default="DE")
OMNIS_RETURN_WINDOW_DAYS = env.int("OMNIS_RETURN_WINDOW_DAYS", default=30)
# Who pays money back for refunds to the original payment (orders.payments registry).
OMNIS_REFUND_PROVIDER = env("OMNIS_REFUND_PROVIDER", default="manual")
# A refund still pending at the provider after this long is flagged for the manager.
OMNIS_REFUND_PENDING_ALERT = timedelta(
    minutes=env.int("OMNIS_REFUND_PENDING_ALERT_MINUTES", default=60)
)
OMNIS_IDEMPOTENCY_TTL = timedelta(hours=24)
# The outbox (common.outbox): tries per message before it is parked as dead, and the first backoff.
OMNIS_OUTBOX_MAX_ATTEMPTS = env.int("OMNIS_OUTBOX_MAX_ATTEMPTS", default=8)
OMNIS_OUTBOX_RETRY_BASE_SECONDS = env.int("OMNIS_OUTBOX_RETRY_BASE_SECONDS", default=30)
# /metrics without a token: loopback and private networks. With OMNIS_METRICS_TOKEN set,
# `Authorization: Bearer <token>` is accepted from anywhere.
OMNIS_METRICS_NETWORKS = env.list(
    "OMNIS_METRICS_NETWORKS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)
OMNIS_METRICS_TOKEN = env("OMNIS_METRICS_TOKEN", default="")
# Webhooks (common.webhooks): how long a subscriber may take to answer, how long a delivery is
# retried, and how stale a process's view of who subscribed may be.
OMNIS_WEBHOOK_TIMEOUT_SECONDS = env.float("OMNIS_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
OMNIS_WEBHOOK_RETRY_HOURS = env.int("OMNIS_WEBHOOK_RETRY_HOURS", default=24)
OMNIS_WEBHOOK_SUBSCRIBERS_TTL_SECONDS = env.float(
    "OMNIS_WEBHOOK_SUBSCRIBERS_TTL_SECONDS", default=2.0
)
# How stale a process's copy of the stores may be (stores.selectors.store_by_code): a store closed
# or changed elsewhere is seen by every process within this time.
OMNIS_STORE_DIRECTORY_TTL_SECONDS = env.float("OMNIS_STORE_DIRECTORY_TTL_SECONDS", default=5.0)
# A deadlock or serialization failure reruns the outermost transaction (common.retry): attempts in
# all, and the first pause's ceiling in seconds (doubling, with jitter, at most 0.5 s).
OMNIS_BUSY_RETRIES = env.int("OMNIS_BUSY_RETRIES", default=5)
OMNIS_BUSY_RETRY_BASE_DELAY = env.float("OMNIS_BUSY_RETRY_BASE_DELAY", default=0.02)
OMNIS_EMAIL_FROM = env("OMNIS_EMAIL_FROM", default="service@omnis.example")
DEFAULT_FROM_EMAIL = OMNIS_EMAIL_FROM

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Used by the file-based backend (e.g. the worker test reads the e-mails the worker wrote).
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "tmp" / "emails"))
# SMS: printed by default; with SMS_URL (https://user:token@provider.example/send) POSTed to the
# provider as JSON {to, text}.
SMS_URL = env("SMS_URL", default="")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10)
SMS_BACKEND = env(
    "SMS_BACKEND", default="common.sms.HttpBackend" if SMS_URL else "common.sms.ConsoleBackend"
)
# No marketing SMS between these local hours of the store (transactional ones always go).
OMNIS_SMS_QUIET_FROM = env.int("OMNIS_SMS_QUIET_FROM", default=20)
OMNIS_SMS_QUIET_UNTIL = env.int("OMNIS_SMS_QUIET_UNTIL", default=9)
# A new e-mail address or phone number of a customer login waits for the code sent to it.
OMNIS_CONTACT_CODE_TTL = timedelta(minutes=env.int("OMNIS_CONTACT_CODE_TTL_MINUTES", default=30))
OMNIS_CONTACT_CODE_ATTEMPTS = 5
# Double opt-in: how long the link that confirms a consent to advertising by e-mail stays valid,
# and the address in front of /api/v1/consents/confirm/<token>/ in that e-mail.
OMNIS_CONSENT_CONFIRM_TTL = timedelta(days=env.int("OMNIS_CONSENT_CONFIRM_TTL_DAYS", default=7))
OMNIS_PUBLIC_URL = env("OMNIS_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
# Wrong pickup codes for one order before its hand-over is locked until a manager unlocks it.
OMNIS_PICKUP_CODE_ATTEMPTS = env.int("OMNIS_PICKUP_CODE_ATTEMPTS", default=5)
# What one customer may hold at once: active reservations, and units of one item in one of them.
# Nudges ("only one left"): sent at this local time (HH:MM, the customer's store's time zone) on
# these days (crontab day_of_week, e.g. "sat" for a weekend nudge), when at most
# OMNIS_NUDGE_LOW_STOCK units are left.
OMNIS_NUDGE_LOCAL_TIME = time.fromisoformat(env("OMNIS_NUDGE_LOCAL_TIME", default="09:30"))
OMNIS_NUDGE_DAYS = env("OMNIS_NUDGE_DAYS", default="*")
OMNIS_NUDGE_LOW_STOCK = env.int("OMNIS_NUDGE_LOW_STOCK", default=1)
OMNIS_RESERVATION_MAX_ACTIVE = env.int("OMNIS_RESERVATION_MAX_ACTIVE", default=5)
OMNIS_RESERVATION_MAX_UNITS_PER_LINE = env.int("OMNIS_RESERVATION_MAX_UNITS_PER_LINE", default=10)
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes unauthenticated calls answer 401.
        "common.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Who may call what is each view's `access` table (common.access); no rule, no access.
    "DEFAULT_PERMISSION_CLASSES": ["common.access.FollowsTheTable"],
    "DEFAULT_PAGINATION_CLASS": "common.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "common.schema.AutoSchema",
    "EXCEPTION_HANDLER": "common.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "common.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["common.throttling.PerCallerThrottle"],
    # The address DRF throttles anonymous callers by: see AXES_IPWARE_PROXY_COUNT.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Omnis API",
    "DESCRIPTION": "Stock, orders, reservations, returns and customers for every channel.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI is served from the sidecar package: no CDN needed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API speaks JSON (docs/api.md): only JSON request bodies are documented (forms are still
    # parsed, as DRF does, but are no part of the contract).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "common.models.Channel",
        "ErrorTypeEnum": "common.exceptions.ERROR_TYPE_VALUES",
        "WebhookEventTypeEnum": "common.models.WebhookEventType",
        "ReturnMethodEnum": "orders.models.returns.ReturnMethod",
        "RefundMethodEnum": "orders.models.returns.RefundMethod",
        # What a new order may ask for (inputs) vs. every value an order can have (outputs).
        "FulfilmentEnum": "orders.models.orders.Fulfilment",
        "NewOrderFulfilmentEnum": ["pickup", "delivery"],
        "PaymentStatusEnum": "orders.models.orders.PaymentStatus",
        "NewOrderPaymentStatusEnum": ["paid", "pay_at_pickup"],
        "ConsentChannelEnum": "customers.models.ConsentChannel",
        "ConsentPurposeEnum": "customers.models.ConsentPurpose",
    },
}

# Celery: no broker configured → tasks run eagerly in-process (embedded default).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# A broker that cannot be reached must not hold a request: fail fast, the outbox sweep relays later.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
# Beat remembers when each job last ran here; one beat per deployment, so one file.
CELERY_BEAT_SCHEDULE_FILENAME = env(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / "tmp" / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {
        "task": "common.tasks.sweep_outbox",
        "schedule": 60.0,
    },
    "purge-expired-idempotency-keys": {
        "task": "common.tasks.purge_expired_idempotency_keys",
        "schedule": crontab(minute=17),
    },
    "release-expired-reservations": {
        "task": "orders.tasks.reservations.release_expired_reservations_task",
        "schedule": env.float("OMNIS_RESERVATION_SWEEP_SECONDS", default=60.0),
    },
    "expire-uncollected-orders": {
        "task": "orders.tasks.orders.expire_uncollected_orders",
        "schedule": crontab(minute="*/15"),
    },
    # "Only one left" for listed and twice-viewed items: hourly at the minute of
    # OMNIS_NUDGE_LOCAL_TIME, each customer at that hour of their store's time zone.
    "send-nudges": {
        "task": "orders.tasks.nudges.send_nudges_task",
        "schedule": crontab(minute=OMNIS_NUDGE_LOCAL_TIME.minute, day_of_week=OMNIS_NUDGE_DAYS),
    },
    "flag-overdue-refunds": {
        "task": "orders.tasks.refunds.flag_overdue_refunds",
        "schedule": crontab(minute="*/15"),
    },
    # The insights' daily rollups: the last days counted again (manage.py rebuild_insights for
    # older periods).
    "refresh-insights": {
        "task": "orders.tasks.insights.refresh_insights",
        "schedule": env.float("OMNIS_INSIGHTS_REFRESH_SECONDS", default=900.0),
    },
    "check-stock-ledger": {
        "task": "inventory.tasks.check_stock_ledger",
        "schedule": crontab(hour=3, minute=40),
    },
}


def logging_config(log_format: str) -> dict:
    """`text` for a person at a terminal, `json` (one object per line) for a log pipeline.

    Every line carries the request id ("-" outside a request); the access line of each request
    (logger omnis.requests) also carries method, path, status, duration_ms, user_id/client_id.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "common.requestlog.RequestIdFilter"}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }


LOGGING = logging_config(env("LOG_FORMAT", default="text"))
