"""Hot fixed-shape reads, compiled once: the query's SQL is kept per shape and each call
runs it with its own values, through Django's own iteration (the same instances, related
objects and annotations as the queryset would give).

Compiling a query (``SQLCompiler.as_sql``) was 17 % of the server's CPU at 200 streaming
runs at once (docs/benchmarks.md, twelfth pass): the same few reads (a thread with its
assistant and class, a thread's active run, a run with its thread, a thread's messages)
compiled again for every request and every run. The queryset stays the one definition of
each read: ``Prepared`` builds it once with placeholder values, finds where each value
lands among the SQL's parameters (refusing a shape where one does not land exactly once,
unchanged), and from then on substitutes the call's values there. A value of another type
than declared, or None (which compiles to ``IS NULL``), goes through the ORM as before.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.query import ModelIterable

# Per declared type, a placeholder (never a real id, key or time, so it lands only where
# passed) and how a value of it becomes a parameter, as the lookup would prepare it.
_KINDS = {
    str: (lambda i: f"\x00prepared-{i}\x00", lambda value, connection: value),
    int: (lambda i: -(2**62) - i, lambda value, connection: value),
    datetime: (
        lambda i: datetime(1, 1, 1, 0, 0, i, tzinfo=UTC),
        lambda value, connection: connection.ops.adapt_datetimefield_value(value),
    ),
}


class _Compiled:
    """A query's SQL and its compiler, set up once (``select``, ``klass_info``, converters)."""

    def __init__(self, queryset: QuerySet, compiler, sql: str, params: tuple, slots: tuple[int, ...]) -> None:
        self.db = queryset.db
        self.model = queryset.model
        self.fetch_mode = queryset._fetch_mode
        self.template = compiler
        self.sql = sql
        self.params = params
        self.slots = slots

    def run(self, values: tuple, kinds: tuple) -> list:
        params = list(self.params)
        connection = connections[self.db]
        for slot, value, kind in zip(self.slots, values, kinds, strict=True):
            params[slot] = _KINDS[kind][1](value, connection)
        return list(ModelIterable(_Call(self, params)))


class _Call:
    """What ``ModelIterable`` reads of a queryset, for one call: its own compiler copy (on
    this thread's connection) whose ``as_sql`` is the kept SQL with the call's values;
    Django's ``execute_sql`` then runs it as for any queryset."""

    _known_related_objects: dict = {}

    def __init__(self, compiled: _Compiled, params: list) -> None:
        self.db = compiled.db
        self.model = compiled.model
        self._fetch_mode = compiled.fetch_mode
        self.query = self  # ModelIterable asks ``queryset.query.get_compiler(using=...)``
        compiler = copy.copy(compiled.template)
        compiler.connection = connections[compiled.db]
        sql = compiled.sql
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        self.compiler = compiler

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        return self.compiler


class Prepared:
    """``Prepared(Thread, build, thread_id=str, owner_id=int)(thread_id=..., owner_id=...)`` is
    ``list(build(thread_id=..., owner_id=...))``, the SQL compiled once per database."""

    def __init__(self, model, build: Callable[..., QuerySet], **types: type) -> None:
        if any(t not in _KINDS for t in types.values()):
            raise TypeError(f"Prepared values are str, int or datetime, not {types}")
        self.model = model
        self.build = build
        self.types = types
        self.compiled: dict[str, _Compiled] = {}
        self.lock = threading.Lock()
        self.compiles = 0  # for tests: once per database, not per call

    def __call__(self, **values) -> list:
        if (
            values.keys() != self.types.keys()
            or any(type(values[k]) is not t for k, t in self.types.items())
            or any(t is datetime and values[k].tzinfo is None for k, t in self.types.items())
        ):
            return list(self.build(**values))  # None, another type, a naive time: the ORM decides
        compiled = self.compiled.get(router.db_for_read(self.model)) or self._compile()
        # Calls may run on many threads at once: each runs its own copy of the compiler.
        return compiled.run(tuple(values[k] for k in self.types), tuple(self.types.values()))

    def _compile(self) -> _Compiled:
        queryset = self.build(**{k: _KINDS[t][0](i) for i, (k, t) in enumerate(self.types.items())})
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        slots = []
        for i, (name, kind) in enumerate(self.types.items()):
            make, prepare = _KINDS[kind]
            placeholder = prepare(make(i), compiler.connection)
            found = [n for n, p in enumerate(params) if type(p) is type(placeholder) and p == placeholder]
            if len(found) != 1:
                raise ValueError(f"{name} must appear once, unchanged, in the query's parameters: {params!r}")
            slots.append(found[0])
        compiled = _Compiled(queryset, compiler, sql, tuple(params), tuple(slots))
        with self.lock:  # two threads compiling at once keep one; both results are the same
            self.compiles += 1
            self.compiled[queryset.db] = compiled
        return compiled
