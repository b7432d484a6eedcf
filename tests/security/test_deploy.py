"""`manage.py check --deploy` is clean with the production environment documented in the
README ("Running in production"), and does complain without it."""

from __future__ import annotations

import secrets
import subprocess

from tests.live_server import BASE_DIR, python, server_env

PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "tutor.example.org",
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    # Password-reset mail is printed on the console by default; production must send it.
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
}


def check_deploy(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python(), "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={**server_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check_without_a_warning(tmp_path):
    result = check_deploy(tmp_path, SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION_ENV)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output and "security.W" not in output
    assert "no issues" in output


def test_the_local_defaults_are_not_mistaken_for_production(tmp_path):
    result = check_deploy(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output


def test_a_weak_secret_key_fails_the_deploy_check(tmp_path):
    result = check_deploy(tmp_path, SECRET_KEY="django-insecure-short", **PRODUCTION_ENV)
    assert result.returncode != 0 and "security.W009" in result.stdout + result.stderr


def test_a_misspelt_production_setting_stops_start_up(tmp_path):
    for name, raw, says in [
        ("SECURE_SSL_REDIRECT", "always", "is not a boolean"),
        ("SECURE_HSTS_SECONDS", "1y", "is not a whole number"),
        ("SECURE_HSTS_SECONDS", "-1", "must be at least 0"),
        ("PROXY_HEADERS", "x-forwarded-proto", "is not a boolean"),
    ]:
        result = check_deploy(tmp_path, **{**PRODUCTION_ENV, name: raw})
        assert result.returncode != 0 and f"{name}={raw!r} {says}" in result.stderr, (name, raw)


def test_the_production_settings_reach_django(tmp_path):
    env = {**server_env(tmp_path), **PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50), "PROXY_HEADERS": "true"}
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
    )
    result = subprocess.run(
        [python(), "manage.py", "shell", "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "True 31536000 True True True True ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_the_deploy_check_refuses_the_console_mail_backend(tmp_path):
    env = {**PRODUCTION_ENV, "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    result = check_deploy(tmp_path, SECRET_KEY=secrets.token_urlsafe(50), **env)
    assert result.returncode != 0 and "mail.E001" in result.stdout + result.stderr


def test_the_cluster_environment_of_docs_deploy_passes_the_deploy_check(tmp_path):
    """docs/deploy.md's environment for web processes and workers on several machines."""
    cluster = {
        "RUN_BACKEND": "workers",
        "DATABASE_URL": "postgres://tutor:secret@db.internal:5432/tutor",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "CSRF_TRUSTED_ORIGINS": "https://tutor.example.org",
        "PROXY_HEADERS": "true",
    }
    result = check_deploy(tmp_path, SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION_ENV, **cluster)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "no issues" in output, output


def test_workers_without_a_broker_stop_start_up_with_the_reason(tmp_path):
    result = check_deploy(tmp_path, RUN_BACKEND="workers")
    assert result.returncode != 0 and "needs TASK_BROKER_URL or REDIS_URL" in result.stderr
    result = check_deploy(tmp_path, RUN_BACKEND="celery")
    assert result.returncode != 0 and 'RUN_BACKEND must be "embedded" or "workers"' in result.stderr
