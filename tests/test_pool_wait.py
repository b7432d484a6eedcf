"""A request waits for a pooled PostgreSQL connection while the pool hands connections to
others, and gives up (PoolTimeout, answered 503 by chat/busy.py) only when none was handed
out for the pool's timeout, or after DATABASE_POOL_MAX_WAIT in all.

The pool here is never opened: psycopg_pool's getconn() is replaced by a script of what the
queue did during each wait of the pool's timeout."""

from __future__ import annotations

import pytest
from django.db.backends.postgresql import base as django_postgresql
from django.db.utils import ConnectionHandler
from psycopg_pool import PoolTimeout

from project.postgresql import base


@pytest.fixture
def pooled():
    # An alias of its own: pools are shared per alias, and the suite may run on PostgreSQL.
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.dummy"}, "pooled": {
        "ENGINE": "project.postgresql", "NAME": "nowhere", "HOST": "127.0.0.1",
        "OPTIONS": {"pool": {"min_size": 1, "max_size": 1, "timeout": 15}},
    }})
    yield handler["pooled"]
    handler["pooled"].close_pool()


class Clock:
    now = 1000.0

    def monotonic(self) -> float:
        return self.now


def script(monkeypatch, waits: list[str], clock: Clock | None = None) -> list[str]:
    """Each getconn() of the pool plays the next of ``waits``: "served" hands this request a
    connection; "others" times out after the pool's timeout while other requests got one;
    "stuck" times out with nobody served."""
    played: list[str] = []
    clock = clock or Clock()
    monkeypatch.setattr(base.time, "monotonic", clock.monotonic)

    def getconn(self, conn_params):
        what = waits[len(played)]
        played.append(what)
        if what == "served":
            return "a connection"
        clock.now += 15
        if what == "others":
            base._count_handed_out()
        raise PoolTimeout("couldn't get a connection after 15.00 sec")

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "get_new_connection", getconn)
    return played


def test_a_request_waits_on_while_the_queue_moves(monkeypatch, pooled, settings):
    settings.DATABASE_POOL_MAX_WAIT = 60
    played = script(monkeypatch, ["others", "others", "others", "served"])
    assert pooled.get_new_connection({}) == "a connection"
    assert played == ["others", "others", "others", "served"]


def test_a_request_gives_up_when_nobody_was_served_for_the_timeout(monkeypatch, pooled, settings):
    settings.DATABASE_POOL_MAX_WAIT = 60
    played = script(monkeypatch, ["others", "stuck", "served"])
    with pytest.raises(PoolTimeout):
        pooled.get_new_connection({})
    assert played == ["others", "stuck"]


def test_a_request_gives_up_after_the_longest_wait_however_the_queue_moves(monkeypatch, pooled, settings):
    settings.DATABASE_POOL_MAX_WAIT = 40
    played = script(monkeypatch, ["others"] * 5 + ["served"])
    with pytest.raises(PoolTimeout):
        pooled.get_new_connection({})
    assert played == ["others"] * 3  # 45 s waited: past 40
