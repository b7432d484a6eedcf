"""chat.prepared's writes: the engine's fixed-shape INSERTs and UPDATEs, compiled once, write
exactly the rows the ORM writes (run again on PostgreSQL by scripts/test-services)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import post_save, pre_save
from django.db.models.sql.compiler import SQLInsertCompiler, SQLUpdateCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.engine import executor, states
from chat.models import Message, Run, RunStep, Thread
from chat.prepared import PreparedSaves, PreparedUpdate
from chat.services.messages import post_message

pytestmark = pytest.mark.django_db(transaction=True)


def _row(model, pk) -> dict:
    return model.objects.filter(pk=pk).values().get()


def _same_but_id(model, a, b, apart=()) -> None:
    """Rows ``a`` and ``b`` alike but for their ids (and ``apart``, set apart by the test)."""
    first, second = _row(model, a), _row(model, b)
    for name in ("id", *apart):
        first.pop(name), second.pop(name)
    assert first == second


@pytest.fixture
def run(thread, tutor) -> Run:
    return Run.objects.create(thread=thread, assistant=tutor, model=tutor.model)


@pytest.fixture
def signals():
    heard = []

    def pre(sender, instance, **kwargs):
        heard.append(("pre_save", sender.__name__, kwargs["update_fields"]))

    def post(sender, instance, **kwargs):
        heard.append(("post_save", sender.__name__, kwargs["created"], kwargs["update_fields"], instance._state.adding))

    pre_save.connect(pre, dispatch_uid="test-prepared-pre")
    post_save.connect(post, dispatch_uid="test-prepared-post")
    yield heard
    pre_save.disconnect(dispatch_uid="test-prepared-pre")
    post_save.disconnect(dispatch_uid="test-prepared-post")


NOW = timezone.now()


def _answer_fields(run, **more) -> dict:
    return {
        "thread_id": run.thread_id,
        "role": Message.ASSISTANT,
        "content": Message.text_content("x = 1"),
        "status": Message.IN_PROGRESS,
        "assistant_id": run.assistant_id,
        "run": run,
        "created_at": NOW,
        "seq": 7,
        **more,
    }


def test_create_inserts_the_row_and_sends_the_signals_the_managers_create_does(run, signals):
    saves = PreparedSaves(Message)
    by_orm = Message.objects.create(**_answer_fields(run))
    orm_signals, signals[:] = list(signals), []
    for _ in range(3):
        kept = saves.create(**_answer_fields(run))
        _same_but_id(Message, by_orm.pk, kept.pk)
        assert signals == orm_signals and not kept._state.adding and kept._state.db == "default"
        assert "_do_insert" not in kept.__dict__  # Django's own again for any later save
        signals[:] = []
    assert saves.compiles == 1
    # None and JSON in the kept INSERT: the same row as the ORM's.
    for fields in ({"incomplete_details": None, "metadata": {"a": [1, None]}}, {"assistant_id": None}):
        _same_but_id(
            Message,
            Message.objects.create(**_answer_fields(run, **fields)).pk,
            saves.create(**_answer_fields(run, **fields)).pk,
        )
    assert saves.compiles == 1


def test_create_compiles_no_insert_after_the_first(monkeypatch, run):
    saves = PreparedSaves(RunStep)
    saves.create(run=run, type=RunStep.MESSAGE_CREATION, step_details={})
    compiled = []
    original = SQLInsertCompiler.as_sql
    monkeypatch.setattr(SQLInsertCompiler, "as_sql", lambda self: compiled.append(1) or original(self))
    with CaptureQueriesContext(connection) as queries:
        step = saves.create(
            run=run, type=RunStep.MESSAGE_CREATION, step_details={"message_creation": {"message_id": "m"}}
        )
    assert compiled == [] and len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
    assert RunStep.objects.get(pk=step.pk).step_details == {"message_creation": {"message_id": "m"}}


def test_an_insert_whose_value_is_an_expression_goes_through_the_orm(run):
    saves = PreparedSaves(Message)
    saves.create(**_answer_fields(run))
    from django.db.models import Value

    message = saves.create(**_answer_fields(run, seq=Value(41) + Value(1)))
    assert _row(Message, message.pk)["seq"] == 42 and saves.compiles == 1


def test_save_updates_the_columns_and_sends_the_signals_save_does(run, signals):
    saves = PreparedSaves(RunStep)
    by_orm, kept = (RunStep.objects.create(run=run, type=RunStep.MESSAGE_CREATION, step_details={}) for _ in range(2))
    now = timezone.now()
    for usage in ({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}, None):
        signals[:] = []
        for step in (by_orm, kept):
            step.status, step.usage, step.completed_at = RunStep.COMPLETED, usage, now
        by_orm.save(update_fields=["status", "usage", "completed_at"])
        orm_signals, signals[:] = list(signals), []
        saves.save(kept, update_fields=["status", "usage", "completed_at"])
        assert signals == orm_signals and "_do_update" not in kept.__dict__
        _same_but_id(RunStep, by_orm.pk, kept.pk, apart=["created_at"])
    assert saves.by_pk.compiles == 1


def test_save_of_a_row_gone_fails_as_save_does(run):
    saves = PreparedSaves(RunStep)
    step = RunStep.objects.create(run=run, type=RunStep.MESSAGE_CREATION, step_details={})
    saves.save(step, update_fields=["status"])
    RunStep.objects.filter(pk=step.pk).delete()
    with pytest.raises(RunStep.NotUpdated):
        saves.save(step, update_fields=["status"])


def test_an_update_writes_what_the_querysets_update_writes(run, thread, tutor):
    # One active run per thread: the two runs compared are on two threads.
    other = Run.objects.create(
        thread=Thread.objects.create(owner=thread.owner, assistant=tutor), assistant=tutor, model=run.model
    )
    apart = ["thread_id", "created_at", "queued_at"]
    move = PreparedUpdate(Run, lambda run_id, allowed: Run.objects.filter(pk=run_id, status__in=allowed), run_id=str)
    allowed = frozenset({states.QUEUED, states.IN_PROGRESS})
    now = timezone.now()
    values = {"status": states.IN_PROGRESS, "usage": {"total_tokens": 3}, "started_at": now, "last_error": None}
    assert move(values, run_id=run.pk, allowed=allowed) == 1
    assert Run.objects.filter(pk=other.pk, status__in=allowed).update(**values) == 1
    _same_but_id(Run, run.pk, other.pk, apart)
    later = {
        "status": states.COMPLETED,
        "usage": None,
        "started_at": now + timedelta(seconds=1),
        "last_error": {"c": 1},
    }
    assert move(later, run_id=run.pk, allowed=allowed) == 1
    assert Run.objects.filter(pk=other.pk, status__in=allowed).update(**later) == 1
    _same_but_id(Run, run.pk, other.pk, apart)
    # Its where clause holds: a run no longer in an allowed status is not moved.
    assert move(values, run_id=run.pk, allowed=allowed) == 0 and _row(Run, run.pk)["status"] == states.COMPLETED
    assert move.compiles == 1
    assert move({"status": states.CANCELLED}, run_id=run.pk, allowed=frozenset({states.COMPLETED})) == 1
    assert move.compiles == 2  # another set of columns and statuses: another shape


def test_an_update_compiles_once_and_builds_no_queryset(monkeypatch, run):
    touch = PreparedUpdate(Thread, lambda thread_id: Thread.objects.filter(pk=thread_id), thread_id=str)
    touch({"updated_at": timezone.now()}, thread_id=run.thread_id)
    compiled = []
    original = SQLUpdateCompiler.as_sql
    monkeypatch.setattr(SQLUpdateCompiler, "as_sql", lambda self: compiled.append(1) or original(self))
    later = timezone.now() + timedelta(days=1)
    assert touch({"updated_at": later}, thread_id=run.thread_id) == 1
    assert compiled == [] and Thread.objects.get(pk=run.thread_id).updated_at == later


def test_an_update_falls_back_to_the_orm_for_what_it_does_not_keep(run):
    bump = PreparedUpdate(Run, lambda run_id: Run.objects.filter(pk=run_id), run_id=str)
    assert bump({"event_seq": F("event_seq") + 2}, run_id=run.pk) == 1  # an expression
    assert bump({"event_seq": F("event_seq") + 2}, run_id=run.pk) == 1
    assert _row(Run, run.pk)["event_seq"] == 4 and bump.compiles == 0
    assert bump({"event_seq": 9}, run_id=None) == 0  # None compiles to IS NULL: the ORM's
    assert bump.compiles == 0 and _row(Run, run.pk)["event_seq"] == 4
    move = PreparedUpdate(Run, lambda run_id, allowed: Run.objects.filter(pk=run_id, status__in=allowed), run_id=str)
    assert move({"status": states.CANCELLED}, run_id=run.pk, allowed=frozenset()) == 0  # matches nothing, as update()
    assert move({"status": states.CANCELLED}, run_id=run.pk, allowed=frozenset()) == 0
    assert _row(Run, run.pk)["status"] == states.QUEUED


def test_many_writes_each_call_as_the_update_would_in_one_transaction(run, thread, tutor):
    other = Run.objects.create(thread=thread, assistant=tutor, model=tutor.model, status=states.CANCELLED)
    third = Run.objects.create(thread=thread, assistant=tutor, model=tutor.model, status=states.COMPLETED)
    Run.objects.filter(pk=third.pk).update(last_error={"code": "old"})
    fail = PreparedUpdate(
        Run, lambda run_id: Run.objects.filter(pk=run_id).exclude(status=states.CANCELLED), run_id=str
    )
    fail.many(
        [
            ({"last_error": {"code": "a"}}, {"run_id": run.pk}),
            ({"last_error": {"code": "b"}}, {"run_id": other.pk}),  # its where clause holds
            ({"last_error": None}, {"run_id": third.pk}),  # a JSON null compiles itself: the ORM's
        ]
    )
    assert _row(Run, run.pk)["last_error"] == {"code": "a"}
    assert _row(Run, other.pk)["last_error"] is None
    assert _row(Run, third.pk)["last_error"] is None and fail.compiles == 1
    with pytest.raises(RuntimeError), transaction.atomic():  # inside the caller's transaction
        fail.many([({"last_error": {"code": "c"}}, {"run_id": run.pk})])
        raise RuntimeError
    assert _row(Run, run.pk)["last_error"] == {"code": "a"}


def test_the_streamed_texts_saves_compile_no_update_and_leave_ended_answers_alone(monkeypatch, run):
    """Every RUN_SAVE_INTERVAL the text so far of every streaming answer is saved: bulk_update
    built and compiled a CASE WHEN per answer every time (10 % of the server's CPU at 200
    streamed SDK runs)."""
    streaming = [Message.objects.create(**_answer_fields(run, seq=n)) for n in range(3)]
    ended = Message.objects.create(**_answer_fields(run, seq=9, status=Message.COMPLETED))
    save = async_to_sync(executor._save_texts)
    save({m.pk: "so far" for m in streaming}, {run.pk})
    compiled = []
    original = SQLUpdateCompiler.as_sql
    monkeypatch.setattr(
        SQLUpdateCompiler, "as_sql", lambda self, *a, **k: compiled.append(1) or original(self, *a, **k)
    )
    assert save({m.pk: f"more {n}" for n, m in enumerate([*streaming, ended])}, {run.pk}) == set()
    assert compiled == []
    assert [Message.objects.get(pk=m.pk).text for m in streaming] == ["more 0", "more 1", "more 2"]
    assert Message.objects.get(pk=ended.pk).text == "x = 1"


def test_a_key_that_does_not_land_once_is_refused(run):
    refused = PreparedUpdate(Run, lambda name: Run.objects.filter(model__icontains=name), name=str)
    with pytest.raises(ValueError, match="name must appear once"):
        refused({"status": states.QUEUED}, name="offline")


async def test_a_later_runs_answer_writes_compile_no_insert_or_update(monkeypatch, thread, tutor):
    """The answer's INSERTs (message, step) and the run's last trip's UPDATEs (message, step,
    run, thread) were compiled for every run: 17 % of the server's CPU at 200 streamed runs."""
    from asgiref.sync import sync_to_async

    ask = sync_to_async(lambda: post_message(thread, "Solve 2x + 3 = 7", tutor, start=False)[1])
    await executor.execute((await ask()).id)
    compiled = []
    for compiler in (SQLInsertCompiler, SQLUpdateCompiler):
        original = compiler.as_sql
        monkeypatch.setattr(
            compiler,
            "as_sql",
            lambda self, *a, original=original, **k: (
                compiled.append(self.query.model.__name__) or original(self, *a, **k)
            ),
        )
    run = await ask()  # the question's own writes: not the engine's
    compiled.clear()
    await executor.execute(run.id)
    monkeypatch.undo()
    run = await sync_to_async(Run.objects.get)(pk=run.pk)
    assert run.status == states.COMPLETED and run.usage["total_tokens"] > 0
    assert compiled == []


def test_a_run_is_queued_through_the_kept_insert_and_one_active_run_per_thread_still_holds(monkeypatch, alice, tutor):
    from chat.engine.runs import ThreadBusy, create_run, queue_run

    first, second = (Thread.objects.create(owner=alice, assistant=tutor) for _ in range(2))
    create_run(first, tutor, start=False)
    compiled = []
    original = SQLInsertCompiler.as_sql
    monkeypatch.setattr(SQLInsertCompiler, "as_sql", lambda self: compiled.append(1) or original(self))
    run = create_run(second, tutor, start=False, temperature=0.5)
    assert compiled == [] and Run.objects.get(pk=run.pk).temperature == 0.5
    with pytest.raises(ThreadBusy) as busy:  # the constraint's IntegrityError, from the kept SQL
        queue_run(second, tutor, start=False)
    assert busy.value.run is None  # no savepoint: the caller reads the run after its rollback
