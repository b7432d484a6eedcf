"""The Assistants run state machine: the run's statuses and the one place that knows
which moves are legal. It sits below ``chat.models`` (``Run.transition`` enforces it) and
imports nothing of the project, so the models need nothing from the engine.

Statuses and moves follow the hosted API:

    queued ─► in_progress ─► completed | failed | incomplete | requires_action
       │           │
       │           └─► cancelling ─► cancelled
       └─► cancelling | cancelled | failed | expired
    requires_action ─► queued (outputs submitted) | cancelling | expired | failed
"""

from __future__ import annotations

from django.db import models


class RunStatus(models.TextChoices):
    # Labels are what a person reads on the run's status chip.
    QUEUED = "queued", "Queued"
    IN_PROGRESS = "in_progress", "In progress"
    REQUIRES_ACTION = "requires_action", "Waiting for your answer"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    COMPLETED = "completed", "Completed"
    INCOMPLETE = "incomplete", "Incomplete"
    EXPIRED = "expired", "Expired"


QUEUED = RunStatus.QUEUED
IN_PROGRESS = RunStatus.IN_PROGRESS
REQUIRES_ACTION = RunStatus.REQUIRES_ACTION
CANCELLING = RunStatus.CANCELLING
CANCELLED = RunStatus.CANCELLED
FAILED = RunStatus.FAILED
COMPLETED = RunStatus.COMPLETED
INCOMPLETE = RunStatus.INCOMPLETE
EXPIRED = RunStatus.EXPIRED

ALL = tuple(RunStatus)
TERMINAL = frozenset({CANCELLED, FAILED, COMPLETED, INCOMPLETE, EXPIRED})
ACTIVE = frozenset(ALL) - TERMINAL

LEGAL: dict[str, frozenset[str]] = {
    QUEUED: frozenset({IN_PROGRESS, CANCELLING, CANCELLED, FAILED, EXPIRED}),
    IN_PROGRESS: frozenset({REQUIRES_ACTION, COMPLETED, FAILED, INCOMPLETE, CANCELLING, EXPIRED}),
    REQUIRES_ACTION: frozenset({QUEUED, CANCELLING, EXPIRED, FAILED}),
    CANCELLING: frozenset({CANCELLED, FAILED}),
    CANCELLED: frozenset(),
    FAILED: frozenset(),
    COMPLETED: frozenset(),
    INCOMPLETE: frozenset(),
    EXPIRED: frozenset(),
}

# Which timestamp field a move into a status stamps.
STAMPS = {
    QUEUED: "queued_at",  # queued again after tool outputs: a sweep counts its wait from then
    IN_PROGRESS: "started_at",
    COMPLETED: "completed_at",
    INCOMPLETE: "completed_at",
    CANCELLED: "cancelled_at",
    FAILED: "failed_at",
}

LABELS = {status: status.label for status in RunStatus}


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"A run cannot go from {str(current)!r} to {str(target)!r}.")
        self.current = current
        self.target = target


def is_legal(current: str, target: str) -> bool:
    return target in LEGAL.get(current, frozenset())


def check(current: str, target: str) -> None:
    if not is_legal(current, target):
        raise IllegalTransition(current, target)


def sources_for(target: str) -> frozenset[str]:
    """Every status from which ``target`` may be entered."""
    return frozenset(s for s, targets in LEGAL.items() if target in targets)
