"""Demo data: the walkthrough's Math Tutor, for the demo login and every new account, and
the demo class with a tutor and a student login."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

from chat.access import assistants_for_picker
from chat.classes import services
from chat.classes.models import Classroom, Membership
from chat.models import Assistant

MATH_TUTOR = {
    "name": "Math Tutor",
    "description": "A personal math tutor.",
    "instructions": "You are a personal math tutor. Answer questions briefly, in a sentence or less.",
}


# A new account's own copy, named as what it is: a tutor who sets up their class must not
# take it for an assistant they configured (docs/architecture.md, "Sign-up's starter").
STARTER = {
    **MATH_TUTOR,
    "name": "Math Tutor (starter)",
    "description": "A starter assistant made with your account, to try a conversation at once. "
    "Edit it, or create your own assistant for a class.",
}


def ensure_starter_assistant(user) -> Assistant | None:
    """Give a user with no assistants to talk to the starter Math Tutor, so a new account
    can chat at once (a student with a class's assistants needs no copy of their own)."""
    if assistants_for_picker(user).exists():
        return None
    return Assistant.objects.create(owner=user, model=settings.DEFAULT_MODEL, **STARTER)


# The walkthrough's quiz function, on the demo class's Math Tutor: a student who asks it for
# a quiz gets one, and the tutor's gradebook fills, so both sides of a class show at once.
DISPLAY_QUIZ = {
    "name": "display_quiz",
    "description": "Displays a quiz to the student, and returns the student's response. A single quiz can have multiple questions.",
    "parameters": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "questions": {
                "type": "array",
                "description": "An array of questions, each with a title and potentially options (if multiple choice).",
                "items": {
                    "type": "object",
                    "properties": {
                        "question_text": {"type": "string"},
                        "question_type": {"type": "string", "enum": ["MULTIPLE_CHOICE", "FREE_RESPONSE"]},
                        "choices": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["question_text"],
                },
            },
        },
        "required": ["title", "questions"],
    },
}

DEMO_CLASS = {"name": "Demo class", "description": "Try both sides: log in as the tutor in one window and the student in another."}


def get_or_create_login(username: str, password: str, **defaults):
    """A demo login; an existing one keeps the password it has (it may have been changed)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults=defaults)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, created


def seed_demo_class(tutor, student) -> Classroom:
    """The tutor teaches "Demo class", with a Math Tutor published to it and the student
    enrolled. Idempotent: run again, it finds what is there."""
    assistant = Assistant.objects.filter(owner=tutor, name=MATH_TUTOR["name"]).first()
    if assistant is None:
        assistant = Assistant.objects.create(
            owner=tutor, model="offline", tools=[{"type": "function", "function": DISPLAY_QUIZ}], **MATH_TUTOR
        )
    classroom = Classroom.objects.filter(name=DEMO_CLASS["name"], memberships__user=tutor, memberships__role=Membership.Role.TUTOR).first()
    if classroom is None:
        classroom = services.create_classroom(tutor, **DEMO_CLASS)
    services.publish(classroom, assistant)
    Membership.objects.get_or_create(classroom=classroom, user=student, defaults={"role": Membership.Role.STUDENT})
    return classroom
