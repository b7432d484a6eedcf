"""Strict readers for settings that come from environment variables.

A misspelt boolean or a malformed URL raises ``ImproperlyConfigured`` at start-up
instead of silently falling back to a default.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_choice(name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    """One of ``choices`` (compared in upper case when ``upper``); anything else is an error."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().upper() if upper else raw.strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} is not one of {', '.join(choices)}.")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use one of {sorted(_TRUE | _FALSE)}.")


def _env_number(name: str, default, cast, what: str, minimum):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {what}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    return _env_number(name, default, float, "a number", minimum)


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    return _env_number(name, default, int, "a whole number", minimum)


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str = "", *, schemes: tuple[str, ...]) -> str:
    raw = env_str(name, default)
    if not raw:
        return ""
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a URL with scheme {' or '.join(schemes)}.")
    return raw


def env_int_map(name: str, default: dict[str, int], *, minimum: int = 1) -> dict[str, int]:
    """``key=number,key=number`` (e.g. ``gpt-4o=128000,llama3*=8192,*=8192``) as a dict;
    a malformed entry, a repeated key or a number below ``minimum`` is an error."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return dict(default)
    parsed: dict[str, int] = {}
    for entry in raw.split(","):
        key, sep, value = (part.strip() for part in entry.partition("="))
        if not sep or not key or not value:
            raise ImproperlyConfigured(f"{name}: {entry.strip()!r} is not of the form name=number.")
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {value!r} (for {key!r}) is not a whole number.") from None
        if number < minimum:
            raise ImproperlyConfigured(f"{name}: {key}={number} must be at least {minimum}.")
        if key in parsed:
            raise ImproperlyConfigured(f"{name}: {key!r} is given twice.")
        parsed[key] = number
    return parsed
