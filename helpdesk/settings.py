"""Settings, read from the environment (the README's Production section lists them all with examples).

DATABASE_URL                 database (default: embedded SQLite under var/)
DATABASE_CONN_MAX_AGE        seconds a connection is reused, health-checked (default 60; 0 closes per request)
DJANGO_SECRET_KEY            required unless DJANGO_DEBUG is on
DJANGO_DEBUG                 "1" for development
DJANGO_ALLOWED_HOSTS         comma-separated host names
DJANGO_CSRF_TRUSTED_ORIGINS  comma-separated origins (https://helpdesk.example.com) behind a proxy
DJANGO_SECURE_PROXY_SSL_HEADER  "1": trust X-Forwarded-Proto from the proxy in front
DJANGO_SECURE_SSL_REDIRECT   "1": redirect plain HTTP to HTTPS
DJANGO_SECURE_HSTS_SECONDS   Strict-Transport-Security max-age (default 0: not sent)
DJANGO_SECURE_COOKIES        session and CSRF cookies over HTTPS only (default: on unless DJANGO_DEBUG)
DJANGO_STATIC_ROOT           where collectstatic writes (default var/static)
CACHE_BACKEND, CACHE_LOCATION, CACHE_KEY_PREFIX  the shared cache (default: the database)
EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, DEFAULT_FROM_EMAIL  outgoing mail
HELPDESK_VAR_DIR             data of this instance (default var/)
HELPDESK_SESSION_AGE         seconds a login lasts (default 28800)
HELPDESK_API_MAX_PAGE_SIZE   the most rows one API answer holds (default 1000)
HELPDESK_API_MAX_BODY_BYTES  the largest JSON body the API reads (default 1 MiB; larger ones get 413)
HELPDESK_CONFIG              a TOML file with the sources and global options (helpdesk/config.py)
HELPDESK_HISTORY_RETENTION_DAYS  days the history of changes is kept (purge_history; default 0: for ever)
HELPDESK_IMPORTS_ROOT        where files imported from the admin are kept (default var/imports)
HELPDESK_JOBS_URL            redis://… runs jobs on Redis (default: a SQLite file under var/, no server)
HELPDESK_SYNC_LEASE_SECONDS  how long a sync run's lease outlives its last sign of life (default 120)
TIME_ZONE, LOG_LEVEL         as named
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from helpdesk.config import load_helpdesk_config

BASE_DIR = Path(__file__).resolve().parent.parent  # the checkout, or site-packages when installed
_CHECKOUT = (BASE_DIR / "manage.py").exists()
# Data of this instance (the embedded SQLite, collected static files, benchmark output): var/ of the
# checkout, or of the working directory for an installed app; an empty HELPDESK_VAR_DIR means the default.
VAR_DIR = Path(os.environ.get("HELPDESK_VAR_DIR") or (BASE_DIR if _CHECKOUT else Path.cwd()) / "var")


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_flag("DJANGO_DEBUG")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for development).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
if env_flag("DJANGO_SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "0"))

INSTALLED_APPS = [
    "helpdesk.apps.HelpdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "core",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "customers",
    "backends",
    "permissions",
    "tickets",
    "staff",
    "privacy",
    "provisioning",
    "benchmarks",
    "huey.contrib.djhuey",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "helpdesk.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.ActingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "helpdesk.middleware.HelpdeskErrorMiddleware",
    "helpdesk.access.DeclaredRoutesMiddleware",  # last: it sees the resolved view
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

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
            ],
        },
    },
]

if not os.environ.get("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The shared cache. Every process of every app server must see the same one (a system check warns about a
# per-process cache outside DJANGO_DEBUG): by default a table of the app's own database, created by
# `migrate`; CACHE_BACKEND=django.core.cache.backends.redis.RedisCache with CACHE_LOCATION=redis://… for
# larger deployments. Cached answers are keyed by generations kept in the database (core.generations), so
# a write is seen by every process at once whichever cache holds them.
_cache_backend = os.environ.get("CACHE_BACKEND") or "django.core.cache.backends.db.DatabaseCache"
CACHES = {
    "default": {
        "BACKEND": _cache_backend,
        "LOCATION": os.environ.get("CACHE_LOCATION") or "helpdesk_cache",
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "helpdesk"),
        **(
            {"OPTIONS": {"MAX_ENTRIES": 50_000, "CULL_FREQUENCY": 4}}
            if _cache_backend.endswith(".db.DatabaseCache")
            else {}
        ),
    }
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # bcrypt in 60 characters, for external password columns too short for the hashers above.
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    # The reference's formats (R88): verified once, then replaced by the first hasher above.
    *(
        f"backends.hashers.Reference{name}Hasher"
        for name in ("SHA1", "SHA256", "SHA512", "DESCrypt", "MD5Crypt", "Apr1", "SHACrypt", "Bcrypt")
    ),
]
# Staff logins (admin form, HTTP Basic, token) lock after this many failures per account and per client
# address, for this many minutes (staff/authentication.py); 0 for either: never locked.
AUTHENTICATION_BACKENDS = ["staff.authentication.LockingModelBackend"]
STAFF_LOGIN_MAX_FAILED = int(os.environ.get("HELPDESK_STAFF_LOGIN_MAX_FAILED", "5"))
STAFF_LOGIN_LOCK_MINUTES = int(os.environ.get("HELPDESK_STAFF_LOGIN_LOCK_MINUTES", "15"))
# Failures from one client address over all accounts (wrong passwords and tokens) before the address is
# locked: much higher than an account's, since behind a NAT many people share one; a valid token is never
# refused for it.
STAFF_ADDRESS_MAX_FAILED = int(os.environ.get("HELPDESK_STAFF_ADDRESS_MAX_FAILED", "50"))
# How many proxies of our own stand before the app (core/clients.py): X-Forwarded-For is believed only
# behind them; 0 (the default): the connection's address is the client's.
TRUSTED_PROXIES = int(os.environ.get("HELPDESK_TRUSTED_PROXIES", "0"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Outgoing mail through SMTP; without EMAIL_HOST, mails are written to var/mail/ for a newcomer to read.
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_flag("EMAIL_USE_TLS")
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "helpdesk@localhost")
PASSWORD_RESET_TIMEOUT = int(os.environ.get("HELPDESK_PASSWORD_RESET_SECONDS", "3600"))  # a reset link's life

# The languages with a catalogue (helpdesk/locale): a customer's UserLanguage preference (R65) picks one
# in the panel, otherwise the browser's Accept-Language does, as it does for staff.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "helpdesk" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files: `manage.py collectstatic` copies them to STATIC_ROOT, hashed and compressed, and WhiteNoise
# serves them from every worker (no web server configuration needed; a CDN may sit in front).
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or VAR_DIR / "static")
if DEBUG:  # runserver serves the apps' files directly; WhiteNoise only needs the (empty) directory
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Files customers attach to tickets (tickets/attachments.py): kept here by the default storage and handed out
# only by the panel, to those who may read the ticket — never served from MEDIA_URL.
MEDIA_ROOT = os.environ.get("HELPDESK_MEDIA_ROOT") or str(VAR_DIR / "media")
# Files queued for import from the admin, and their reports of refused rows; workers on other machines need
# it shared (customers.import_runs).
IMPORTS_ROOT = Path(os.environ.get("HELPDESK_IMPORTS_ROOT") or VAR_DIR / "imports")
ATTACHMENT_MAX_BYTES = int(os.environ.get("HELPDESK_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Customer-user sources (`CustomerUser`, `CustomerUser1` … `CustomerUser10`) with the reference's key
# names, and the global options of the permission service. Both can come from the TOML file named by
# HELPDESK_CONFIG; without it, one source over our own table with the reference's shipped Map.
# How long the history of changes is kept (core.history): `manage.py purge_history` removes older entries
# (run it daily, e.g. from cron); 0 keeps everything.
HISTORY_RETENTION_DAYS = int(os.environ.get("HELPDESK_HISTORY_RETENTION_DAYS", "0"))
CUSTOMER_USER_MODEL = "customers.CustomerUser"  # the `DB` source's own table (as AUTH_USER_MODEL names users)
_helpdesk_config = load_helpdesk_config(os.environ.get("HELPDESK_CONFIG"))
CUSTOMER_USER_BACKENDS = _helpdesk_config.customer_user_backends
HELPDESK_SETTINGS = _helpdesk_config.settings
HELPDESK_SETTINGS_PROBLEMS = _helpdesk_config.problems  # system checks helpdesk.E001
IDENTITY_PROVIDERS = _helpdesk_config.identity_providers  # [[IdentityProvider]]: customer single sign-on

# Jobs (the directory sync's scheduled runs) on huey: embedded in a SQLite file under var/ (no server; what
# `make run` uses), or on the shared Redis with HELPDESK_JOBS_URL=redis://… (production: `manage.py
# run_huey` beside the app servers, on as many machines as wanted). Why huey: README, "Jobs".
_jobs_url = os.environ.get("HELPDESK_JOBS_URL", "")
_embedded_jobs = not _jobs_url.startswith(("redis://", "rediss://", "unix://"))
if _embedded_jobs:
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the queue's file is opened when the app loads
HUEY = {
    "name": "helpdesk",
    "immediate": os.environ.get("HELPDESK_JOBS_IMMEDIATE") == "1",  # run in the caller (tests, one-off use)
    "consumer": {"workers": int(os.environ.get("HELPDESK_JOBS_WORKERS", "2")), "worker_type": "thread"},
    **(
        {"huey_class": "huey.SqliteHuey", "filename": str(VAR_DIR / "jobs.sqlite3")}
        if _embedded_jobs
        else {"huey_class": "huey.RedisHuey", "url": _jobs_url}
    ),
}
# The directory sync: a run holds its source's lease this long past its last sign of life (customers.sync).
HELPDESK_SYNC_LEASE_SECONDS = int(os.environ.get("HELPDESK_SYNC_LEASE_SECONDS", "120"))
HELPDESK_SYNC_BATCH = int(os.environ.get("HELPDESK_SYNC_BATCH", "1000"))  # rows per transaction of a run


# The REST API (helpdesk/api/): staff users by session (CSRF-checked), HTTP Basic or token.
API_MAX_PAGE_SIZE = int(os.environ.get("HELPDESK_API_MAX_PAGE_SIZE", "1000"))
API_MAX_BODY_BYTES = int(os.environ.get("HELPDESK_API_MAX_BODY_BYTES", str(1024 * 1024)))
API_MAX_JSON_DEPTH = 32
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "staff.authentication.BasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "staff.authentication.TokenAuthentication",
    ],
    # Request rates per client address (anonymous) and per staff user, counted atomically in the database
    # for every process (core.rates); HELPDESK_API_USER_RATE= (empty) turns the per-user limit off.
    "DEFAULT_THROTTLE_CLASSES": [
        "helpdesk.api.throttles.AddressRate",
        "helpdesk.api.throttles.StaffUserRate",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("HELPDESK_API_ANON_RATE", "60/minute") or None,
        "user": os.environ.get("HELPDESK_API_USER_RATE", "20000/minute") or None,
    },
    "DEFAULT_PERMISSION_CLASSES": ["helpdesk.access.StaffPermission"],
    "DEFAULT_PAGINATION_CLASS": "helpdesk.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "helpdesk.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["helpdesk.api.parsers.BoundedJSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk customer-user API",
    "DESCRIPTION": "Customers, customer users of every source, groups, services and permissions.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["helpdesk.access.StaffPermission"],  # the schema and docs are for staff
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The panel's rates per client address (core.rates), counted before any password is hashed or mail sent:
# logins and second-factor codes (password spraying, and the hashing it costs), sign-ups and lost-password
# requests (each one sends a mail). Empty: no limit.
PANEL_RATES = {
    "login": os.environ.get("HELPDESK_PANEL_LOGIN_RATE", "30/minute"),
    "mail": os.environ.get("HELPDESK_PANEL_MAIL_RATE", "20/hour"),
}

# Sessions (admins and the customer panel) live in the database, so they survive a restart; they expire
# after HELPDESK_SESSION_AGE seconds (default 8 hours) and get a new key at every login.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = int(os.environ.get("HELPDESK_SESSION_AGE", str(8 * 3600)))
# Cookies only over HTTPS in production; DJANGO_SECURE_COOKIES=0 for a deployment without TLS in front.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_flag("DJANGO_SECURE_COOKIES", default=not DEBUG)
