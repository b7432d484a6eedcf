"""SQLite with one in-process queue for writers.

SQLite lets one writer at a time hold its lock; the others wait in its busy handler, which
sleeps and polls (1, 2, 5 … 100 ms). With a few hundred runs and requests writing at once
in one process, they woke late and in no order: a 200-run burst spent a fifth of its time
asleep in ``BEGIN IMMEDIATE`` (see docs/benchmarks.md). Here writers of this process queue
on a lock instead and each is woken the moment the previous one commits. Readers never
take it (WAL lets them read alongside the writer). Other processes (a management command)
still meet SQLite's own busy timeout.

Connections are kept for the next thread. Under ASGI every request's database work runs
on a thread of its own, so each request opened a connection (Django registers its SQL
functions and runs the PRAGMAs on every one) and read the schema again on its first query:
a tenth of the busy time at 200 streaming runs (docs/benchmarks.md, eighth pass). A closed
connection outside a transaction now goes to a short list of idle ones for its file, and
the next thread to connect takes it; Django sets its autocommit state on connect as for a
new one. A connection in a transaction, or that saw an error, is closed as before.
"""

from __future__ import annotations

import os
import threading

from django.db.backends.sqlite3 import base

from project.request_threads import KEPT

# Re-entrant: a write statement inside a transaction already holds it.
_write_lock = threading.RLock()
READS = ("SELECT", "PRAGMA")
# Idle connections kept per database file: as many as the kept request threads hold at
# once. A burst of requests each holds one until it ends (most wait for the write lock
# meanwhile); at 32 kept, each burst of 200 browser posts opened ~85 anew, 6 % of the
# server's samples in a 200-run profile (docs/benchmarks.md, sixteenth pass). The burst
# had them all open at its peak: keeping them costs no more than that peak did.
IDLE_CONNECTIONS = KEPT


class _IdleConnections:
    """Open connections no thread is using, per database file (its path and inode: a file
    deleted and made again, as a test database is, is another database)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple, list] = {}

    def take(self, key: tuple):
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give(self, key: tuple, connection) -> bool:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) >= IDLE_CONNECTIONS:
                return False
            idle.append(connection)
            return True


_idle = _IdleConnections()


def _acquire(timeout: float) -> None:
    if not _write_lock.acquire(timeout=timeout):
        raise base.Database.OperationalError("database is locked")


class CursorWrapper(base.SQLiteCursorWrapper):
    timeout = 20.0

    def execute(self, query, params=None):
        if query.lstrip()[:6].upper() in READS:
            return super().execute(query, params)
        _acquire(self.timeout)
        try:
            return super().execute(query, params)
        finally:
            _write_lock.release()

    def executemany(self, query, param_list):
        _acquire(self.timeout)
        try:
            return super().executemany(query, param_list)
        finally:
            _write_lock.release()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def get_connection_params(self):
        params = super().get_connection_params()
        self.lock_timeout = float(params.get("timeout", 5.0))
        return params

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=CursorWrapper)
        cursor.timeout = getattr(self, "lock_timeout", 5.0)
        return cursor

    def _start_transaction_under_autocommit(self):
        _acquire(getattr(self, "lock_timeout", 5.0))
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            _write_lock.release()
            raise
        self._holds_write_lock = True

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            _write_lock.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_write_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_write_lock()

    def _file_key(self) -> tuple | None:
        if self.is_in_memory_db():
            return None
        name = str(self.settings_dict["NAME"])
        try:
            found = os.stat(name)
        except OSError:
            return None
        return (name, found.st_dev, found.st_ino)

    def get_new_connection(self, conn_params):
        # The file this connection reads, as it was when connecting: the key it goes back under.
        self._reuse_key = key = self._file_key()
        kept = _idle.take(key) if key else None
        return kept if kept is not None else super().get_new_connection(conn_params)

    def _close(self):
        try:
            if not self._kept_for_reuse():
                return super()._close()
        finally:
            self._release_write_lock()

    def _kept_for_reuse(self) -> bool:
        connection = self.connection
        if connection is None or self.in_atomic_block or self.errors_occurred or connection.in_transaction:
            return False
        key = getattr(self, "_reuse_key", None)
        return key is not None and _idle.give(key, connection)
