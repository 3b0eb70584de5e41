"""Labelkeep settings: every value comes from the environment (docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from labelkeep.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("LABELKEEP_DATA_DIR", "labelkeep-data")).resolve()


def _secret_key() -> str:
    key = env_secret("SECRET_KEY")
    if not key:
        key_file = DATA_DIR / "secret_key"
        if key_file.is_file():
            key = key_file.read_text(encoding="utf-8").strip()
    if len(key) < 50:
        raise ImproperlyConfigured(
            "No SECRET_KEY: run `labelkeep start` (which generates one in the data directory) "
            "or set SECRET_KEY / SECRET_KEY_FILE to at least 50 random characters."
        )
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "labelkeep.audit",
    "labelkeep.accounts",
    "labelkeep.jobs",
    "labelkeep.projects",
    "labelkeep.tasks",
    "labelkeep.dataio",
    "labelkeep.web",
]

MIDDLEWARE = [
    "labelkeep.security.proxy.TrustedProxyMiddleware",
    "labelkeep.security.headers.KeepMethodOnHttpsRedirectMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "labelkeep.security.headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "labelkeep.api.chunked.ChunkedBodyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "labelkeep.urls"
WSGI_APPLICATION = "labelkeep.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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


def _database() -> dict[str, object]:
    url = env_str("DATABASE_URL")
    if not url:
        return {
            "ENGINE": "labelkeep.db.sqlite",
            "NAME": str(DATA_DIR / "labelkeep.sqlite3"),
            # Reuse connections across requests: opening one re-runs the PRAGMAs below.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # WAL lets readers run beside the single writer; IMMEDIATE takes the write
                # lock up front so concurrent writers wait (busy timeout) instead of failing.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20, minimum=1),
            },
        }
    config: dict[str, object] = dict(_parsed_database_url(url))
    if config.get("ENGINE") == "django.db.backends.postgresql":
        config["ENGINE"] = "labelkeep.db.postgresql"  # labelkeep/db/postgresql/base.py
    options = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
        value = env_str(f"DATABASE_{key.upper()}")
        if value:
            options[key] = value
    _check_sslmode(options.get("sslmode"))
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Parameters bound on the server, and statements run often prepared once per
        # connection: PostgreSQL skips parsing and planning, psycopg skips quoting.
        options.setdefault("server_side_binding", True)
        options.setdefault("prepare_threshold", 5)
    config["OPTIONS"] = options
    config["CONN_HEALTH_CHECKS"] = True
    return config


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _parsed_database_url(url: str) -> dict[str, object]:
    """DATABASE_URL parsed; refused at boot, naming the scheme but never the URL (which may
    hold a password), when it is not a database URL."""
    try:
        return dict(dj_database_url.parse(url, conn_max_age=60))
    except dj_database_url.UnknownSchemeError as exc:
        if not exc.scheme.strip(":/"):
            raise ImproperlyConfigured(
                "DATABASE_URL is not a database URL: give one such as "
                "postgres://user@host:5432/name, or unset it for SQLite in the data directory"
            ) from None
        raise ImproperlyConfigured(
            f"DATABASE_URL has an unknown scheme {exc.scheme!r}: give a URL such as "
            "postgres://user@host:5432/name, or unset it for SQLite in the data directory"
        ) from None
    except ValueError:
        raise ImproperlyConfigured(
            "DATABASE_URL is not a valid database URL (postgres://user@host:5432/name; "
            "quote special characters of the password)"
        ) from None


def _check_sslmode(mode: object) -> None:
    """A misspelt sslmode would otherwise surface as a connection error deep in psycopg."""
    if mode is not None and mode not in SSL_MODES:
        raise ImproperlyConfigured(
            f"DATABASE_SSLMODE (or sslmode in DATABASE_URL) must be one of "
            f"{', '.join(SSL_MODES)}, not {mode!r}"
        )


DATABASES = {"default": _database()}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# Static files are served from the installed package (no collectstatic step needed).
STATIC_ROOT = env_str("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

LOGIN_URL = "/user/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/user/login/"

# --- Transport and browser security (DESIGN.md promise 1) ---
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=300)
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "labelkeep.web.errors.csrf_failure"
# HSTS on subdomains and preload lists are a choice about the whole domain, which a
# self-hosted install on someone's host name cannot make for them; both are opt-in.
SILENCED_SYSTEM_CHECKS = [
    check
    for check, enabled in (
        ("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
        ("security.W021", SECURE_HSTS_PRELOAD),
    )
    if not enabled
]

# Behind a TLS-terminating proxy: only requests from these addresses may set
# X-Forwarded-For / X-Forwarded-Proto (labelkeep.security.proxy).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024, minimum=1024)
# Files in one multipart request (Django's default); more get 400 (labelkeep.api.parsers).
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", 100, minimum=1)

# --- Server process (labelkeep.wsgi.Turns) ---
# The threads of a web worker take turns running views: a request waits at most this long
# for its turn (0: no turns). Bodies up to REQUEST_TURN_BODY_LIMIT bytes are read first;
# larger uploads run without a turn.
REQUEST_TURN_WAIT_MS = env_int("REQUEST_TURN_WAIT_MS", 100, minimum=0)
REQUEST_TURN_BODY_LIMIT = env_int("REQUEST_TURN_BODY_LIMIT", 256 * 1024, minimum=0)
# A web worker holding more connections than a sibling leaves a new one to it for at most
# this long (labelkeep.server.BalancedThreadWorker); 0 accepts at once, as gunicorn does.
ACCEPT_DEFER_MS = env_int("ACCEPT_DEFER_MS", 50, minimum=0)

# --- Outbound requests (DESIGN.md promises 6 and 10; labelkeep.security.http, .trust) ---
# Every server-side fetch of a user-supplied URL refuses loopback, private, link-local and
# other non-public addresses unless they are listed here (hosts, addresses or CIDRs).
SSRF_PROTECTION_ENABLED = env_bool("SSRF_PROTECTION_ENABLED", True)
SSRF_ALLOWLIST = env_list("SSRF_ALLOWLIST")
# PEM files added to the trust store of every outbound TLS client.
CUSTOM_CA_CERTS = env_list("CUSTOM_CA_CERTS")

# --- Accounts, tokens, throttling ---
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_THROTTLE_WINDOW = env_int("LOGIN_THROTTLE_WINDOW", 900, minimum=1)
JWT_ACCESS_TOKEN_TTL = env_int("JWT_ACCESS_TOKEN_TTL", 300, minimum=10)
PERSONAL_ACCESS_TOKENS_PER_USER = env_int("PERSONAL_ACCESS_TOKENS_PER_USER", 10, minimum=1)
TOKEN_LAST_USED_PRECISION = 60  # seconds; avoids a write on every authenticated request

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labelkeep.accounts.auth.LegacyTokenAuthentication",
        "labelkeep.accounts.auth.AccessTokenAuthentication",
        "labelkeep.accounts.auth.ApiKeyHeaderAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["labelkeep.api.parsers.LimitedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "labelkeep.api.autoschema.AutoSchema",
    "EXCEPTION_HANDLER": "labelkeep.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Labelkeep API",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["labelkeep.accounts.permissions.IsActiveMember"],
    # Schema completeness is tested (tests/web/test_schema.py) instead of being a deploy check.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    # Operation ids are derived from paths below this prefix (pinned by tests).
    "SCHEMA_PATH_PREFIX": "/api",
    "PREPROCESSING_HOOKS": ["labelkeep.api.schema.drop_slash_twins"],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "labelkeep.accounts.schema.ROLE_CHOICES",
        "PermissionEnum": "labelkeep.accounts.schema.PERMISSION_CHOICES",
        "JobStatusEnum": "labelkeep.jobs.models.JobStatus",
        "RunStatusEnum": "labelkeep.dataio.models.RunStatus",
        "FilterModeEnum": "labelkeep.dataio.exporting.serializers._MODES",
    },
}

# --- Labeling ---
TASK_LOCK_TTL = env_int("TASK_LOCK_TTL", 600, minimum=10)

# --- Data import and export (docs/export.md) ---
# Files users uploaded into projects; task data refers to them as /data/upload/<path>.
UPLOADS_ROOT = DATA_DIR / "uploads"
# Export snapshots and their converted files (never served except through the export API).
EXPORTS_ROOT = DATA_DIR / "exports"
# Tasks read per database round trip while exporting; memory grows with this, not the project.
EXPORT_CHUNK_SIZE = env_int("EXPORT_CHUNK_SIZE", 1000, minimum=10)
# Seconds `POST api/projects/{id}/exports/` waits for the job writing the snapshot, so that
# a script that creates one and downloads it at once finds it completed (0: never wait).
EXPORT_SNAPSHOT_WAIT = env_int("EXPORT_SNAPSHOT_WAIT", 10, minimum=0)
# Imports (docs/import.md): uploaded files of one request together, and a URL's download.
IMPORT_MAX_FILE_SIZE = env_int("IMPORT_MAX_FILE_SIZE", 100 * 1024 * 1024, minimum=1024)
IMPORT_MAX_TASKS = env_int("IMPORT_MAX_TASKS", 250_000, minimum=1)
# Larger imports (and every import from a URL) run as a job instead of in the request.
IMPORT_SYNC_MAX_TASKS = env_int("IMPORT_SYNC_MAX_TASKS", 50_000, minimum=0)
IMPORT_URL_TIMEOUT = env_int("IMPORT_URL_TIMEOUT", 60, minimum=1)

# --- Jobs (DESIGN.md: one job interface; no silent inline fallback) ---
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
JOB_WORKER_INTERVAL = 1.0
# A running job's worker marks it alive this often (seconds); workers fail (and clean up
# after) running jobs whose mark is older than JOB_STALE_AFTER: their worker died.
JOB_HEARTBEAT_INTERVAL = env_int("JOB_HEARTBEAT_INTERVAL", 30, minimum=1)
JOB_STALE_AFTER = env_int("JOB_STALE_AFTER", 300, minimum=10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
