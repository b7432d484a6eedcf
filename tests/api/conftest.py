"""A live server for the SDK tests: a real Daphne process (`manage.py serve`) with its own
DATA_DIR, migrated, seeded with alice and bob (each with a Math Tutor) and one API key
each, the offline model streaming with no delay. The official `openai` SDK talks HTTP to
it with `_strict_response_validation=True`, so every response is checked against the
SDK's own types."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.live_server import LiveServer, manage, server_env


@dataclass
class ApiServer(LiveServer):
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, user: str = "alice", **kwargs):
        from openai import OpenAI

        kwargs.setdefault("api_key", self.keys[user])
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 30)
        return OpenAI(
            base_url=self.base_url + "/v1",
            _strict_response_validation=True,
            **kwargs,
        )


def start_api_server(name: str, data_dir, **settings: str) -> ApiServer:
    """A migrated server with alice and bob, each with a Math Tutor and one API key."""
    env = server_env(data_dir, **settings)
    manage(env, "migrate", "--noinput")
    # One process seeds both users and prints their keys (each manage.py start costs seconds).
    seed = (
        "from django.core.management import call_command\n"
        "for user in ('alice', 'bob'):\n"
        "    call_command('seed_demo', username=user, password=user + '-api-pw-1', stdout=open('/dev/null', 'w'))\n"
        "    call_command('createapikey', user)\n"
    )
    alice_key, bob_key = [word for word in manage(env, "shell", "-c", seed).split() if word.startswith("sk-tutor-")]
    return ApiServer.start(name, data_dir, env, keys={"alice": alice_key, "bob": bob_key})


@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    # The SDK polls a lot; the rate limit has its own tests in test_views and tests/security.
    server = start_api_server(
        "API", tmp_path_factory.mktemp("api-server"), OFFLINE_MODEL_DELAY="0", API_RATE_LIMIT="0"
    )
    try:
        yield server
    finally:
        server.stop()


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
