"""Assistants: deleting one."""

from __future__ import annotations

from django.db import transaction

from chat.engine.runs import cancel_run
from chat.models import Assistant, Run
from chat.states import ACTIVE


def delete_assistant(assistant: Assistant) -> None:
    """Delete an assistant. Its runs still going are cancelled first (a run must not
    carry on, or wait for tool outputs, for an assistant that no longer exists); its
    conversations are kept, read-only in the browser."""
    for run in Run.objects.filter(assistant=assistant, status__in=ACTIVE):
        cancel_run(run)
    with transaction.atomic():
        assistant.delete()
