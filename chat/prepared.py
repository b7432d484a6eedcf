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

The engine's fixed-shape writes are compiled once too (``PreparedUpdate``, ``PreparedSaves``):
an answer's message and step INSERTed and their ends and the run's end UPDATEd, compiled again
for every run (with the filters each UPDATE built), were 17–18 % of the server's busy
samples at 200 streaming runs, about 7 of them building and compiling SQL
(docs/benchmarks.md, sixteenth pass). The SQL is kept per shape (database,
columns); each call's values are prepared as the compiler prepares them
(``get_db_prep_save``), and Django's own ``execute_sql`` runs it. A value the compiler would
turn into SQL of its own (an expression, a model instance, a database default) goes through
the ORM.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from django.core.exceptions import EmptyResultSet
from django.db import connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable
from django.db.models.sql import InsertQuery, UpdateQuery
from django.db.models.sql.constants import ROW_COUNT

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
        if not _typed(values, self.types):
            return list(self.build(**values))  # None, another type, a naive time: the ORM decides
        compiled = self.compiled.get(router.db_for_read(self.model)) or self._compile()
        # Calls may run on many threads at once: each runs its own copy of the compiler.
        return compiled.run(tuple(values[k] for k in self.types), tuple(self.types.values()))

    def _compile(self) -> _Compiled:
        queryset = self.build(**_placeholders(self.types))
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        slots = _slots(self.types, params, compiler.connection)
        compiled = _Compiled(queryset, compiler, sql, tuple(params), slots)
        with self.lock:  # two threads compiling at once keep one; both results are the same
            self.compiles += 1
            self.compiled[queryset.db] = compiled
        return compiled


def _typed(values: dict, types: dict[str, type]) -> bool:
    """Whether ``values`` are exactly the declared ones, each of its type (a time, aware)."""
    return (
        values.keys() == types.keys()
        and all(type(values[k]) is t for k, t in types.items())
        and not any(t is datetime and values[k].tzinfo is None for k, t in types.items())
    )


def _placeholders(types: dict[str, type]) -> dict:
    return {k: _KINDS[t][0](i) for i, (k, t) in enumerate(types.items())}


def _slots(types: dict[str, type], params, connection, start: int = 0) -> tuple[int, ...]:
    """Where each placeholder landed among ``params`` (from ``start``): once, unchanged."""
    slots = []
    for i, (name, kind) in enumerate(types.items()):
        make, prepare = _KINDS[kind]
        placeholder = prepare(make(i), connection)
        found = [n for n, p in enumerate(params) if n >= start and type(p) is type(placeholder) and p == placeholder]
        if len(found) != 1:
            raise ValueError(f"{name} must appear once, unchanged, in the query's parameters: {params!r}")
        slots.append(found[0])
    return tuple(slots)


def _compiles_itself(value) -> bool:
    """A value the compiler turns into SQL of its own, not one parameter (``F()``, a model
    instance, a database default): its write is not the kept SQL's shape."""
    return hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save") or hasattr(value, "as_sql")


def _plain_columns(fields) -> bool:
    """Columns whose value is always one ``%s`` parameter (no field-made placeholder SQL,
    no database default)."""
    return not any(getattr(f, "get_placeholder_sql", None) is not None or f.has_db_default() for f in fields)


class _CompiledUpdate:
    """An UPDATE's SQL and compiler: its first ``len(fields)`` parameters are the SET values,
    in order; ``slots`` are where the keys go."""

    def __init__(self, compiler, sql: str, params: tuple, fields: tuple, slots: tuple[int, ...]) -> None:
        self.template, self.sql, self.params, self.fields, self.slots = compiler, sql, params, fields, slots

    def params_for(self, connection, values: tuple, keys: tuple, kinds: tuple) -> list | None:
        """The statement's parameters for these values and keys; None for a value that
        compiles to SQL of its own (a JSON null as Value(None)): the ORM's."""
        params = list(self.params)
        for n, (field, value) in enumerate(zip(self.fields, values, strict=True)):
            prepared = field.get_db_prep_save(value, connection=connection)
            if hasattr(prepared, "as_sql"):
                return None
            params[n] = prepared
        for slot, value, kind in zip(self.slots, keys, kinds, strict=True):
            params[slot] = _KINDS[kind][1](value, connection)
        return params

    def run(self, db: str, values: tuple, keys: tuple, kinds: tuple) -> int | None:
        connection = connections[db]
        params = self.params_for(connection, values, keys, kinds)
        if params is None:
            return None
        compiler = copy.copy(self.template)  # one per call: calls run on many threads at once
        compiler.connection = connection
        sql = self.sql
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        # As QuerySet.update() runs it.
        with transaction.mark_for_rollback_on_error(using=db):
            return compiler.execute_sql(ROW_COUNT)


class PreparedUpdate:
    """``PreparedUpdate(Run, lambda run_id: Run.objects.filter(pk=run_id), run_id=str)(values,
    run_id=...)`` is ``build(run_id=...).update(**values)``, its SQL compiled once per database
    and set of columns. An argument of ``build`` without a declared type is part of the shape
    (compiled once per value: it must be hashable, and should take few values)."""

    def __init__(self, model, build: Callable[..., QuerySet], **types: type) -> None:
        if any(t not in _KINDS for t in types.values()):
            raise TypeError(f"PreparedUpdate keys are str, int or datetime, not {types}")
        self.model = model
        self.build = build
        self.types = types
        self.compiled: dict[tuple, _CompiledUpdate | None] = {}  # None: the ORM's (matches nothing)
        self.lock = threading.Lock()
        self.compiles = 0  # for tests: once per database and shape, not per call

    def __call__(self, values: dict, *, using: str | None = None, **arguments) -> int:
        db = using or router.db_for_write(self.model)
        compiled, keys = self._kept(db, values, arguments)
        if compiled is not None:
            rows = compiled.run(db, tuple(values.values()), keys, tuple(self.types.values()))
            if rows is not None:
                return rows
        return self.build(**arguments).using(db).update(**values)

    def many(self, calls: list[tuple[dict, dict]], *, using: str | None = None) -> None:
        """Each ``(values, arguments)`` of ``calls`` as ``self(values, **arguments)``, in one
        transaction: the calls of one kept shape as one ``executemany`` of its SQL (what
        ``bulk_update`` does with a ``CASE WHEN`` per row, built and compiled anew every
        time), any other through ``self``. Row counts are not returned."""
        db = using or router.db_for_write(self.model)
        connection = connections[db]
        kinds = tuple(self.types.values())
        batches: dict[_CompiledUpdate, list[list]] = {}
        others = []
        for values, arguments in calls:
            compiled, keys = self._kept(db, values, arguments)
            params = None if compiled is None else compiled.params_for(connection, tuple(values.values()), keys, kinds)
            if params is None:
                others.append((values, arguments))
            else:
                batches.setdefault(compiled, []).append(params)
        with transaction.atomic(using=db, savepoint=False):
            for compiled, rows in batches.items():
                with connection.cursor() as cursor:
                    cursor.executemany(compiled.sql, rows)
            for values, arguments in others:
                self(values, using=db, **arguments)

    def _kept(self, db: str, values: dict, arguments: dict) -> tuple[_CompiledUpdate | None, tuple]:
        """The kept statement for this call's shape (compiled on first use) and its keys;
        None when the call goes through the ORM."""
        keys = {k: v for k, v in arguments.items() if k in self.types}
        if not values or not _typed(keys, self.types) or any(_compiles_itself(v) for v in values.values()):
            return None, ()
        shape = {k: v for k, v in arguments.items() if k not in self.types}
        key = (db, tuple(values), tuple(sorted(shape.items())))
        compiled = self.compiled[key] if key in self.compiled else self._compile(key, db, values, shape)
        return compiled, tuple(keys[k] for k in self.types)

    def _compile(self, key: tuple, db: str, values: dict, shape: dict) -> _CompiledUpdate | None:
        queryset = self.build(**_placeholders(self.types), **shape).using(db)
        if queryset.query.order_by or queryset.query.annotations or queryset.query.is_sliced:
            raise ValueError("PreparedUpdate takes a plain filter: no ordering, annotations or slice")
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(values)
        query.clear_select_clause()
        fields = tuple(field for field, _, _ in query.values)
        if query.related_updates or len(fields) != len(values) or not _plain_columns(fields):
            raise ValueError(f"PreparedUpdate writes plain columns of {self.model.__name__} only: {list(values)}")
        compiler = query.get_compiler(db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # a filter that matches nothing (``status__in=[]``): no SQL to keep
            compiled = None
        else:
            slots = _slots(self.types, params, compiler.connection, start=len(fields))
            compiled = _CompiledUpdate(compiler, sql, tuple(params), fields, slots)
        with self.lock:
            self.compiles += 1
            self.compiled[key] = compiled
        return compiled


class PreparedSaves:
    """``Model.objects.create(**fields)`` and ``row.save(update_fields=...)`` for one model,
    with their INSERT's and UPDATE's SQL compiled once per database and columns. Django's
    ``save()`` runs as ever (defaults, ``pre_save``/``post_save``, the instance's state):
    only its table write, ``Model._do_insert`` / ``_do_update``, is this class's for that one
    save (set on the instance, removed after), and hands back to Django's for any shape it
    does not keep (a value that compiles to SQL of its own, columns read back)."""

    def __init__(self, model) -> None:
        self.model = model
        self.inserts: dict[tuple, str | None] = {}  # (db, columns) -> SQL, None: the ORM's
        self.by_pk = PreparedUpdate(model, lambda pk: model._base_manager.filter(pk=pk), pk=str)
        self.lock = threading.Lock()
        self.compiles = 0  # INSERTs compiled, for tests

    def create(self, **fields) -> Model:
        row = self.model(**fields)
        # As the manager's create() saves it.
        return self._save(row, "_do_insert", self._insert, force_insert=True, using=router.db_for_write(self.model))

    def save(self, row: Model, update_fields: list[str]) -> None:
        self._save(row, "_do_update", self._update, update_fields=update_fields)

    def _save(self, row: Model, method: str, write: Callable, **options) -> Model:
        setattr(row, method, functools.partial(write, row))
        try:
            row.save(**options)
        finally:
            delattr(row, method)
        return row

    def _insert(self, row, manager, using, fields, returning_fields, raw):
        if returning_fields or raw:
            return Model._do_insert(row, manager, using, fields, returning_fields, raw)
        query = InsertQuery(self.model)
        query.insert_values(fields, [row], raw=raw)
        compiler = query.get_compiler(using=using)
        key = (using, tuple(fields))
        if key not in self.inserts:
            self._compile_insert(key, compiler, fields)
        sql = self.inserts[key]
        values = tuple(compiler.prepare_value(f, compiler.pre_save_val(f, row)) for f in fields)
        if sql is not None and not any(hasattr(v, "as_sql") for v in values):
            compiler.as_sql = lambda: [(sql, values)]
        return compiler.execute_sql(returning_fields)  # else Django's as_sql, unchanged

    def _compile_insert(self, key: tuple, compiler, fields) -> None:
        statements = type(compiler).as_sql(copy.copy(compiler))
        kept = None
        if _plain_columns(fields) and len(statements) == 1 and len(statements[0][1]) == len(fields):
            kept = statements[0][0]
        with self.lock:
            self.compiles += 1
            self.inserts[key] = kept

    def _update(self, row, base_qs, using, pk_val, values, update_fields, forced_update, returning_fields):
        if returning_fields or not values or self.model._meta.select_on_save or base_qs.query.where:
            return Model._do_update(row, base_qs, using, pk_val, values, update_fields, forced_update, returning_fields)
        rows = self.by_pk({field.name: value for field, _, value in values}, using=using, pk=pk_val)
        return [()] * rows  # as QuerySet._update() with no columns to read back
