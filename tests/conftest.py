"""Shared fixtures: alice owns things, bob is a stranger, anonymous is anonymous."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections
from django.test import Client

from chat.models import Assistant, Thread

pytest_plugins = ["tests.fake_openai"]

IN_CI = os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> None:
    """A missing service or browser skips on a laptop and fails under CI=true."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing piece is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and before they are dropped, the connection of
    asgiref's shared thread (where the engine and the sockets reach the database) closed
    there: PostgreSQL refuses to drop a database another session still uses."""
    yield
    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def _fast_engine(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # test speed only
    settings.OFFLINE_MODEL_DELAY = 0
    settings.RUN_SAVE_INTERVAL = 0.05
    settings.RUN_SUPERVISOR = False


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password-1")


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def tutor(alice) -> Assistant:
    return Assistant.objects.create(
        owner=alice,
        name="Math Tutor",
        model="offline",
        instructions="You are a personal math tutor. Answer questions briefly, in a sentence or less.",
    )


@pytest.fixture
def thread(alice, tutor) -> Thread:
    return Thread.objects.create(owner=alice, assistant=tutor, title="Algebra")


@pytest.fixture
def http_listener():
    """A real HTTP server on a free port that hands out a JSON Schema to anyone who asks and
    records every request: to prove the app fetched nothing (``.url``, ``.requests``)."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = json.dumps({"type": "string"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.requests = requests
    server.url = f"http://127.0.0.1:{server.server_address[1]}/note.json"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
