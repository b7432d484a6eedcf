"""The sandbox works wherever the project is checked out: under /root, or in a
`mktemp -d` folder (mode 0700) that the sandbox's own uid cannot traverse.

The private checkout holds a real Python environment (hard links to the one running the
tests, so it costs no copying), not a symlink out of the private folder: a symlink would
let a fix that resolves paths as root pass without ever reaching files the sandbox's uid
cannot see.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from chat.code_interpreter.kernel import Kernel
from chat.code_interpreter.sessions import service
from tests.code_interpreter.conftest import logs_of


@pytest.fixture(scope="module")
def private_checkout():
    folder = Path(tempfile.mkdtemp(prefix="private-checkout-"))  # mode 0700, like `mktemp -d`
    assert folder.stat().st_mode & 0o777 == 0o700
    venv = folder / "store" / "venv"
    venv.parent.mkdir()
    source = os.path.realpath(sys.prefix)
    linked = subprocess.run(["cp", "-al", source, str(venv)], capture_output=True)
    if linked.returncode != 0:  # another filesystem: no hard links, copy it (slow but honest)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run(["cp", "-a", source, str(venv)], check=True)
    (folder / "project").mkdir()
    (folder / "project" / ".venv").symlink_to("../store/venv")  # a checkout's .venv is often a link
    yield folder
    shutil.rmtree(folder)


async def run_in_new_kernel(code: str) -> tuple[str, int]:
    """The code's output, and the uid the sandbox's processes have on the host."""
    async def start_run_stop():
        kernel = Kernel(sandboxed=True)
        try:
            await kernel.start()
            result = await kernel.execute(code, timeout=30, max_output=10_000)
            return logs_of(result), os.stat(f"/proc/{kernel.child_pid}").st_uid
        finally:
            kernel.stop()

    return await service().call(start_run_stop())


def sandbox_uid_on_the_host() -> int:
    return django_settings.CODE_INTERPRETER_SANDBOX_UID if os.geteuid() == 0 else os.geteuid()


WHO_AND_WHAT = (
    "import os, sys, matplotlib\n"
    "print(sys.prefix, os.getuid())\n"
    "try:\n"
    "    open(sys.prefix + '/planted.py', 'w')\n"
    "except OSError as exc:\n"
    "    print(type(exc).__name__, exc.strerror)\n"
)


@pytest.mark.parametrize("venv", ["store/venv", "project/.venv"], ids=["venv-dir", "venv-symlink"])
async def test_a_python_environment_inside_a_private_folder_runs_the_sandbox(settings, private_checkout, venv):
    settings.CODE_INTERPRETER_VENV = str(private_checkout / venv)
    out, host_uid = await run_in_new_kernel(WHO_AND_WHAT + f"print(os.path.exists({str(private_checkout)!r}))\n")
    assert out.splitlines() == ["/opt/venv 1000", "OSError Read-only file system", "False"]
    assert host_uid == sandbox_uid_on_the_host()


async def test_a_temporary_directory_the_sandbox_cannot_reach_does_not_stop_it(private_checkout, monkeypatch):
    """Kernel connection files and sockets are made under TMPDIR; the sandbox must still
    reach them when TMPDIR is a private folder."""
    private_tmp = private_checkout / "tmp"
    private_tmp.mkdir(mode=0o700, exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    out, host_uid = await run_in_new_kernel(WHO_AND_WHAT)
    assert out.splitlines() == ["/opt/venv 1000", "OSError Read-only file system"]
    assert host_uid == sandbox_uid_on_the_host()
