"""A real server for one benchmark: ``manage.py serve`` in a subprocess, on a free
loopback port, with its own DATA_DIR (and so its own SQLite database)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """Use as a context manager. ``hooked=True`` runs ``python -m bench.hooked_serve``
    (the same ``serve`` command plus the delta-timestamp probe) instead of ``manage.py``."""

    def __init__(
        self, *, threads: int, hooked: bool = False, startup_timeout: float = 30.0,
        root: Path = ROOT, env: dict[str, str] | None = None, api_key: bool = False,
        port: int | None = None,
    ) -> None:
        self.api_key = api_key  # create an API key for the bench user (fixtures["api_key"])
        self.threads = threads
        self.hooked = hooked
        self.root = root  # another checkout (an older commit) to compare against
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.port = port or free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
        self.stamps = self.data_dir / "delta-stamps.tsv"
        self.log_path = self.data_dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.fixtures: dict = {}
        self.command: list[str] = []

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATA_DIR=str(self.data_dir),
            OFFLINE_MODEL_DELAY="0",
            DEBUG="false",
            DJANGO_SETTINGS_MODULE="project.settings",
            PYTHONUNBUFFERED="1",
        )
        # The bench owns these: an inherited database, Redis or model would not be "its own".
        for name in ("DATABASE_URL", "REDIS_URL", "DEFAULT_MODEL", "SECRET_KEY", "ALLOWED_HOSTS"):
            env.pop(name, None)
        if self.hooked:
            env["BENCH_DELTA_STAMPS"] = str(self.stamps)
        env.update(self.extra_env)
        return env

    def _run(self, *args: str, timeout: float = 120.0) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def __enter__(self) -> Server:
        try:
            self._run("manage.py", "migrate", "--noinput", "-v0")
            out = self._run("-m", "bench.fixtures", "--threads", str(self.threads))
            self.fixtures = json.loads(out.strip().splitlines()[-1])
            if self.api_key:
                self.fixtures["api_key"] = self._run("manage.py", "createapikey", self.fixtures["username"]).strip()
            entry = ["-m", "bench.hooked_serve"] if self.hooked else ["manage.py"]
            self.command = [sys.executable, *entry, "serve", "--host", HOST, "--port", str(self.port)]
            log = open(self.log_path, "wb")  # noqa: SIM115
            self.proc = subprocess.Popen(
                self.command, cwd=self.root, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
            log.close()
            self._wait_listening()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not listen within {self.startup_timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            stop_processes([self.proc], timeout=10)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def listens(port: int) -> bool:
    """Something accepts connections on ``port`` (a server that has come up)."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_processes(procs: list[subprocess.Popen], timeout: float) -> None:
    """SIGINT to every one still running (Daphne and the workers stop cleanly on it), then
    up to ``timeout`` seconds each before it is killed."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
