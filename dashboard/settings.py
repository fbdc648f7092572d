"""SwarmDeck settings: one module, every value read from the environment (see .env.example)."""

import os
import tempfile
from pathlib import Path

import dj_database_url

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
if STORAGE_S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": STORAGE_S3_BUCKET,
            "endpoint_url": envstr("STORAGE_S3_ENDPOINT_URL") or None,
            "region_name": envstr("STORAGE_S3_REGION") or None,
            "access_key": envstr("STORAGE_S3_ACCESS_KEY_ID") or None,
            "secret_key": envstr("STORAGE_S3_SECRET_ACCESS_KEY") or None,
            "location": envstr("STORAGE_S3_PREFIX"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
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
CELERY_BEAT_SCHEDULE = {
    "reconcile-generations": {
        "task": "generations.reconcile",
        "schedule": float(RECONCILE_INTERVAL_SECONDS),
    },
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

# --- generations ---------------------------------------------------------------------------------
GENERATION_EXECUTION_TIMEOUT_MS = envint("GENERATION_EXECUTION_TIMEOUT_MS", 600_000)
GENERATION_TTL_MS = envint("GENERATION_TTL_MS", 3_600_000)
TEAM_DEFAULT_MAX_IMAGES = envint("TEAM_DEFAULT_MAX_IMAGES", 4)
# Seconds between status polls of one job: fast at first, then backing off (the last value repeats).
GENERATION_POLL_SCHEDULE = [
    float(x) for x in envlist("GENERATION_POLL_SCHEDULE", "0.5,0.5,0.5,0.5,1,1,1,1,2,2,2,3,5,10")
]
GENERATION_SUBMIT_MAX_ATTEMPTS = envint("GENERATION_SUBMIT_MAX_ATTEMPTS", 5)
# The reconciler re-drives generations that nothing has looked at for this long.
GENERATION_STALE_SECONDS = envint("GENERATION_STALE_SECONDS", 60)
THUMBNAIL_SIZE = envint("THUMBNAIL_SIZE", 384)

# --- logging: one line per event on stderr --------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", False)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
