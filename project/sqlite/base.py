"""SQLite with one in-process queue for writers.

SQLite lets one writer at a time hold its lock; the others wait in its busy handler, which
sleeps and polls (1, 2, 5 … 100 ms). With a few hundred runs and requests writing at once
in one process, they woke late and in no order: a 200-run burst spent a fifth of its time
asleep in ``BEGIN IMMEDIATE`` (see docs/benchmarks.md). Here writers of this process queue
on a lock instead and each is woken the moment the previous one commits. Readers never
take it (WAL lets them read alongside the writer). Other processes (a management command)
still meet SQLite's own busy timeout.
"""

from __future__ import annotations

import threading

from django.db.backends.sqlite3 import base

# Re-entrant: a write statement inside a transaction already holds it.
_write_lock = threading.RLock()
READS = ("SELECT", "PRAGMA")


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

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_write_lock()
