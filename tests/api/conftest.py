"""A live server for the SDK tests: a real Daphne process (`manage.py serve`) with its own
DATA_DIR, migrated, seeded with alice and bob (each with a Math Tutor) and one API key
each, the offline model streaming with no delay. The official `openai` SDK talks HTTP to
it with `_strict_response_validation=True`, so every response is checked against the
SDK's own types."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

_FOREIGN_ENV = (
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEFAULT_MODEL", "OPENAI_API_KEY",
    "OPENAI_BASE_URL", "OPENAI_MODELS", "TEST_SQLITE_NAME", "DJANGO_SETTINGS_MODULE",
)


@dataclass
class ApiServer:
    base_url: str
    log_path: Path
    process: subprocess.Popen
    keys: dict[str, str]

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"The API server exited with code {self.process.returncode}.\n{self.log_tail()}", pytrace=False)

    def client(self, user: str = "alice", **kwargs):
        from openai import OpenAI

        kwargs.setdefault("api_key", self.keys[user])
        return OpenAI(
            base_url=self.base_url + "/v1",
            max_retries=0,
            timeout=30,
            _strict_response_validation=True,
            **kwargs,
        )


def _python() -> str:
    venv = BASE_DIR / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
    env.update(DATA_DIR=str(data_dir), OFFLINE_MODEL_DELAY="0", DEBUG="false", ALLOWED_HOSTS="127.0.0.1,localhost", PYTHONUNBUFFERED="1",
               API_RATE_LIMIT="0")  # the SDK polls a lot; the limit has its own test in test_views
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([_python(), "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}", pytrace=False)
    return result.stdout


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("api-server")
    env = _env(data_dir)
    _manage(env, "migrate", "--noinput")
    # One process seeds both users and prints their keys (each manage.py start costs seconds).
    seed = (
        "from django.core.management import call_command\n"
        "for user in ('alice', 'bob'):\n"
        "    call_command('seed_demo', username=user, password=user + '-api-pw-1', stdout=open('/dev/null', 'w'))\n"
        "    call_command('createapikey', user)\n"
    )
    alice_key, bob_key = [word for word in _manage(env, "shell", "-c", seed).split() if word.startswith("sk-tutor-")]
    keys = {"alice": alice_key, "bob": bob_key}
    port = _free_port()
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [_python(), "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = ApiServer(f"http://127.0.0.1:{port}", log_path, process, keys)
    try:
        deadline = time.monotonic() + 30
        while True:
            server.assert_alive()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"The API server did not listen within 30 s.\n{server.log_tail()}")
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def sdk(api_server):
    api_server.assert_alive()
    with api_server.client("alice") as client:
        yield client


@pytest.fixture
def bob_sdk(api_server):
    with api_server.client("bob") as client:
        yield client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        server = item.funcargs.get("api_server") if hasattr(item, "funcargs") else None
        if server is None and hasattr(item, "funcargs"):
            for value in item.funcargs.values():
                if isinstance(value, ApiServer):
                    server = value
        if server is not None:
            report.sections.append(("API server log (tail)", server.log_tail()))
