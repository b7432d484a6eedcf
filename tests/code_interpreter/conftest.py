"""Code Interpreter tests run real kernels in a real bubblewrap sandbox.

Kernels live on the code interpreter's own loop thread for the whole test session; each
test uses its own thread ids, so sessions never leak state between tests.
"""

from __future__ import annotations

import itertools
import shutil

import pytest

from tests.conftest import skip_or_fail

_ids = itertools.count()


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    if shutil.which("bwrap") is None:
        skip_or_fail("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (make test installs it as root)")
    from chat.code_interpreter import sandbox

    problem = sandbox.probe()
    if problem:
        skip_or_fail(problem)
    settings.CODE_INTERPRETER_POOL_SIZE = 1
    settings.CODE_INTERPRETER_TIMEOUT = 10.0
    settings.CODE_INTERPRETER_INTERRUPT_GRACE = 3.0
    settings.CODE_INTERPRETER_UNSANDBOXED = False


@pytest.fixture
def new_thread_id():
    return lambda: f"thread_citest{next(_ids)}"


async def run_code(thread_id: str, code: str, attachments=()):
    from chat.code_interpreter.sessions import service
    from chat.code_interpreter.tool import _execute

    return await service().call(_execute(thread_id, code, list(attachments), None))


def logs_of(result) -> str:
    return "".join(o["logs"] for o in result.outputs if o["type"] == "logs") + (result.error or "")
