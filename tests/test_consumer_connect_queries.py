"""What a thread page's socket reads when it opens: who is signed in, the thread, and the
run panel's rows (the snapshot). At 200 pages opening at once each of these queries queues
on the one database thread the sockets share."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.consumers import ThreadConsumer, on_database_thread
from tests.test_consumers import open_tab

pytestmark = [pytest.mark.django_db(transaction=True)]


def capture_open(monkeypatch) -> list[list[str]]:
    """The SQL of each socket's connect trip."""
    captured_sql, trip = [], ThreadConsumer.__dict__["_open"].func.__wrapped__

    def counted(consumer, thread_id):
        with CaptureQueriesContext(connection) as captured:
            snapshot = trip(consumer, thread_id)
        captured_sql.append([q["sql"] for q in captured.captured_queries])
        return snapshot

    monkeypatch.setattr(ThreadConsumer, "_open", on_database_thread(counted))
    return captured_sql


async def test_a_pages_socket_reads_the_user_the_thread_and_its_latest_run(monkeypatch, alice, thread):
    """The page's URL says which messages it shows (``?after=``): nothing else is read."""
    opened = capture_open(monkeypatch)
    tab = await open_tab(thread, alice, 0)
    await tab.disconnect()
    tables = [sql.split(" FROM ", 1)[1].split()[0] for sql in opened[0]]
    assert tables == ['"auth_user"', '"chat_thread"', '"chat_run"'], opened


async def test_a_closing_socket_makes_no_trip_to_close_the_database_threads_connection(monkeypatch, alice, thread):
    """Channels closed stale connections as each socket closed: a hop through the one
    database thread the engine shares, ending its connection with CONN_MAX_AGE=0."""
    tab = await open_tab(thread, alice, 0)
    closes = []
    monkeypatch.setattr("channels.db.close_old_connections", lambda **kwargs: closes.append(1))
    await tab.disconnect()
    assert closes == []
