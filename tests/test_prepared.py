"""chat.prepared: a fixed-shape read compiled once gives what its queryset gives."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from chat.engine import events
from chat.models import Message, Run, RunStep, Thread
from chat.prepared import Prepared

pytestmark = pytest.mark.django_db


def _thread_of():
    return Prepared(
        Thread,
        lambda thread_id, owner_id: Thread.objects.select_related("assistant", "class_link__classroom").filter(
            pk=thread_id, owner_id=owner_id
        ),
        thread_id=str,
        owner_id=int,
    )


def test_rows_and_related_objects_are_the_querysets(alice, bob, thread):
    read = _thread_of()
    [found] = read(thread_id=thread.id, owner_id=alice.pk)
    [expected] = Thread.objects.select_related("assistant", "class_link__classroom").filter(pk=thread.id)
    assert found == expected and found.__dict__.keys() == expected.__dict__.keys()
    assert {k: v for k, v in found.__dict__.items() if k != "_state"} == {
        k: v for k, v in expected.__dict__.items() if k != "_state"
    }
    assert found._state.db == "default" and not found._state.adding
    with CaptureQueriesContext(connection) as queries:
        assert found.assistant.name == thread.assistant.name
        assert not hasattr(found, "class_link")  # read with it, found to be none
    assert len(queries) == 0
    assert read(thread_id=thread.id, owner_id=bob.pk) == []  # another's: nothing
    assert read(thread_id="thread_none", owner_id=alice.pk) == []


def test_compiled_once_and_each_call_runs_its_own_values(alice, bob, tutor, thread):
    other = Thread.objects.create(owner=bob, assistant=tutor)
    read = _thread_of()
    for _ in range(3):
        assert [t.id for t in read(thread_id=thread.id, owner_id=alice.pk)] == [thread.id]
        assert [t.id for t in read(thread_id=other.id, owner_id=bob.pk)] == [other.id]
    assert read.compiles == 1


def test_none_or_another_type_goes_through_the_orm(alice, thread):
    """``owner_id=None`` compiles to IS NULL, not ``= NULL``: never through the kept SQL."""
    read = _thread_of()
    assert read(thread_id=thread.id, owner_id=None) == []
    assert read.compiles == 0
    assert [t.id for t in read(thread_id=thread.id, owner_id=str(alice.pk))] == [
        t.id for t in Thread.objects.filter(pk=thread.id, owner_id=str(alice.pk))
    ]
    assert read.compiles == 0


def test_a_value_the_lookup_changes_is_refused(alice):
    read = Prepared(Thread, lambda title: Thread.objects.filter(title__icontains=title), title=str)
    with pytest.raises(ValueError, match="title must appear once"):
        read(title="x")


def test_times_and_annotations(alice, thread, tutor):
    run = Run.objects.create(thread=thread, assistant=tutor)
    RunStep.objects.create(run=run, type=RunStep.MESSAGE_CREATION, step_details={})
    read = Prepared(
        RunStep,
        lambda thread_id, created_at: (
            RunStep.objects.filter(run__thread_id=thread_id, run__created_at__lte=created_at)
            .annotate(run_created_at=F("run__created_at"))
            .order_by("run__created_at", "run_id", "created_at")
        ),
        thread_id=str,
        created_at=datetime,
    )
    [step] = read(thread_id=thread.id, created_at=run.created_at)
    assert step.run_created_at == run.created_at and step.run_id == run.id
    assert read(thread_id=thread.id, created_at=run.created_at - timedelta(seconds=1)) == []
    assert read.compiles == 1


def _fields(rows) -> list[dict]:
    return [{k: v for k, v in row.__dict__.items() if k != "_state"} for row in rows]


def test_a_readers_rereads_of_a_run_compile_no_select_and_read_what_the_orm_reads(monkeypatch, thread, tutor):
    """SSE streams and run panels re-read a run's rows after a gap or a quiet spell
    (``events.KnownRun.read``): compiling those SELECTs again each time was 3.6 % of the
    server's CPU at 200 streamed runs at once (docs/benchmarks.md, twelfth pass)."""
    from django.db.models.sql.compiler import SQLCompiler

    run = Run.objects.create(thread=thread, assistant=tutor, status="completed")
    other = Run.objects.create(thread=thread, assistant=tutor)
    for of in (run, other, run):
        RunStep.objects.create(run=of, type=RunStep.MESSAGE_CREATION, step_details={"n": of.id})
        Message.objects.create(thread=thread, run=of, role=Message.ASSISTANT, assistant=tutor)
    events.KnownRun(run.id).read()  # compiled here, once per process
    compiled = []
    original = SQLCompiler.as_sql

    def counted(compiler, *args, **kwargs):
        if type(compiler) is SQLCompiler:
            compiled.append(compiler.query.model.__name__)
        return original(compiler, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counted)
    known = events.KnownRun(run.id)
    with CaptureQueriesContext(connection) as queries:
        known.read()
    monkeypatch.undo()
    assert compiled == [] and len(queries) == 3  # were 3 SELECTs compiled, every read
    assert _fields([known.run]) == _fields([Run.objects.get(pk=run.id)])
    assert _fields(known.steps.values()) == _fields(RunStep.objects.filter(run=run).order_by("created_at", "pk"))
    assert _fields(known.messages.values()) == _fields(Message.objects.filter(run=run))
    assert len(known.steps) == len(known.messages) == 2
    with pytest.raises(Run.DoesNotExist):
        events.read_run("run_none")
