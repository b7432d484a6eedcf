"""chat.prepared: a fixed-shape read compiled once gives what its queryset gives."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from chat.models import Run, RunStep, Thread
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
