"""Settings for webcare, read from the environment (12-factor).

With no environment at all, webcare runs embedded: SQLite under var/, Celery tasks run
in-process (eager), mail printed to the console. Production sets DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS and DEBUG=false.
"""

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {value!r}")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be an integer, got {value!r}"
        ) from None


def envfloat(name: str, default: str) -> float:
    value = os.environ.get(name, default)
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


DEBUG = envbool("DEBUG", "true")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    # Only for the embedded development default; production refuses to start without one.
    SECRET_KEY = "django-insecure-embedded-development-key-not-for-production-use"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# Absolute base for links in mail (survey links), e.g. https://webcare.example.com
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "webcare.admin_site.AdminConfig",  # django.contrib.admin, hardened changelists
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files
    "csp",
    "axes",  # failed admin logins: lockout per username and address
    "webcare.api",
    "webcare.notices",
    "sources",
    "cases",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A NUL or lone surrogate in a query string or form: 400 before any view.
    "webcare.middleware.UnstorableInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# AxesStandaloneBackend first: it refuses a locked-out login before the password
# is even checked, so a guesser learns nothing more once locked out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Content-Security-Policy: scripts only from our own origin (no inline script, no
# third-party host; the API docs' Swagger UI is served locally). Inline styles stay
# allowed: Django admin widgets and the survey page carry them, and a style cannot
# run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "webcare.urls"
WSGI_APPLICATION = "webcare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "webcare" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'webcare.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60"),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # WAL and a busy timeout let the embedded web process and tasks share the file.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True  # stored in UTC, shown in TIME_ZONE

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Mail: console in development, SMTP when EMAIL_HOST is set. Production (DEBUG off)
# refuses to start without a backend that delivers: the console backend would print
# every survey mail (address and personal link) into the server's log.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "20")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST or not DEBUG
    else "django.core.mail.backends.console.EmailBackend"
)
# Backends that deliver nothing: they print, store or drop the mail.
WEBCARE_UNDELIVERING_EMAIL_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)
if not DEBUG:
    if EMAIL_BACKEND in WEBCARE_UNDELIVERING_EMAIL_BACKENDS:
        raise ImproperlyConfigured(
            f"EMAIL_BACKEND {EMAIL_BACKEND} delivers no mail; with DEBUG off set "
            "EMAIL_HOST (SMTP) or a delivering EMAIL_BACKEND"
        )
    # An explicit EMAIL_HOST=localhost (a local MTA) is a choice; unset is not.
    if (
        EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
        and not EMAIL_HOST
    ):
        raise ImproperlyConfigured(
            "EMAIL_HOST is required when DEBUG is off: the SMTP server that sends "
            "survey mails and staff notices"
        )
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webcare@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where team notifications (breaches, alerts) go, and each department's mailbox.
WEBCARE_TEAM_EMAIL = os.environ.get("WEBCARE_TEAM_EMAIL", "webcare-team@localhost")
WEBCARE_DEPARTMENT_EMAILS = {
    "pr": os.environ.get("EMAIL_PR", "woordvoering@localhost"),
    "customer_service": os.environ.get(
        "EMAIL_CUSTOMER_SERVICE", "klantenservice@localhost"
    ),
    "offices": os.environ.get("EMAIL_OFFICES", "kantoren@localhost"),
    "business_banking": os.environ.get("EMAIL_BUSINESS_BANKING", "zakelijk@localhost"),
    "security": os.environ.get("EMAIL_SECURITY", "security@localhost"),
}

# Celery. With no broker URL, tasks run in-process (eager): the embedded default needs no
# server. `bin/demo` uses kombu's filesystem transport under var/ with a real worker and
# beat, so polling and survey tasks really run; production uses Redis.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = envbool(
    "CELERY_TASK_ALWAYS_EAGER", "false" if CELERY_BROKER_URL else "true"
)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery"
    for _folder in ("queue", "processed", "control"):
        (_queue_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A task killed mid-run is redelivered; tasks are idempotent, so that is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "300")
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "240")
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "poll-due-sources": {"task": "sources.tasks.poll_due_sources", "schedule": 60.0},
    "check-source-health": {
        "task": "sources.tasks.check_source_health",
        "schedule": 15 * 60.0,
    },
    "check-case-deadlines": {
        "task": "cases.tasks.check_case_deadlines",
        "schedule": 120.0,
    },
    "send-commitment-reminders": {
        "task": "cases.tasks.send_commitment_reminders",
        "schedule": 120.0,
    },
    "retry-webhook-deliveries": {
        "task": "cases.webhooks.retry_webhook_deliveries",
        "schedule": 60.0,
    },
    "publish-due-replies": {
        "task": "cases.tasks.publish_due_replies",
        "schedule": 30.0,
    },
    "send-due-notices": {
        "task": "webcare.notices.tasks.send_due_notices",
        "schedule": 60.0,
    },
    "triage-pending": {
        "task": "sources.triage.tasks.triage_pending",
        "schedule": 120.0,
    },
    "process-surveys": {"task": "reporting.tasks.process_surveys", "schedule": 300.0},
    "purge-raw-payloads": {
        "task": "sources.tasks.purge_raw_payloads",
        "schedule": crontab(hour=3, minute=30),
    },
    "purge-api-records": {
        "task": "webcare.api.tasks.purge_api_records",
        "schedule": crontab(hour=3, minute=45),
    },
    "daily-summary": {
        "task": "reporting.tasks.send_daily_summary",
        # After the team's last opening block, so the summary covers its whole day.
        "schedule": crontab(hour=23, minute=50),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webcare.api.auth.ApiClientAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "webcare.api.input.StorableJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "webcare.api.input.SafeJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Throttles key on webcare.net.client_ip; 0 keeps DRF's own get_ident on
    # REMOTE_ADDR too, should any stock throttle use it (None trusts any XFF).
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "api_client": os.environ.get("API_THROTTLE_RATE", "600/min"),
        "survey_ip": "30/min",
        "survey_token": "10/min",
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "webcare API",
    "DESCRIPTION": "Cases, mentions, escalations and surveys of the webcare team, for the CRM.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One named enum per choice set, so the schema is stable and readable.
    "ENUM_NAME_OVERRIDES": {
        "SourceKindEnum": "sources.models.SourceKind",
        "CategoryEnum": "sources.models.Category",
        "PriorityEnum": "sources.models.Priority",
        "DepartmentEnum": "sources.models.Department",
        "OutcomeEnum": "sources.models.Outcome",
        "TriageStatusEnum": "sources.models.TriageStatus",
        "CaseStatusEnum": "cases.models.CaseStatus",
        "CloseReasonEnum": "cases.models.CloseReason",
        "EscalationStatusEnum": "cases.models.EscalationStatus",
        "CommitmentStatusEnum": "cases.models.CommitmentStatus",
        "EventKindEnum": "cases.models.EventKind",
        "WebhookEventEnum": "webcare.api.models.WebhookEvent",
        "DeliveryStatusEnum": "webcare.api.models.DeliveryStatus",
        "SurveyStatusEnum": "reporting.models.SurveyStatus",
        "SurveyChannelEnum": "reporting.models.SurveyChannel",
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["CACHE_URL"],
    }
    if os.environ.get("CACHE_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Connector credentials: from the environment only, never stored in the database.
# Each kind's credentials are sent only to the origin of its base_url (empty: the
# platform's own API; Mastodon and Discourse have none, so their credentials need
# the instance's URL here), whatever a source's URL says.
WEBCARE_CONNECTOR_CREDENTIALS = {
    "x_search": {
        "bearer_token": os.environ.get("X_BEARER_TOKEN", ""),
        "base_url": os.environ.get("X_API_BASE_URL", ""),
    },
    "mastodon": {
        "access_token": os.environ.get("MASTODON_ACCESS_TOKEN", ""),
        "base_url": os.environ.get("MASTODON_API_BASE_URL", ""),
    },
    "reddit": {
        "access_token": os.environ.get("REDDIT_ACCESS_TOKEN", ""),
        "base_url": os.environ.get("REDDIT_API_BASE_URL", ""),
    },
    "youtube": {
        "api_key": os.environ.get("YOUTUBE_API_KEY", ""),
        "base_url": os.environ.get("YOUTUBE_API_BASE_URL", ""),
    },
    "facebook": {
        "access_token": os.environ.get("FACEBOOK_ACCESS_TOKEN", ""),
        "base_url": os.environ.get("FACEBOOK_API_BASE_URL", ""),
    },
    "discourse": {
        "api_key": os.environ.get("DISCOURSE_API_KEY", ""),
        "api_username": os.environ.get("DISCOURSE_API_USERNAME", ""),
        "base_url": os.environ.get("DISCOURSE_API_BASE_URL", ""),
    },
    "feed": {},
}

# Business hours of the team (see cases/business_hours.py for the format).
WEBCARE_TEAM_NAME = os.environ.get("WEBCARE_TEAM_NAME", "Webcare")

# Who works for which department (cases/access.py): every member of a role belongs
# to these departments, besides the memberships recorded in the admin. The
# escalations of a restricted department are seen only by its members, managers,
# who requested them and the case's assignee.
# WEBCARE_ROLE_DEPARTMENTS: comma-separated role=department pairs.
WEBCARE_ROLE_DEPARTMENTS: dict[str, list[str]] = {}
for _pair in envlist(
    "WEBCARE_ROLE_DEPARTMENTS", "spokesperson=pr,customer_service=customer_service"
):
    _role, _, _department = _pair.partition("=")
    if not _role.strip() or not _department.strip():
        raise ImproperlyConfigured(
            f"WEBCARE_ROLE_DEPARTMENTS takes role=department pairs, got {_pair!r}"
        )
    WEBCARE_ROLE_DEPARTMENTS.setdefault(_role.strip(), []).append(_department.strip())
WEBCARE_RESTRICTED_DEPARTMENTS = envlist("WEBCARE_RESTRICTED_DEPARTMENTS", "security")
# An agent may take over a colleague's case while that colleague is away or inactive.
WEBCARE_TAKE_OVER_FROM_AWAY = envbool("WEBCARE_TAKE_OVER_FROM_AWAY", "true")
# The privacy guard (cases/personal_data.py): public replies carry no personal data.
# The company's own published numbers and mail domains are not personal; numbers
# written without a country code are read as this region's.
WEBCARE_OWN_PHONE_NUMBERS = envlist("WEBCARE_OWN_PHONE_NUMBERS", "")
WEBCARE_OWN_EMAIL_DOMAINS = envlist("WEBCARE_OWN_EMAIL_DOMAINS", "")
WEBCARE_PHONE_REGION = os.environ.get("WEBCARE_PHONE_REGION", "NL")
# Reply templates and approved facts are suggested in the customer's language, else
# in this one.
WEBCARE_REPLY_LANGUAGE = os.environ.get("WEBCARE_REPLY_LANGUAGE", "nl")
# The team's own accounts per platform ("mastodon=webcare@bank.social|1091,
# discourse=webcare_bank"): their posts are recognised when polled, never stored as
# a customer's mention, and settle a reply whose publishing was unconfirmed.
WEBCARE_OWN_ACCOUNTS: dict[str, list[str]] = {}
for _pair in envlist("WEBCARE_OWN_ACCOUNTS", ""):
    _kind, _, _names = _pair.partition("=")
    if not _names:
        raise ImproperlyConfigured(
            f"WEBCARE_OWN_ACCOUNTS takes kind=account pairs, got {_pair!r}"
        )
    WEBCARE_OWN_ACCOUNTS.setdefault(_kind.strip(), []).extend(
        name.strip() for name in _names.split("|") if name.strip()
    )
# An agent counts as answering a case this long after her composer's last keystroke.
WEBCARE_ANSWERING_TIMEOUT = timedelta(
    seconds=envfloat("WEBCARE_ANSWERING_TIMEOUT_SECONDS", "120")
)

# Every handler redacts (webcare/logging.py): survey tokens in paths, credentials
# and e-mail addresses never reach a log. "django" and "django.server" are named so
# Django's own handlers (which bypass the root's) are replaced by this one.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "webcare.logging.RedactFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
# Workers keep this configuration (and its redaction) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "true")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000")
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# --- Surveys (NPS follow-up) -----------------------------------------------------
WEBCARE_SURVEY_DELAY = timedelta(hours=envint("WEBCARE_SURVEY_DELAY_HOURS", "24"))
# No second survey to the same customer within this period.
WEBCARE_SURVEY_QUARANTINE = timedelta(
    days=envint("WEBCARE_SURVEY_QUARANTINE_DAYS", "30")
)
WEBCARE_SURVEY_REMINDER_AFTER = timedelta(
    days=envint("WEBCARE_SURVEY_REMINDER_AFTER_DAYS", "3")
)
WEBCARE_SURVEY_EXPIRES_AFTER = timedelta(
    days=envint("WEBCARE_SURVEY_EXPIRES_AFTER_DAYS", "14")
)
# How long after answering a customer may still change the score (then it is final).
WEBCARE_SURVEY_CORRECTION_WINDOW = timedelta(
    minutes=envint("WEBCARE_SURVEY_CORRECTION_WINDOW_MINUTES", "30")
)
# Failed sends are retried with exponential backoff, then marked failed for staff.
WEBCARE_SURVEY_MAX_SEND_ATTEMPTS = envint("WEBCARE_SURVEY_MAX_SEND_ATTEMPTS", "5")
# A detractor's follow-up task is due this long after the answer.
WEBCARE_SURVEY_FOLLOW_UP_WITHIN = timedelta(
    hours=envint("WEBCARE_SURVEY_FOLLOW_UP_WITHIN_HOURS", "24")
)

# --- Triage (rules of engagement) ------------------------------------------------
# Below this classifier confidence nothing is engaged automatically: it goes to review.
WEBCARE_TRIAGE_MIN_CONFIDENCE = envfloat("WEBCARE_TRIAGE_MIN_CONFIDENCE", "0.6")
if not 0 <= WEBCARE_TRIAGE_MIN_CONFIDENCE <= 1:
    raise ImproperlyConfigured("WEBCARE_TRIAGE_MIN_CONFIDENCE must be within 0..1")
# Time budget of one rule pattern on one mention; a pattern that overruns it on a
# hostile test text is refused at save, and on a live mention sends it to review.
WEBCARE_RULE_PATTERN_TIMEOUT_MS = envint("WEBCARE_RULE_PATTERN_TIMEOUT_MS", "50")
if WEBCARE_RULE_PATTERN_TIMEOUT_MS < 1:
    raise ImproperlyConfigured("WEBCARE_RULE_PATTERN_TIMEOUT_MS must be at least 1")
# Autodiscovery finds only <app>.tasks; the triage tasks live in sources/triage/tasks.py.
CELERY_IMPORTS = ["sources.triage.tasks"]

# --- Monitoring: storing mentions and polling sources ----------------------------
# Mentions are stored in batches of this many items, each batch one transaction.
WEBCARE_STORE_BATCH_SIZE = envint("WEBCARE_STORE_BATCH_SIZE", "500")
# Longer texts are cut to this many characters (the cut is noted in Mention.raw).
WEBCARE_MENTION_MAX_TEXT = envint("WEBCARE_MENTION_MAX_TEXT", "20000")
# A platform record (Mention.raw) larger than this many characters is not kept.
WEBCARE_MENTION_MAX_RAW = envint("WEBCARE_MENTION_MAX_RAW", "100000")
# A mention's raw payload is emptied this many days after it was fetched (beat,
# sources.tasks.purge_raw_payloads); 0 keeps payloads forever.
WEBCARE_RAW_RETENTION_DAYS = envint("WEBCARE_RAW_RETENTION_DAYS", "180")
# A delivered webhook's payload (case subjects, survey comments) is emptied this
# many days after delivery (beat, webcare.api.tasks.purge_api_records); 0 keeps it.
WEBCARE_WEBHOOK_PAYLOAD_RETENTION_DAYS = envint(
    "WEBCARE_WEBHOOK_PAYLOAD_RETENTION_DAYS", "30"
)
# Mail the team once when a mention's reach (likes + reposts + replies) grows by
# at least GROWTH within WINDOW_MINUTES; 0 turns the alert off.
WEBCARE_REACH_ALERT_GROWTH = envint("WEBCARE_REACH_ALERT_GROWTH", "100")
WEBCARE_REACH_ALERT_WINDOW_MINUTES = envint("WEBCARE_REACH_ALERT_WINDOW_MINUTES", "60")
# A poll holds its source this long; longer than the poll task's hard time limit.
WEBCARE_POLL_LEASE_SECONDS = envint("WEBCARE_POLL_LEASE_SECONDS", "600")
# After failures the next poll waits poll_interval * 2**failures, at most this.
WEBCARE_POLL_MAX_BACKOFF_SECONDS = envint("WEBCARE_POLL_MAX_BACKOFF_SECONDS", "21600")
WEBCARE_POLL_MAX_PAGES = envint("WEBCARE_POLL_MAX_PAGES", "10")
WEBCARE_POLL_HTTP_ATTEMPTS = envint("WEBCARE_POLL_HTTP_ATTEMPTS", "3")
# Alert the team when a source failed this many polls in a row.
WEBCARE_SOURCE_FAILURE_ALERT_AFTER = envint("WEBCARE_SOURCE_FAILURE_ALERT_AFTER", "3")

# --- REST API for the CRM -------------------------------------------------------
# Webhook retries wait this long, doubling per attempt (up to an hour).
WEBCARE_WEBHOOK_BACKOFF_SECONDS = envint("WEBCARE_WEBHOOK_BACKOFF_SECONDS", "30")
# Failed token authentications per client address before that address is refused
# (429) for the rest of the period, even with a valid token: "20/min", "100/hour".
WEBCARE_API_AUTH_FAILURES = os.environ.get("WEBCARE_API_AUTH_FAILURES", "20/min")
if not re.fullmatch(
    r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", WEBCARE_API_AUTH_FAILURES
):
    raise ImproperlyConfigured(
        "WEBCARE_API_AUTH_FAILURES must be like 20/min (per s, min, hour or day)"
    )

# --- Client addresses and failed logins -------------------------------------------
# Our own reverse proxies (addresses or CIDRs). X-Forwarded-For is believed only from
# these, read from the right (webcare.net.client_ip); empty: REMOTE_ADDR is the client.
WEBCARE_TRUSTED_PROXIES = envlist("WEBCARE_TRUSTED_PROXIES")
for _proxy in WEBCARE_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"WEBCARE_TRUSTED_PROXIES: {_proxy!r} is not an address or network"
        ) from None
# django-axes on the admin login. Locked per username *and* address: by username alone
# anyone could lock the whole (small) team out; by address alone one office NAT would.
AXES_ENABLED = envbool("AXES_ENABLED", "true")
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A lockout ends when the page says it does, however often the guesser keeps trying.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "webcare.net.client_ip"
AXES_LOCKOUT_CALLABLE = "webcare.logins.lockout_response"
AXES_VERBOSE = False  # no banner at every manage.py run

# --- Requests to URLs staff and API clients choose (sources, webhooks) -----------
# Loopback, private, link-local, CGNAT and other non-public addresses are refused
# when a source or webhook is saved and at every request; true only for tests and
# closed networks. WEBCARE_WEBHOOK_ALLOW_PRIVATE_HOSTS is the old name.
WEBCARE_ALLOW_PRIVATE_HOSTS = envbool(
    "WEBCARE_ALLOW_PRIVATE_HOSTS",
    os.environ.get("WEBCARE_WEBHOOK_ALLOW_PRIVATE_HOSTS", "false"),
)
# An answer (a feed, an API page, a webhook receiver's error) larger than this once
# decompressed fails the request: a small gzip body can inflate to gigabytes.
WEBCARE_MAX_RESPONSE_BYTES = envint("WEBCARE_MAX_RESPONSE_BYTES", str(10 * 1024 * 1024))
# The whole body must arrive within this: the read timeout counts per read, so a
# body trickled a byte at a time would hold a worker until the task's time limit.
WEBCARE_MAX_RESPONSE_SECONDS = envfloat("WEBCARE_MAX_RESPONSE_SECONDS", "30")
