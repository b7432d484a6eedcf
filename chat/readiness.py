"""What a queued run may still be waiting for before it can start (below the models:
``Run.waiting_reason`` asks it).

A plug-in (file_search: the files attached to the thread are still being read)
registers a check in its ``AppConfig.ready()``. The one rule: a run starts only when no
check holds it back, however long that takes. The executor asks before claiming a run,
recovery's sweep and start-up skip runs that wait, the plug-in dispatches them when the
wait is over, and the run's status chip shows the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chat.models import Run, Thread

# A check returns the user-facing reason the run must wait ("Reading your files…"), or
# None. It gets the run's thread when its caller has just read it (with the run, in the
# same trip); given None, it reads what it needs as it is now (a page's copy of a run may
# predate the store its files went to).
Check = Callable[["Run", "Thread | None"], "str | None"]

_checks: list[Check] = []


def register(check: Check) -> Check:
    if check not in _checks:
        _checks.append(check)
    return check


def waiting_reason(run: Run, thread: Thread | None = None) -> str | None:
    """Why ``run`` may not start yet, or None when nothing holds it back. ``thread``: the
    run's thread, if the caller has just read it."""
    for check in _checks:
        reason = check(run, thread)
        if reason:
            return reason
    return None
