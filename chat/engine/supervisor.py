"""Binds the run engine to the web server's event loop.

Daphne does not speak the ASGI lifespan protocol, so ``start_engine`` runs either from
``manage.py serve`` once the server is listening, or on the first connection of any kind
when another ASGI server (or ``runserver``) hosts the app.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from django.conf import settings

from chat import tokens
from chat.engine import dispatch, recovery

_supervisor: asyncio.Task | None = None

# What plug-ins start with the engine (code_interpreter's warm kernel pool, retrieval's
# half-finished ingests), registered in their AppConfig.ready(), run in that order.
_start_hooks: list[Callable[[], None]] = []


def on_engine_start(hook: Callable[[], None]) -> Callable[[], None]:
    if hook not in _start_hooks:
        _start_hooks.append(hook)
    return hook


def start_engine(loop: asyncio.AbstractEventLoop, *, executes: bool | None = None) -> None:
    """Bind dispatch to ``loop`` and start the supervisor there (once per process).
    ``executes``: whether this process executes runs and ingest (a worker; the web server
    in the embedded mode), and so warms its kernels and resumes unfinished ingest."""
    global _supervisor
    dispatch.set_server_loop(loop)
    if executes is None:
        executes = settings.RUN_BACKEND == "embedded"
    if _supervisor is None and settings.RUN_SUPERVISOR:
        _supervisor = loop.create_task(recovery.supervise(), name="run supervisor")
        models = [settings.DEFAULT_MODEL, *settings.OPENAI_MODELS]
        threading.Thread(target=tokens.warm, args=(models,), name="tokenizer warm-up", daemon=True).start()
        if not executes:
            return
        for hook in _start_hooks:
            hook()


async def stop_engine(timeout: float) -> None:
    """At shutdown: no more sweeps, and every run this process executes ends at once
    (failed with a clear last_error and its partial answer, or cancelled if asked)."""
    if _supervisor is not None:
        _supervisor.cancel()
    await dispatch.stop_runs(timeout)


def with_run_supervisor(app):
    async def application(scope, receive, send):
        loop = asyncio.get_running_loop()
        if dispatch.server_loop() is not loop:
            start_engine(loop)
        return await app(scope, receive, send)

    return application
