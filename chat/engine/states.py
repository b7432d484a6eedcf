"""The engine's name for the run state machine, which lives below the models in
``chat.states`` (``Run.transition`` enforces it)."""

from chat.states import (  # noqa: F401
    ACTIVE,
    ALL,
    CANCELLED,
    CANCELLING,
    COMPLETED,
    EXPIRED,
    FAILED,
    IN_PROGRESS,
    INCOMPLETE,
    LABELS,
    LEGAL,
    QUEUED,
    REQUIRES_ACTION,
    STAMPS,
    TERMINAL,
    IllegalTransition,
    RunStatus,
    check,
    is_legal,
    sources_for,
)
