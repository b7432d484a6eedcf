import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from project.env import env_bool, env_choice, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("1", True), ("Off", False), ("no", False), ("", True)])
def test_booleans_are_parsed_strictly(monkeypatch, raw, value):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", True) is value


def test_a_misspelt_boolean_is_an_error(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="FLAG='ture' is not a boolean"):
        env_bool("FLAG", False)


def test_numbers_and_urls_are_checked(monkeypatch):
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("N", 1)
    monkeypatch.setenv("U", "localhost:6379")
    with pytest.raises(ImproperlyConfigured, match="is not a URL"):
        env_url("U", schemes=("redis",))
    monkeypatch.setenv("L", " a, b ,,c ")
    assert env_list("L", []) == ["a", "b", "c"]


def test_a_choice_is_one_of_its_values(monkeypatch):
    monkeypatch.delenv("C", raising=False)
    assert env_choice("C", "INFO", ("DEBUG", "INFO"), upper=True) == "INFO"
    monkeypatch.setenv("C", " debug ")
    assert env_choice("C", "INFO", ("DEBUG", "INFO"), upper=True) == "DEBUG"
    with pytest.raises(ImproperlyConfigured, match="C=' debug ' is not one of cl100k_base, o200k_base"):
        env_choice("C", "cl100k_base", ("cl100k_base", "o200k_base"))


def _check(env: dict) -> subprocess.CompletedProcess:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )


def test_the_app_refuses_to_start_with_a_bad_setting(tmp_path):
    result = _check({"DEBUG": "maybe", "DATA_DIR": str(tmp_path)})
    assert result.returncode != 0 and "DEBUG='maybe' is not a boolean" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOG_LEVEL", "verbose", "LOG_LEVEL='verbose' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("RETRIEVAL_ENCODING", "p50k_base", "RETRIEVAL_ENCODING='p50k_base' is not one of cl100k_base, o200k_base"),
    ],
)
def test_a_setting_that_takes_a_choice_refuses_an_unknown_value(tmp_path, name, value, message):
    result = _check({name: value, "DATA_DIR": str(tmp_path)})
    assert result.returncode != 0 and message in result.stderr


def test_choice_settings_accept_their_values(tmp_path):
    code = "from django.conf import settings as s;print(s.LOG_LEVEL, s.RETRIEVAL_ENCODING, s.LOGGING['loggers']['chat']['level'])"
    env = {**os.environ, "DATA_DIR": str(tmp_path), "LOG_LEVEL": "warning", "RETRIEVAL_ENCODING": "o200k_base",
           "DJANGO_SETTINGS_MODULE": "project.settings"}
    out = subprocess.run(
        [sys.executable, "-c", "import django;django.setup();" + code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.stdout.split() == ["WARNING", "o200k_base", "WARNING"], out.stderr


def test_a_remote_default_model_needs_a_server(tmp_path):
    result = _check({"DEFAULT_MODEL": "gpt-4o", "DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    assert result.returncode != 0 and "needs OPENAI_API_KEY or OPENAI_BASE_URL" in result.stderr


def test_redis_and_postgres_urls_switch_the_backends(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.CHANNEL_LAYERS['default']['BACKEND']);print(s.DATABASES['default']['ENGINE'])"
    )
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", "import django;django.setup();" + code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.stdout.split() == ["project.channel_layer.RedisPubSubChannelLayer", "project.postgresql"], out.stderr


def test_a_rate_window_the_sdk_would_not_wait_for_is_refused(tmp_path):
    result = _check({"API_RATE_WINDOW": "120", "DATA_DIR": str(tmp_path)})
    assert result.returncode != 0 and "API_RATE_WINDOW must be at most 60 seconds" in result.stderr


@pytest.mark.parametrize(
    "name, value", [("DATABASE_POOL_SIZE", "0"), ("DATABASE_POOL_SIZE", "ten"), ("DATABASE_POOL_TIMEOUT", "-1"),
                    ("DATABASE_POOL_MAX_WAIT", "0"),
                    ("API_KEY_CACHE_SECONDS", "soon"), ("API_KEY_CACHE_SECONDS", "600")],
)
def test_pool_and_key_cache_settings_are_parsed_strictly(tmp_path, name, value):
    result = _check({name: value, "DATA_DIR": str(tmp_path)})
    assert result.returncode != 0 and name in result.stderr


def test_the_embedded_session_cache_has_the_configured_size(tmp_path):
    code = "from django.conf import settings as s;print(s.CACHES['sessions']['OPTIONS']['MAX_ENTRIES'])"
    env = {**os.environ, "DATA_DIR": str(tmp_path), "SESSION_CACHE_ENTRIES": "500", "REDIS_URL": "",
           "DJANGO_SETTINGS_MODULE": "project.settings"}
    out = subprocess.run(
        [sys.executable, "-c", "import django;django.setup();" + code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.stdout.strip() == "500", out.stderr
    assert "SESSION_CACHE_ENTRIES" in _check({"SESSION_CACHE_ENTRIES": "0", "DATA_DIR": str(tmp_path)}).stderr


def test_a_postgres_url_gets_a_pool_of_the_configured_size(tmp_path):
    code = "from django.conf import settings as s;print(s.DATABASES['default']['OPTIONS']['pool'])"
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
           "DATABASE_POOL_SIZE": "7", "DATABASE_POOL_TIMEOUT": "2.5", "DJANGO_SETTINGS_MODULE": "project.settings"}
    out = subprocess.run(
        [sys.executable, "-c", "import django;django.setup();" + code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.stdout.strip() == "{'min_size': 1, 'max_size': 7, 'timeout': 2.5}", out.stderr


@pytest.mark.parametrize(
    ("env", "backend"),
    [({}, "django.core.mail.backends.console"), ({"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}, "django.core.mail.backends.smtp")],
)
def test_password_reset_mail_goes_to_the_console_unless_configured(tmp_path, env, backend):
    full = {**os.environ, "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "project.settings", **env}
    full.pop("EMAIL_BACKEND", None) if not env else None
    code = "import django;django.setup();from django.core.mail import mailers;print(type(mailers.default).__module__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == backend, out.stderr
