"""SQLite connections outlive the thread that opened them (project/sqlite/base.py): under
ASGI each request's database work runs on a new thread, and opening a connection (Django's
functions registered, the PRAGMAs, the schema read again) was a tenth of the server's busy
time at 200 streaming runs. A connection closed outside a transaction goes to the next
thread that connects; one left in a transaction, or that saw an error, is closed."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.db.backends.sqlite3.base import Database

from chat.api.models import ApiKey
from tests.test_request_hops import _request

pytestmark = [pytest.mark.django_db(transaction=True)]


def _in_a_new_thread(work):
    """What ``work`` returns, run on a thread of its own (its own Django connection)."""
    result = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


def _connect_and_close(before_closing=None):
    connection.ensure_connection()
    raw = connection.connection
    if before_closing:
        before_closing()
    connection.close()
    return raw


def _connected():
    connection.ensure_connection()
    return connection.connection


def test_the_next_thread_gets_the_connection_a_thread_closed():
    first = _in_a_new_thread(_connect_and_close)
    assert _in_a_new_thread(_connected) is first


def test_a_connection_left_in_a_transaction_is_closed_not_kept():
    left_open = _in_a_new_thread(lambda: _connect_and_close(lambda: connection.cursor().execute("BEGIN")))
    assert _in_a_new_thread(_connected) is not left_open


def test_a_connection_that_saw_an_error_is_closed_not_kept():
    def fail():
        with pytest.raises(DatabaseError):
            connection.cursor().execute("SELECT * FROM no_such_table")

    failed = _in_a_new_thread(lambda: _connect_and_close(fail))
    assert _in_a_new_thread(_connected) is not failed


async def test_requests_one_after_another_open_one_connection(monkeypatch, settings, alice):
    settings.API_READ_RATE_LIMIT = 0
    _, key = await sync_to_async(ApiKey.issue)(alice)
    opened = []
    connect = Database.connect
    monkeypatch.setattr(Database, "connect", lambda *args, **kwargs: opened.append(1) or connect(*args, **kwargs))
    for _ in range(5):
        status, _ = await _request("GET", "/v1/assistants", b"", [(b"authorization", f"Bearer {key}".encode())])
        assert status == 200
    assert 0 < len(opened) <= 1  # was 5: one per request


def test_a_burst_of_requests_leaves_its_connections_for_the_next_burst(monkeypatch):
    """200 posts at once each hold a connection until they end; the next burst reuses them."""
    from project.sqlite import base as sqlite_base

    monkeypatch.setattr(sqlite_base, "_idle", sqlite_base._IdleConnections())
    burst = 64

    def hold_connections_at_once() -> int:
        opened, all_open, done = [], threading.Barrier(burst), []
        connect = Database.connect

        def counted(*args, **kwargs):
            opened.append(1)
            return connect(*args, **kwargs)

        monkeypatch.setattr(Database, "connect", counted)

        def work():
            connection.ensure_connection()
            all_open.wait(timeout=30)
            connection.close()
            done.append(1)

        threads = [threading.Thread(target=work) for _ in range(burst)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        monkeypatch.setattr(Database, "connect", connect)
        assert len(done) == burst
        return len(opened)

    assert hold_connections_at_once() == burst
    assert hold_connections_at_once() == 0  # were 32: the burst beyond the kept ones opened anew
