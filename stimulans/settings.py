"""Settings, read from the environment.

With nothing set, stimulans runs embedded: a SQLite file under var/ and
Celery tasks executed eagerly in-process, so a new user needs no server.
`DATABASE_URL=postgres://…` switches to PostgreSQL and
`CELERY_BROKER_URL=redis://…` to a real broker and worker. A malformed value
stops start-up with a message naming the variable.

In production (`DEBUG` off) everything comes from the environment, documented in
`deploy/production.env`: the secret key must be given, and `STIMULANS_HTTPS=1` turns on
HTTPS-only cookies, the redirect to HTTPS and HSTS.
"""

import os
import secrets
from datetime import date, timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DATA_DIR = Path(env_str("STIMULANS_DATA_DIR", str(BASE_DIR / "var")))
DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    key_file = env_str("SECRET_KEY_FILE")
    if key and key_file:
        raise ImproperlyConfigured("Set SECRET_KEY or SECRET_KEY_FILE, not both")
    if key_file:
        # A container secret (e.g. /run/secrets/…): the whole file, less its trailing newline.
        try:
            key = Path(key_file).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"SECRET_KEY_FILE={key_file!r} cannot be read: {exc.strerror}"
            ) from None
        if not key:
            raise ImproperlyConfigured(f"SECRET_KEY_FILE={key_file!r} is empty")
    if key:
        return key
    if not DEBUG:
        # Every server of one installation must sign with the same key, or sessions and
        # password-reset links made by one are refused by the next: never guess one.
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off; make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` "
            "(on a development machine, set DEBUG=1 instead)"
        )
    # Development installs keep a generated key beside their database.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries must start with https:// (or http://), got {_origin!r}"
        )

# HTTPS: one switch for what a site served only over HTTPS must do. Behind a proxy that ends
# TLS, the proxy says which scheme the browser used in X-Forwarded-Proto (and must overwrite
# whatever a client sent in it).
STIMULANS_HTTPS = env_bool("STIMULANS_HTTPS", False)
STIMULANS_BEHIND_PROXY = env_bool("STIMULANS_BEHIND_PROXY", False)
SECURE_SSL_REDIRECT = STIMULANS_HTTPS
SESSION_COOKIE_SECURE = STIMULANS_HTTPS
CSRF_COOKIE_SECURE = STIMULANS_HTTPS
if STIMULANS_HTTPS:
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if SECURE_HSTS_SECONDS < 0:
        raise ImproperlyConfigured(f"SECURE_HSTS_SECONDS={SECURE_HSTS_SECONDS} is negative")
else:
    _hsts = [
        n
        for n in ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
        if os.environ.get(n)
    ]
    if _hsts:
        raise ImproperlyConfigured(f"{', '.join(_hsts)} apply only with STIMULANS_HTTPS=1")
    SECURE_HSTS_SECONDS = 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if STIMULANS_BEHIND_PROXY else None
# The load balancer asks /healthz over plain HTTP on the server's own address.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

INSTALLED_APPS = [
    "stimulans.apps.AdminConfig",  # Django's admin, for administrators only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "allocations",
    "applications",
    "reporting",
    "stimulans.accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from STATIC_ROOT, before sessions and the rest are touched.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /healthz answers here: before the host check (CommonMiddleware), so a load balancer may
    # ask by the server's address, and without sessions, language or login.
    "stimulans.health.HealthCheckMiddleware",
    "stimulans.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused for too many failures into our own page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "stimulans.urls"
WSGI_APPLICATION = "stimulans.wsgi.application"

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


def _database() -> dict:
    url = env_str("DATABASE_URL")
    if not url:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "stimulans.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    if not url.startswith(("postgres://", "postgresql://", "sqlite://")):
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// (or sqlite://), got {url.split(':')[0]!r}"
        )
    try:
        config = dj_database_url.parse(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if config["ENGINE"].endswith("postgresql"):
        if not config.get("NAME"):
            raise ImproperlyConfigured("DATABASE_URL names no database")
        # Each process keeps its connection for a minute instead of opening one per request,
        # and checks it before reuse, so a restarted PostgreSQL costs no restart of ours.
        config["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
        # A database that does not answer fails the request within seconds instead of hanging.
        config.setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
        )
    else:
        config["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0)
    if config["CONN_MAX_AGE"] < 0:
        raise ImproperlyConfigured("DATABASE_CONN_MAX_AGE must not be negative")
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Swedish first, English available.
LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", _("Swedish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "media/"
# Stored files (job outputs) are served only through views that check access: never from
# a directory the static files are collected from or served out of.
for _static_dir in (STATIC_ROOT, *STATICFILES_DIRS):
    _media, _static = MEDIA_ROOT.resolve(), Path(_static_dir).resolve()
    if _media.is_relative_to(_static) or _static.is_relative_to(_media):
        raise ImproperlyConfigured(
            f"MEDIA_ROOT={MEDIA_ROOT} and the static files ({_static}) must not contain each other"
        )

# Uploads (unit registers, datasets): a file above this many bytes is refused as it arrives
# and never stored (stimulans.uploads). Django's own limits, stated: form fields at most
# 2.5 MB in memory, and an upload above 2.5 MB is spooled to a temporary file, not memory.
STIMULANS_UPLOAD_MAX_BYTES = env_int("STIMULANS_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
if STIMULANS_UPLOAD_MAX_BYTES < 1:
    raise ImproperlyConfigured(
        f"STIMULANS_UPLOAD_MAX_BYTES={STIMULANS_UPLOAD_MAX_BYTES} must be at least 1 (byte)"
    )
FILE_UPLOAD_HANDLERS = [
    "stimulans.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Without DEBUG, static files get content-hashed names (cached for ever by browsers) and
# compressed copies, served by WhiteNoise from STATIC_ROOT, which `collectstatic` fills: a
# deployment runs it, and so does the test suite (tests/conftest.py), so a template naming a
# missing file fails there as it would in production. `make run` (DEBUG=1) serves the files
# where they lie and needs no collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "stimulans.storage.StaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "stimulans@localhost")
# Used by the SMTP backend (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be set")
# A mail server that does not answer fails the try (and it is retried) instead of hanging.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)

# Cache: in-process unless CACHE_URL names a Redis shared by every server process. Only a
# shared cache may hold sessions (a session ended in one process must end in all of them), so
# sessions are read from it only then, written through to the database as always.
# With Redis down the cache misses instead of failing (stimulans/cache.py), so sessions come
# from the database and pages answer; a Redis that does not answer is given up on quickly.
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(
        f"CACHE_URL must start with redis:// or rediss://, got {CACHE_URL.split(':')[0]!r}"
    )
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "stimulans.cache.ForgivingRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "stimulans",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Celery: eager in-process unless a broker is configured.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if CELERY_BROKER_URL and not CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL must start with redis://, got {CELERY_BROKER_URL.split(':')[0]!r}"
    )
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Embedded: tasks run in-process and nothing is sent anywhere.
    CELERY_BROKER_URL = "memory://localhost/"
    CELERY_RESULT_BACKEND = None
else:
    CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_TASK_ACKS_LATE = True
# A task whose worker process was killed goes back to the queue for another process, instead
# of being acknowledged as done: jobs claim their record, so a task that comes back twice
# does its work once (allocations/jobs.py).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task a whole worker took and never acknowledged (the worker was killed) is handed to
# another worker after this many seconds: longer than a task may run, so that a slow task
# still running is not handed out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 5 * 60)
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Usage report reminders go out this many days before the agreement's report-by date.
STIMULANS_REPORT_REMINDER_DAYS = env_int("STIMULANS_REPORT_REMINDER_DAYS", 14)
# E-mail notices: how often the worker tries again (waiting this many seconds, doubling up to
# ten minutes between tries), and after how many minutes untouched a queued notice is
# queued again by the sweep (more than the longest wait between tries).
STIMULANS_NOTICE_RETRIES = env_int("STIMULANS_NOTICE_RETRIES", 5)
STIMULANS_NOTICE_RETRY_BACKOFF = env_int("STIMULANS_NOTICE_RETRY_BACKOFF", 60)
STIMULANS_NOTICE_STALE_MINUTES = env_int("STIMULANS_NOTICE_STALE_MINUTES", 15)
# Finished jobs' files (exports, documents) are deleted this many days after they are made.
# An invitation link holds this many days (a password reset's link, one day).
STIMULANS_INVITATION_DAYS = env_int("STIMULANS_INVITATION_DAYS", 14)
if STIMULANS_INVITATION_DAYS < 1:
    raise ImproperlyConfigured(
        f"STIMULANS_INVITATION_DAYS={STIMULANS_INVITATION_DAYS} must be at least 1 (day)"
    )
STIMULANS_JOB_FILE_DAYS = env_int("STIMULANS_JOB_FILE_DAYS", 7)
if STIMULANS_JOB_FILE_DAYS < 1:
    raise ImproperlyConfigured(
        f"STIMULANS_JOB_FILE_DAYS={STIMULANS_JOB_FILE_DAYS} must be at least 1 (day)"
    )
# The books' check (`applications.books`) runs for every grant this often (beat), and the
# dashboard shows its result; a page finding it older than twice this checks again itself.
STIMULANS_BOOKS_CHECK_MINUTES = env_int("STIMULANS_BOOKS_CHECK_MINUTES", 15)
if STIMULANS_BOOKS_CHECK_MINUTES < 1:
    raise ImproperlyConfigured(
        f"STIMULANS_BOOKS_CHECK_MINUTES={STIMULANS_BOOKS_CHECK_MINUTES} must be at least 1 (minute)"
    )
CELERY_BEAT_SCHEDULE = {
    "check-books": {
        "task": "reporting.check_books",
        "schedule": STIMULANS_BOOKS_CHECK_MINUTES * 60,
    },
    "report-reminders": {"task": "applications.send_report_reminders", "schedule": 6 * 60 * 60},
    "notice-sweep": {"task": "applications.requeue_stale_notices", "schedule": 5 * 60},
    "expire-job-files": {"task": "allocations.expire_job_files", "schedule": 60 * 60},
}
# How long `allocate` and other callers wait for a worker's answer.
STIMULANS_TASK_WAIT_SECONDS = env_int("STIMULANS_TASK_WAIT_SECONDS", 15 * 60)
# Where users reach stimulans: e-mails link to its pages with this in front.
STIMULANS_BASE_URL = env_str("STIMULANS_BASE_URL", "http://localhost:8000").rstrip("/")
if not STIMULANS_BASE_URL.startswith(("http://", "https://")):  # also "https://" with no host
    raise ImproperlyConfigured(
        f"STIMULANS_BASE_URL must start with http:// or https://, got {STIMULANS_BASE_URL!r}"
    )
if STIMULANS_HTTPS and not STIMULANS_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured(
        f"STIMULANS_BASE_URL must start with https:// when STIMULANS_HTTPS is on, "
        f"got {STIMULANS_BASE_URL!r}"
    )
# The accessibility statement (tillgänglighetsredogörelse, /tillganglighetsredogorelse/), after
# DIGG's model: who answers for the service, where to report a problem, how far the service
# complies, what is known not to work (entries separated by "|", Swedish, with an optional
# English list), and the date of the assessment it rests on.
STIMULANS_ACCESSIBILITY_ORGANISATION = env_str(
    "STIMULANS_ACCESSIBILITY_ORGANISATION", "Stockholms stad, äldreförvaltningen"
)
STIMULANS_ACCESSIBILITY_EMAIL = env_str("STIMULANS_ACCESSIBILITY_EMAIL", DEFAULT_FROM_EMAIL)
STIMULANS_ACCESSIBILITY_PHONE = env_str("STIMULANS_ACCESSIBILITY_PHONE")
STIMULANS_ACCESSIBILITY_COMPLIANCE = env_str("STIMULANS_ACCESSIBILITY_COMPLIANCE", "partial")
if STIMULANS_ACCESSIBILITY_COMPLIANCE not in {"full", "partial", "none"}:
    raise ImproperlyConfigured(
        "STIMULANS_ACCESSIBILITY_COMPLIANCE must be full, partial or none, "
        f"got {STIMULANS_ACCESSIBILITY_COMPLIANCE!r}"
    )


def env_entries(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [item.strip() for item in raw.split("|") if item.strip()]


# None: the shortcomings the project itself knows of (stimulans/accessibility.py), translated.
STIMULANS_ACCESSIBILITY_ISSUES = env_entries("STIMULANS_ACCESSIBILITY_ISSUES")
STIMULANS_ACCESSIBILITY_ISSUES_EN = env_entries("STIMULANS_ACCESSIBILITY_ISSUES_EN")
_assessed = env_str("STIMULANS_ACCESSIBILITY_ASSESSED_ON", "2026-11-30")
try:
    STIMULANS_ACCESSIBILITY_ASSESSED_ON = date.fromisoformat(_assessed)
except ValueError:
    raise ImproperlyConfigured(
        f"STIMULANS_ACCESSIBILITY_ASSESSED_ON={_assessed!r} is not a date (YYYY-MM-DD)"
    ) from None
# How long /healthz waits for the broker and the cache (seconds) before it calls them down.
STIMULANS_HEALTHZ_TIMEOUT = env_int("STIMULANS_HEALTHZ_TIMEOUT", 2)
if STIMULANS_HEALTHZ_TIMEOUT < 1:
    raise ImproperlyConfigured(
        f"STIMULANS_HEALTHZ_TIMEOUT={STIMULANS_HEALTHZ_TIMEOUT} must be at least 1 (second)"
    )
# Identifiers of the 360Giving export: a registered `360G-` prefix.
STIMULANS_360GIVING_PREFIX = env_str("STIMULANS_360GIVING_PREFIX", "360G-stimulans")
# The fonts embedded in decision documents (DejaVu Sans, vendored in reporting/fonts).
STIMULANS_DOCUMENT_FONT_DIR = Path(
    env_str("STIMULANS_DOCUMENT_FONT_DIR", str(BASE_DIR / "reporting" / "fonts"))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# ---------------------------------------------------------------- security (ASVS level 2)
# Every response: no inline script or style anywhere, nothing framed, nothing sniffed.
# `SECURE_CSP` has the shape of Django 6.0's setting of that name (read by our middleware).
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],  # Bootstrap's icons are data: URLs
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No script reads either cookie.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Password-reset (and invitation) links hold for a day at most.
PASSWORD_RESET_TIMEOUT = 24 * 60 * 60

# Sign-in throttling (django-axes): after STIMULANS_LOGIN_FAILURE_LIMIT failed sign-ins of
# one user name from one address, that pair is refused for STIMULANS_LOGIN_LOCK_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked pair before any password
    # Django's ModelBackend, asking for own and group permissions in one query.
    "stimulans.accounts.backends.OneQueryModelBackend",
]
AXES_FAILURE_LIMIT = env_int("STIMULANS_LOGIN_FAILURE_LIMIT", 5)
_LOCK_MINUTES = env_int("STIMULANS_LOGIN_LOCK_MINUTES", 15)
if AXES_FAILURE_LIMIT < 1 or _LOCK_MINUTES < 1:
    raise ImproperlyConfigured(
        "STIMULANS_LOGIN_FAILURE_LIMIT and STIMULANS_LOGIN_LOCK_MINUTES must be at least 1"
    )
AXES_COOLOFF_TIME = timedelta(minutes=_LOCK_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "stimulans.accounts.lockout.locked_out_response"
# The address locked is the connection's, or, behind STIMULANS_PROXY_COUNT reverse proxies
# that each append to X-Forwarded-For, the one the outermost proxy saw.
AXES_CLIENT_IP_CALLABLE = "stimulans.accounts.lockout.client_address"
STIMULANS_PROXY_COUNT = env_int("STIMULANS_PROXY_COUNT", 0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
