"""The Django floor's settings: the least Django that serves the views (bench/djfloor)."""

import os
from pathlib import Path

SECRET_KEY = "bench-django-floor"  # noqa: S105 - a throw-away bench server on 127.0.0.1
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.djfloor.views"
MIDDLEWARE: list[str] = []
USE_TZ = True
# The embedded default's channel layer class (project/settings.py without REDIS_URL).
CHANNEL_LAYERS = {"default": {"BACKEND": "project.channel_layer.SweepingInMemoryChannelLayer"}}
LOGGING_CONFIG = None

WITH_DATABASE = os.environ.get("BENCH_FLOOR_DB", "") not in ("", "0")
if WITH_DATABASE:
    INSTALLED_APPS = ["bench.djfloor"]
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(Path(os.environ.get("DATA_DIR", ".")) / "djfloor.sqlite3"),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    }
else:
    INSTALLED_APPS = []
    DATABASES = {}
