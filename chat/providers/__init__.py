"""Choosing a provider for a model name.

The rule (also in the README): the model named ``offline`` is the built-in rule-based
model; every other name goes to the OpenAI-compatible server configured by
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``. The names offered in forms are ``offline``
plus ``OPENAI_MODELS`` (or ``DEFAULT_MODEL`` when that list is empty) once a server is
configured.
"""

from __future__ import annotations

from django.conf import settings

from chat.providers.base import Provider, ProviderError

OFFLINE_MODEL = "offline"


def openai_configured() -> bool:
    return bool(settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL)


def available_models() -> list[str]:
    models = [OFFLINE_MODEL]
    if openai_configured():
        remote = settings.OPENAI_MODELS or [settings.DEFAULT_MODEL]
        models += [name for name in remote if name != OFFLINE_MODEL]
    return models


def get_provider(model: str) -> Provider:
    if model == OFFLINE_MODEL:
        from chat.providers.offline import OfflineProvider

        return OfflineProvider(delay=settings.OFFLINE_MODEL_DELAY)
    if not openai_configured():
        raise ProviderError(
            f"The model {model!r} needs an OpenAI-compatible server, and none is configured "
            "(set OPENAI_BASE_URL and/or OPENAI_API_KEY).",
            code="invalid_prompt",
        )
    from chat.providers.openai_compat import OpenAICompatProvider

    return OpenAICompatProvider(
        api_key=settings.OPENAI_API_KEY or "not-needed",
        base_url=settings.OPENAI_BASE_URL or None,
        max_retries=settings.OPENAI_MAX_RETRIES,
        timeout=settings.OPENAI_TIMEOUT,
    )
