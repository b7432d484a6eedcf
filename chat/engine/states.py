"""The Assistants run state machine: the one place that knows which moves are legal.

Statuses and moves follow the hosted API:

    queued ─► in_progress ─► completed | failed | incomplete | requires_action
       │           │
       │           └─► cancelling ─► cancelled
       └─► cancelling | cancelled | failed | expired
    requires_action ─► queued (outputs submitted) | cancelling | expired | failed
"""

from __future__ import annotations

QUEUED = "queued"
IN_PROGRESS = "in_progress"
REQUIRES_ACTION = "requires_action"
CANCELLING = "cancelling"
CANCELLED = "cancelled"
FAILED = "failed"
COMPLETED = "completed"
INCOMPLETE = "incomplete"
EXPIRED = "expired"

ALL = (QUEUED, IN_PROGRESS, REQUIRES_ACTION, CANCELLING, CANCELLED, FAILED, COMPLETED, INCOMPLETE, EXPIRED)
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
    IN_PROGRESS: "started_at",
    COMPLETED: "completed_at",
    INCOMPLETE: "completed_at",
    CANCELLED: "cancelled_at",
    FAILED: "failed_at",
}

LABELS = {
    QUEUED: "Queued",
    IN_PROGRESS: "In progress",
    REQUIRES_ACTION: "Waiting for your answer",
    CANCELLING: "Cancelling",
    CANCELLED: "Cancelled",
    FAILED: "Failed",
    COMPLETED: "Completed",
    INCOMPLETE: "Incomplete",
    EXPIRED: "Expired",
}


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"A run cannot go from {current!r} to {target!r}.")
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
