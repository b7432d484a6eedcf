"""Per-thread Python sessions, a warm pool of kernels, and the loop they live on.

Kernels are driven from one background thread with its own asyncio loop, so the web
server's loop (and every test's loop) can call in from anywhere: ``call(coro)`` hops
over and awaits the result. A session lives until it has been idle for
``CODE_INTERPRETER_IDLE_TIMEOUT`` seconds, or its kernel dies; the next call starts a
fresh one from the warm pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

from chat.code_interpreter import sandbox
from chat.code_interpreter.kernel import Kernel, KernelError

logger = logging.getLogger("chat.code_interpreter")


class SandboxRefused(Exception):
    """No sandbox can be created, and unsandboxed mode is off."""


@dataclass
class Session:
    thread_id: str
    kernel: Kernel
    last_used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fresh: bool = True  # no code has run in it yet
    known: dict = field(default_factory=dict)  # /mnt/data as of the last call
    given: set = field(default_factory=set)  # names of the attached files put in /mnt/data


class Service:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sessions: dict[str, Session] = {}
        self.pool: list[Kernel] = []
        self.ended: dict[str, str] = {}  # thread id -> why its last session ended
        self._filling: asyncio.Task | None = None
        self.closing = False
        self.starting: set[Kernel] = set()  # booting right now (stopped too at shutdown)
        thread = threading.Thread(target=self._run, name="code-interpreter", daemon=True)
        thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.create_task(self._reap_forever())
        self.loop.run_forever()

    # --- called from other loops --------------------------------------------------------

    async def call(self, coro):
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    # --- on the service loop ------------------------------------------------------------

    @staticmethod
    def sandboxed() -> bool:
        if settings.CODE_INTERPRETER_UNSANDBOXED:
            return False
        problem = sandbox.probe()
        if problem:
            raise SandboxRefused(
                f"Code Interpreter is unavailable: {problem}. The code was not run "
                "(unsandboxed execution is off, as it should be)."
            )
        return True

    async def new_kernel(self) -> Kernel:
        sandboxed = self.sandboxed()
        if not sandboxed:
            logger.warning("CODE_INTERPRETER_UNSANDBOXED is on: model-written code runs on this server with its full rights")
        kernel = Kernel(sandboxed=sandboxed)
        self.starting.add(kernel)
        try:
            await kernel.start()
        except KernelError as exc:
            raise SandboxRefused(f"Code Interpreter could not start a sandboxed Python: {exc}") from exc
        finally:
            self.starting.discard(kernel)
        return kernel

    def fill_pool(self, delay: float = 0.0) -> None:
        if self._filling is None or self._filling.done():
            self._filling = self.loop.create_task(self._fill(delay))

    async def _fill(self, delay: float = 0.0) -> None:
        # A short delay keeps the refill's process spawn off the call that emptied the pool.
        await asyncio.sleep(delay)
        while len(self.pool) < settings.CODE_INTERPRETER_POOL_SIZE and not self.closing:
            try:
                self.pool.append(await self.new_kernel())
            except SandboxRefused as exc:
                logger.warning("could not pre-start a code interpreter kernel: %s", exc)
                return
            except Exception:
                if not self.closing:
                    logger.exception("could not pre-start a code interpreter kernel")
                return

    async def session_for(self, thread_id: str) -> tuple[Session, str | None]:
        """The thread's live session, or a new one, and a note when an old one ended."""
        session = self.sessions.get(thread_id)
        if session is not None and session.kernel.alive:
            return session, None
        if session is not None:
            self._end(thread_id, "its Python process stopped (it was killed or ran out of memory)")
        sandboxed = self.sandboxed()  # refuses now if the sandbox cannot be created, pool or not
        kernel = None
        while self.pool and kernel is None:
            candidate = self.pool.pop(0)
            if candidate.alive and candidate.sandboxed == sandboxed:
                kernel = candidate
            else:
                candidate.stop()
        if kernel is None:
            kernel = await self.new_kernel()
        self.fill_pool(delay=0.2)
        session = self.sessions[thread_id] = Session(thread_id, kernel)
        return session, self.ended.pop(thread_id, None)

    def _end(self, thread_id: str, reason: str) -> None:
        session = self.sessions.pop(thread_id, None)
        if session is not None:
            session.kernel.stop()
            self.ended[thread_id] = reason

    def end_session(self, thread_id: str, reason: str) -> None:
        self._end(thread_id, reason)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, max(0.2, settings.CODE_INTERPRETER_IDLE_TIMEOUT / 4)))
            self.reap()

    def reap(self) -> None:
        idle = settings.CODE_INTERPRETER_IDLE_TIMEOUT
        now = time.monotonic()
        for thread_id, session in list(self.sessions.items()):
            if not session.lock.locked() and now - session.last_used > idle:
                minutes = idle / 60
                span = f"{minutes:g} minutes" if minutes >= 1 else f"{idle:g} seconds"
                self._end(thread_id, f"it was idle for more than {span} and was shut down")

    def close_at_exit(self) -> None:
        """Stop every kernel from the service's own loop, then the loop (interpreter exit)."""
        self.closing = True

        async def close() -> None:
            self.shutdown()

        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)

    def shutdown(self) -> None:
        for thread_id in list(self.sessions):
            self._end(thread_id, "the server shut it down")
        while self.pool:
            self.pool.pop().stop()
        for kernel in list(self.starting):
            kernel.stop()


_service: Service | None = None
_service_lock = threading.Lock()


def service() -> Service:
    global _service
    with _service_lock:
        if _service is None:
            _service = Service()
            import atexit

            atexit.register(_service.close_at_exit)
        return _service


def warm_pool() -> None:
    """Pre-start the pool (called when the server starts; harmless to call again)."""
    svc = service()
    svc.loop.call_soon_threadsafe(svc.fill_pool)
