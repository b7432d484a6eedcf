"""A cluster in subprocesses: web processes (`manage.py serve`) and workers (`manage.py
worker`) on PostgreSQL + Redis with RUN_BACKEND=workers, as `make cluster` runs them.

The database is one of its own beside DATABASE_URL's (the name suffixed `_cluster_<pid>`),
the task queue a Redis list of its own on REDIS_URL, so another
test run on the same servers does not take these tasks. All processes share one DATA_DIR
(one secret key: a session cookie from one web process is good on the other).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.live_server import BASE_DIR, free_port, manage, python, server_env

# scripts/test-services runs these with its PostgreSQL and Redis (DATABASE_URL, REDIS_URL).
_database_url = os.environ.get("DATABASE_URL", "")
PG_URL = os.environ.get("TEST_POSTGRES_URL") or (
    _database_url if _database_url.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/assistants"
)
REDIS_URL = os.environ.get("REDIS_URL", "")
# This machine is shared and slow to start Python processes: generous, never a timing assertion.
START_TIMEOUT = 120


@dataclass
class Process:
    name: str
    process: subprocess.Popen
    log_path: Path
    port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> None:
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Cluster:
    data_dir: Path
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    session: str = ""  # alice's session key
    web_a: Process | None = None
    web_b: Process | None = None

    def _spawn(self, name: str, *args: str, port: int | None = None) -> Process:
        log_path = self.data_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                [python(), "manage.py", *args], cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log_path, port)
        self.processes.append(process)
        return process

    def web(self, name: str) -> Process:
        port = free_port()
        process = self._spawn(name, "serve", "--host", "127.0.0.1", "--port", str(port), port=port)
        self._wait_for(process, lambda: _listens(port), "listen")
        return process

    def worker(self, name: str) -> Process:
        process = self._spawn(name, "worker")
        self._wait_for(process, lambda: "runs at once" in process.log_path.read_text(errors="replace"), "start")
        return process

    def _wait_for(self, process: Process, ready, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if not process.alive():
                pytest.fail(f"{process.name} exited ({process.process.returncode}):\n{process.log()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"{process.name} did not {what} within {START_TIMEOUT} s:\n{process.log()}", pytrace=False)
            time.sleep(0.1)

    def client(self, web: Process, user: str = "alice"):
        from openai import OpenAI

        return OpenAI(base_url=web.base_url + "/v1", api_key=self.keys[user], max_retries=0, timeout=60)

    def logs(self) -> str:
        return "\n\n".join(f"--- {p.name}\n{p.log()}" for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.stop(signal.SIGINT if process.alive() else signal.SIGTERM)


def _listens(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _services() -> tuple[object, str, str]:
    import psycopg
    import redis

    if not REDIS_URL:  # the main run has no Redis on purpose
        pytest.skip("needs REDIS_URL and PostgreSQL: scripts/test-services runs the cluster tests")

    base, _, name = PG_URL.rpartition("/")
    try:
        admin = psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL at {base} is not reachable: {exc}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        admin.close()
        skip_or_fail(f"Redis at {REDIS_URL} is not reachable: {exc}")
    return admin, base, name


SESSION = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
user = get_user_model().objects.get(username='alice')
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY], session[HASH_SESSION_KEY] = str(user.pk), user.get_session_auth_hash()
session[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'
session.create()
print('session', session.session_key)
"""

SEED = (
    "from django.core.management import call_command\n"
    "call_command('seed_demo', username='alice', password='alice-api-pw-1', stdout=open('/dev/null', 'w'))\n"
    "call_command('createapikey', 'alice')\n"
)


@contextlib.contextmanager
def running_cluster(data_dir: Path, database_url: str, *, webs: int = 2, **settings: str):
    """Migrate and seed ``database_url``, then start one worker and ``webs`` web processes
    (``web_a``, ``web_b``) with the cluster settings below, overridden by ``settings``."""
    env = server_env(
        data_dir,
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        RUN_BACKEND="workers",
        TASK_QUEUE=f"assistants:test-cluster:{os.getpid()}:{data_dir.name}",
        DATABASE_POOL_SIZE="5",
        OFFLINE_MODEL_DELAY="0.3",
        RUN_HEARTBEAT_TIMEOUT="10",
        WORKER_DRAIN_TIMEOUT="5",
        CODE_INTERPRETER_POOL_SIZE="0",
        API_RATE_LIMIT="0",
        API_READ_RATE_LIMIT="0",
    )
    env.update(settings)
    cluster = Cluster(data_dir, env)
    try:
        manage(env, "migrate", "--noinput")
        cluster.keys["alice"] = next(w for w in manage(env, "shell", "-c", SEED).split() if w.startswith("sk-tutor-"))
        cluster.session = manage(env, "shell", "-c", SESSION).split()[-1]
        cluster.worker("worker-1")
        cluster.web_a = cluster.web("web-a")
        if webs > 1:
            cluster.web_b = cluster.web("web-b")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two web processes and one worker; the slow offline model (runs last seconds)."""
    admin, base, name = _services()
    database = f"{name}_cluster_{os.getpid()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
        try:
            with running_cluster(tmp_path_factory.mktemp("cluster"), f"{base}/{database}") as cluster:
                yield cluster
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed cluster test shows the processes' logs (their tmp dirs may be gone by then)."""
    report = yield
    cluster = getattr(item, "funcargs", {}).get("cluster")
    if report.failed and isinstance(cluster, Cluster):
        report.sections.append(("cluster logs", cluster.logs()))
    return report
