"""PostgreSQL as Django ships it, except how long a request waits for a pooled connection.

psycopg_pool gives up on a request after the pool's timeout (DATABASE_POOL_TIMEOUT) however
the queue moves. A class posting at once queues hundreds of requests per process behind its
DATABASE_POOL_SIZE connections; each request holds one for all its work, so the last ones
waited longer than the timeout while the pool was handing connections out the whole time,
and got 503 (106 of 500 browser posts on the 2-core cluster, docs/benchmarks.md). Here a
request waits on while the pool serves others: it gives up (503, chat/busy.py) only when no
connection was handed out in this process for DATABASE_POOL_TIMEOUT, or after
DATABASE_POOL_MAX_WAIT in all — a stuck or overloaded database, not a queue.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg_pool import PoolTimeout

_lock = threading.Lock()
_handed_out = 0  # connections this process's pool has handed out so far


def handed_out() -> int:
    return _handed_out


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        if self.pool is None:
            return super().get_new_connection(conn_params)
        give_up = time.monotonic() + settings.DATABASE_POOL_MAX_WAIT
        while True:
            seen = handed_out()
            try:
                connection = super().get_new_connection(conn_params)
            except PoolTimeout:
                # Nothing handed out while we waited (a stuck or overloaded database), or
                # waiting that long already: busy (503). Otherwise the queue moves: wait on.
                if handed_out() == seen or time.monotonic() >= give_up:
                    raise
                continue
            _count_handed_out()
            return connection


def _count_handed_out() -> None:
    global _handed_out
    with _lock:
        _handed_out += 1
