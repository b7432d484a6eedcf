"""Demo data: the walkthrough's Math Tutor, for the demo login and every new account."""

from __future__ import annotations

from django.conf import settings

from chat.models import Assistant

MATH_TUTOR = {
    "name": "Math Tutor",
    "description": "A personal math tutor.",
    "instructions": "You are a personal math tutor. Answer questions briefly, in a sentence or less.",
}


def ensure_starter_assistant(user) -> Assistant | None:
    """Give a user with no assistants the Math Tutor, so a new account can chat at once."""
    if Assistant.objects.filter(owner=user).exists():
        return None
    return Assistant.objects.create(owner=user, model=settings.DEFAULT_MODEL, **MATH_TUTOR)
