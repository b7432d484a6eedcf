"""Threads: deleting one (its live run is stopped first)."""

from __future__ import annotations

from chat.engine.runs import cancel_run
from chat.models import Thread


def delete_thread(thread: Thread) -> None:
    """Delete a thread with its messages and runs. A run still executing is cancelled
    first, so its task stops now instead of writing to rows that are gone."""
    active = thread.active_run()
    if active is not None:
        cancel_run(active)
    thread.delete()
