"""SwarmDeck settings: one module, every value read from the environment (see .env.example)."""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url

from dashboard.storage_settings import media_storage

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    return os.getenv(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = os.getenv(name)
    return default if value in (None, "") else int(value)


def envfloat(name: str, default: float) -> float:
    value = os.getenv(name)
    return default if value in (None, "") else float(value)


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


SECRET_KEY = envstr("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# Fernet keys (comma-separated, newest first) for secrets stored in the database; when empty, a key
# is derived from SECRET_KEY so that a fresh checkout works (see dashboard/crypto.py).
SECRET_ENCRYPTION_KEY = envstr("SECRET_ENCRYPTION_KEY")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "django_celery_beat",
    "axes",
    "dashboard.accounts",
    "dashboard.fleet",
    "dashboard.generations",
    "dashboard.catalogue",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a sign-in refused by the throttle into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "dashboard.accounts.context_processors.current_team",
            ],
        },
    },
]

# --- database: DATABASE_URL, else a SQLite file under var/ ----------------------------------------
DATABASE_URL = envstr("DATABASE_URL")
if not DATABASE_URL:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'var' / 'swarmdeck.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Web, Celery and tests write concurrently: wait for locks, take the write lock up front,
    # and let readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so that a Celery worker process can share the test database; one per
    # test run, so that two runs on one checkout do not share (and destroy) each other's.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"swarmdeck-test-{os.getpid()}.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "dashboard.accounts.throttle.SignInThrottleBackend",  # refuses locked-out sign-ins first
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:sign-in"
LOGIN_REDIRECT_URL = "generations:generate"
LOGOUT_REDIRECT_URL = "accounts:sign-in"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# --- static files (WhiteNoise) and media (Django storage: filesystem, or S3 when configured) ----
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Media is never served by URL: images go through views that check team membership.
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "/media/"

STORAGE_S3_BUCKET = envstr("STORAGE_S3_BUCKET")
_default_storage = media_storage(  # FileSystemStorage, or S3 when STORAGE_S3_BUCKET is set
    bucket=STORAGE_S3_BUCKET,
    endpoint_url=envstr("STORAGE_S3_ENDPOINT_URL"),
    region=envstr("STORAGE_S3_REGION"),
    access_key_id=envstr("STORAGE_S3_ACCESS_KEY_ID"),
    secret_access_key=envstr("STORAGE_S3_SECRET_ACCESS_KEY"),
    prefix=envstr("STORAGE_S3_PREFIX"),
)
_static_backend = (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
    if DEBUG
    else "whitenoise.storage.CompressedManifestStaticFilesStorage"
)
STORAGES = {"default": _default_storage, "staticfiles": {"BACKEND": _static_backend}}

# --- Celery (Redis carries wake-ups only; the database is the source of truth) -------------------
REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = envstr("CELERY_TASK_DEFAULT_QUEUE", "swarmdeck")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
RECONCILE_INTERVAL_SECONDS = envint("RECONCILE_INTERVAL_SECONDS", 60)
# Warm pools: how often the beat compares desired and actual warm workers (keep_alive jobs last
# this long plus a margin), how early before a window workers start booting, and the most warm
# workers one schedule may ask for.
WARM_POOL_INTERVAL_SECONDS = envint("WARM_POOL_INTERVAL_SECONDS", 60)
WARM_POOL_LEAD_SECONDS = envint("WARM_POOL_LEAD_SECONDS", 120)
WARM_POOL_MAX_WORKERS = envint("WARM_POOL_MAX_WORKERS", 10)
WARM_KEEP_ALIVE_MARGIN_SECONDS = envint("WARM_KEEP_ALIVE_MARGIN_SECONDS", 30)
# Endpoint health: seconds between readings of every endpoint's /health and workers (kept 30 days).
HEALTH_INTERVAL_SECONDS = envint("HEALTH_INTERVAL_SECONDS", 60)
# Seconds between scheduled syncs of every endpoint's model catalogue (over S3, else the worker).
CATALOGUE_SYNC_INTERVAL_SECONDS = envint("CATALOGUE_SYNC_INTERVAL_SECONDS", 3600)
CELERY_BEAT_SCHEDULE = {
    "sync-model-catalogues": {
        "task": "catalogue.schedule_syncs",
        "schedule": float(CATALOGUE_SYNC_INTERVAL_SECONDS),
    },
    "reconcile-generations": {
        "task": "generations.reconcile",
        "schedule": float(RECONCILE_INTERVAL_SECONDS),
    },
    "reconcile-model-actions": {
        "task": "catalogue.reconcile_model_actions",
        "schedule": float(RECONCILE_INTERVAL_SECONDS),
    },
    "apply-warm-pools": {
        "task": "fleet.apply_warm_pools",
        "schedule": float(WARM_POOL_INTERVAL_SECONDS),
    },
    "record-endpoint-health": {
        "task": "fleet.record_health_all",
        "schedule": float(HEALTH_INTERVAL_SECONDS),
    },
    "prune-endpoint-health": {"task": "fleet.prune_health", "schedule": 86400.0},
}

# --- RunPod --------------------------------------------------------------------------------------
RUNPOD_API_BASE = envstr("RUNPOD_API_BASE", "https://api.runpod.ai/v2")
RUNPOD_REST_BASE = envstr("RUNPOD_REST_BASE", "https://api.runpod.io/v2")
RUNPOD_TIMEOUT_SECONDS = envfloat("RUNPOD_TIMEOUT_SECONDS", 15.0)
RUNPOD_RETRIES = envint("RUNPOD_RETRIES", 4)
# RunPod's volume S3 API answers 502s under load (runpod.md §7): boto3 attempts per request.
VOLUME_S3_MAX_ATTEMPTS = envint("VOLUME_S3_MAX_ATTEMPTS", 10)
# Where RunPod can reach this dashboard; when set, every job carries a per-generation webhook URL.
PUBLIC_BASE_URL = envstr("PUBLIC_BASE_URL").rstrip("/")

# --- model downloads (dashboard/catalogue/url_guard.py) ------------------------------------------
# Hosts besides huggingface.co and civitai.com (subdomains included) admins may download from.
MODEL_DOWNLOAD_ALLOWED_HOSTS = envlist("MODEL_DOWNLOAD_ALLOWED_HOSTS")
# Hosts whose addresses are not checked (they may be private or loopback): only for a server on
# the same machine or network, as in tests and `make dev`. Never list a public name here.
MODEL_DOWNLOAD_PRIVATE_HOSTS = envlist("MODEL_DOWNLOAD_PRIVATE_HOSTS")
# Follow a link's redirects before sending it and refuse any hop to a private address. Turn off
# only when the dashboard itself has no internet access (the links could then not be checked).
MODEL_DOWNLOAD_CHECK_REDIRECTS = envbool("MODEL_DOWNLOAD_CHECK_REDIRECTS", True)

# --- generations ---------------------------------------------------------------------------------
GENERATION_EXECUTION_TIMEOUT_MS = envint("GENERATION_EXECUTION_TIMEOUT_MS", 600_000)
GENERATION_TTL_MS = envint("GENERATION_TTL_MS", 3_600_000)
TEAM_DEFAULT_MAX_IMAGES = envint("TEAM_DEFAULT_MAX_IMAGES", 4)
# Days a team invitation stays open before the invitee must be asked again.
INVITATION_TTL_DAYS = envint("INVITATION_TTL_DAYS", 7)
# Seconds between status polls of one job: fast at first, then backing off (the last value repeats).
GENERATION_POLL_SCHEDULE = [
    float(x) for x in envlist("GENERATION_POLL_SCHEDULE", "0.5,0.5,0.5,0.5,1,1,1,1,2,2,2,3,5,10")
]
GENERATION_SUBMIT_MAX_ATTEMPTS = envint("GENERATION_SUBMIT_MAX_ATTEMPTS", 5)
# A task submitting a generation holds it this long; an older claim belongs to a task that died
# (keep it above the longest /run: RUNPOD_TIMEOUT_SECONDS * (RUNPOD_RETRIES + 1) plus backoff).
GENERATION_SUBMIT_CLAIM_SECONDS = envint("GENERATION_SUBMIT_CLAIM_SECONDS", 120)
# The reconciler re-drives generations that nothing has looked at for this long.
GENERATION_STALE_SECONDS = envint("GENERATION_STALE_SECONDS", 60)
THUMBNAIL_SIZE = envint("THUMBNAIL_SIZE", 384)

# --- email: alert and budget notices (printed to the console unless a backend is configured) ------
EMAIL_BACKEND = envstr("EMAIL_BACKEND") or "django.core.mail.backends.console.EmailBackend"
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL") or "swarmdeck@localhost"

# --- logging: one line per event on stderr --------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # django-axes says INFO about every sign-in; its warnings (failures, lockouts) are the news.
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- security: HTTPS, cookies and headers (production values: docs/deployment.md) ---------------
# Off by default so that `make dev` works over plain HTTP; `manage.py check --deploy` names any
# that production leaves off.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
# Behind a proxy that terminates TLS: the request header (as Django spells it, e.g.
# HTTP_X_FORWARDED_PROTO) the proxy always sets to "https" for HTTPS requests. Set it only when
# the proxy overwrites that header, or clients could claim HTTPS themselves.
if _proxy_ssl_header := envstr("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)
SESSION_COOKIE_HTTPONLY = True
# Pages send the CSRF token from their markup (base.html's hx-headers), so scripts never need
# to read the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = envstr("SECURE_REFERRER_POLICY", "same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- sign-in throttling (django-axes, see dashboard/accounts/throttle.py) ------------------------
AXES_ENABLED = envbool("SIGN_IN_THROTTLE_ENABLED", True)
AXES_FAILURE_LIMIT = envint("SIGN_IN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("SIGN_IN_COOLOFF_MINUTES", 15))
# Per username and address together: one address guessing many names, or many guessing one,
# each runs into the limit without locking the real user out from everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # keep failures only; successful sign-ins are not audited here
AXES_LOCKOUT_CALLABLE = "dashboard.accounts.throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "dashboard.accounts.throttle.client_ip"
# How many proxies of ours append to X-Forwarded-For in front of the web process (0: none, the
# peer address is the client's).
SIGN_IN_TRUSTED_PROXIES = envint("SIGN_IN_TRUSTED_PROXIES", 0)
