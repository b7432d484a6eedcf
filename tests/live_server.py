"""A real ``manage.py serve`` (Daphne) in a subprocess, for tests that talk to the app
over real HTTP and WebSockets: the browser tests and the openai SDK tests.

Each server has its own DATA_DIR (its own SQLite file and secret key) and an environment
stripped of anything that would point it at another database, Redis or model.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]

FOREIGN_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEFAULT_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODELS",
    "TEST_SQLITE_NAME",
    "DJANGO_SETTINGS_MODULE",
)


def python() -> str:
    venv = BASE_DIR / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env.update(
        DATA_DIR=str(data_dir), DEBUG="false", ALLOWED_HOSTS="127.0.0.1,localhost", PYTHONUNBUFFERED="1", **settings
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command against the server's DATA_DIR; fail the test if it fails."""
    result = subprocess.run(
        [python(), "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result.stdout


@dataclass
class LiveServer:
    name: str
    base_url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen

    @classmethod
    def start(cls, name: str, data_dir: Path, env: dict[str, str], timeout: float = 30, **extra):
        """Launch ``manage.py serve`` on a free port and return once it accepts connections."""
        port = free_port()
        log_path = data_dir / "server.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [python(), "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C on pytest does not reach it; we stop it ourselves
            )
        server = cls(name, f"http://127.0.0.1:{port}", data_dir, log_path, process, **extra)
        try:
            server._wait_until_listening(port, timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_until_listening(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.assert_alive()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"The {self.name} server did not listen on port {port} within {timeout} s.\n{self.log_tail()}")
                time.sleep(0.05)

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(
                f"The {self.name} server exited with code {self.process.returncode}.\n{self.log_tail()}", pytrace=False
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
