"""The event loop the served processes run on: uvloop when installed, asyncio's own otherwise.

``EVENT_LOOP=uvloop`` (the default) or ``asyncio``. It must be chosen before Django starts:
Daphne makes its loop, and installs Twisted's asyncio reactor on it, when ``daphne.server``
is imported, and its app (INSTALLED_APPS) imports it while Django sets up. So manage.py
calls ``install()`` first, and every loop the process makes from then on is of that kind:
Daphne's, the worker's ``asyncio.run``, the Code Interpreter service's. uvloop's loop does
asyncio's own work (the selector, handles, wake-ups from threads) in C: about an eighth of a
busy server's CPU was that work (docs/benchmarks.md, seventeenth and eighteenth passes).
"""

from __future__ import annotations

import asyncio

from project.env import env_choice

CHOICES = ("uvloop", "asyncio")


def install() -> str:
    """Make new event loops uvloop's unless EVENT_LOOP=asyncio or uvloop is not installed;
    the kind chosen."""
    if env_choice("EVENT_LOOP", "uvloop", CHOICES) == "asyncio":
        return "asyncio"
    try:
        import uvloop
    except ImportError:  # a platform without its wheel (Windows): asyncio's loop serves
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop.Loop`` or ``asyncio._UnixSelectorEventLoop``: for the start-up lines."""
    kind = type(loop)
    return f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"
