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
