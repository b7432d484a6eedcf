"""Live events: what a run changed, pushed to its thread's group after the rows are saved.

Every event of a run names the rows it is about and carries, as plain data, the fields of
those rows that a reader needs to announce the change without reading them: the run's
status fields (its whole row and its assistant's name in its first event of all), the
step, the message as created or as completed (``RUN_FIELDS`` and the others below;
datetimes as POSIX timestamps, so an event crosses Redis as msgpack). A payload larger
than ``PAYLOAD_LIMIT`` (a step with long search results, a very long answer) is left
out: readers read such rows. The SSE stream and the browser's socket (its run panel and
its messages) serve a run from the payloads.

Each event a run's publisher sends carries the run's id and a sequence number (1, 2, …
over the whole run: an execution that resumes it after tool outputs numbers on from
``Run.event_seq``, which the pause wrote with its status). Delivery is at most once (a
reader whose queue is full misses events), so a reader that sees a number other than the
next one (``Sequence``), or an event without payload (a one-off from ``publish``: a cancel,
a recovery), reads the rows: the database stays the truth for recovery. A lost *last*
event shows no gap; a reader of a live run looks at its status row after a quiet spell
(``QuietSpell``). What readers know of a run's rows is kept by ``KnownRun``, one rule for
SSE streams and the browser's run panel.

Text deltas carry the new text and its offset in the message, and the accumulated text is
also kept in a process-local buffer (and saved, for all runs at once, every
RUN_SAVE_INTERVAL), so a socket that joins mid-run can be brought up to date without gaps
or repeats.

A delta may carry several model tokens: the publisher merges the text produced while its
previous send is in flight, and readers that fall behind merge the deltas already queued
for them (``coalesce``) into one SSE event or socket frame. Merging keeps the offsets
exact (the offset of the first piece, the pieces joined), so readers cannot tell a merged
delta from a long token; a merged delta keeps the first one's ``seq`` and gets the last
one's as ``last_seq``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import DEFAULT_DB_ALIAS, models

from chat.engine import states
from chat.models import Assistant, Message, Run, RunStep, steps_shown_before
from chat.prepared import Prepared

Listener = Callable[[dict[str, Any]], Awaitable[None] | None]

class _LiveText:
    __slots__ = ("pieces", "length")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.length = 0


# message id -> accumulated text of a message being streamed by this process.
_live: dict[str, _LiveText] = {}


def live_text(message_id: str) -> str | None:
    entry = _live.get(message_id)
    return "".join(entry.pieces) if entry is not None else None


def live_start(message_id: str) -> None:
    _live[message_id] = _LiveText()


def live_append(message_id: str, text: str) -> int:
    """Append ``text`` and return the offset at which it starts."""
    entry = _live.setdefault(message_id, _LiveText())
    offset = entry.length
    entry.pieces.append(text)
    entry.length += len(text)
    return offset


def live_end(message_id: str) -> None:
    _live.pop(message_id, None)


def group_for(thread_id: str) -> str:
    return f"thread.{thread_id}"


# News of a thread rather than of one of its runs, published to the same group without a
# run id or number: messages removed (an answer asked again, an edited question, a /v1
# delete: ``message_ids``), an attached file's new status (``file_id``) and a new title
# given by hand (``title``). The pages' sockets show them; a reader of a run (an SSE
# stream) has nothing to take from them.
MESSAGES_REMOVED = "messages.removed"
FILE_STATUS = "file.status"
THREAD_RENAMED = "thread.renamed"
THREAD_EVENTS = frozenset({MESSAGES_REMOVED, FILE_STATUS, THREAD_RENAMED})


# What an event carries of its rows: of a run, what changes while it executes (a reader
# knows the rest from the run it opened with); of a step or a message, every field the
# API shows.
RUN_FIELDS = (
    "status", "required_action", "last_error", "incomplete_details", "usage",
    "started_at", "expires_at", "cancelled_at", "failed_at", "completed_at", "event_seq",
)
STEP_FIELDS = (
    "id", "run_id", "type", "status", "step_details", "last_error", "usage", "metadata",
    "created_at", "completed_at", "cancelled_at", "failed_at", "expired_at",
)
MESSAGE_FIELDS = (
    "id", "thread_id", "role", "status", "content", "incomplete_details", "assistant_id", "run_id",
    "attachments", "metadata", "created_at", "completed_at", "incomplete_at",
)
# A run's first event of all carries its whole row, and its assistant's name, instead
# (``whole_run``): a reader that has not seen the run yet (a page open before the run was
# created: every question asked from the browser) would otherwise read it (3.5 % of a
# profile of 200 browser runs). Of the assistant only what the page shows of it.
RUN_ROW_FIELDS = tuple(field.attname for field in Run._meta.concrete_fields)
ASSISTANT_FIELDS = ("id", "name")
# Characters of JSON above which a step or message travels without its fields: every
# reader would copy it (Redis: one PUBLISH, then one copy per member), and such rows are
# rare (long file_search results, a very long answer) — their readers read them instead.
PAYLOAD_LIMIT = 32_000
# A run's first event of all also carries the questions it answers (``questions_of``):
# every other page of the thread (the owner's other tabs, a watching tutor) shows them
# before the answer, and read them from the database at that event (one query per socket
# per run). Their text is capped lower than a row's: the event is copied to every reader,
# and a longer question is read as before.
QUESTION_FIELDS = (*MESSAGE_FIELDS, "seq")
QUESTIONS_LIMIT = 8_000


def fields_of(row: models.Model, names: tuple[str, ...], *, limit: int | None = None) -> dict[str, Any] | None:
    """``row``'s fields as plain data (None when their JSON exceeds ``limit``)."""
    data = {name: _plain(getattr(row, name)) for name in names}
    if limit is not None and len(json.dumps(data)) > limit:
        return None
    return data


def _plain(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


def restore(row: models.Model, data: dict[str, Any]) -> models.Model:
    """Set the fields ``fields_of`` took onto ``row`` (an unsaved one, or one read before)."""
    for name, value in data.items():
        setattr(row, name, _unplain(row._meta.get_field(name), value))
    return row


def _unplain(field: models.Field, value: Any) -> Any:
    return datetime.fromtimestamp(value, UTC) if value is not None and isinstance(field, models.DateTimeField) else value


def _row_from(model: type[models.Model], data: dict[str, Any]) -> models.Model:
    """A row as read from the database with the fields ``data`` holds; any other field is
    deferred (read from its row if asked for, as with ``only()``)."""
    fields = [field for field in model._meta.concrete_fields if field.attname in data]
    values = [_unplain(field, data[field.attname]) for field in fields]
    return model.from_db(DEFAULT_DB_ALIAS, [field.attname for field in fields], values)


def whole_run(event: dict[str, Any]) -> Run | None:
    """The run a run.status event carries whole (the run's first event of all, see
    ``Publisher.run_status``), with its assistant; None when it carries only what changes."""
    data = event.get("run")
    if event.get("type") != "run.status" or not data or len(data) != len(RUN_ROW_FIELDS):
        return None
    run = _row_from(Run, data)
    if run.assistant_id is not None:
        if not event.get("assistant"):
            return None
        run.assistant = _row_from(Assistant, event["assistant"])
    return run


def questions_of(run: Run, messages: list[Message]) -> dict[str, Any] | None:
    """The questions ``run`` answers, for its first event of all: the thread's user messages
    after its last other message (``messages``: the thread's, in order, as the prompt read
    them), the ``seq`` of the user message before them (``after``: a page that shows less
    lacks a question between, and reads them) and the thread's title (the first question
    may have given it). None when their JSON exceeds ``QUESTIONS_LIMIT``."""
    first = len(messages)
    while first and messages[first - 1].role == Message.USER:
        first -= 1
    after = next((m.seq for m in reversed(messages[:first]) if m.role == Message.USER), 0)
    questions = [fields_of(m, QUESTION_FIELDS) for m in messages[first:]]
    if len(json.dumps(questions)) > QUESTIONS_LIMIT:
        return None
    return {"after": after, "messages": questions, "title": run.thread.title}


def carried_questions(event: dict[str, Any], shown_through: int) -> tuple[list[Message], str] | None:
    """The questions a run's first event carries that a page showing user messages up to
    ``shown_through`` (a ``seq``) does not show yet, as unsaved rows, with the thread's
    title; None when the page must read them: none carried (too long, a resumed run, an
    unnumbered event) or the page lacks a question before them."""
    carried = event.get("questions") if event.get("type") == "run.status" else None
    if not carried or shown_through < carried["after"]:
        return None
    return [_row_from(Message, data) for data in carried["messages"] if data["seq"] > shown_through], carried["title"]


def last_seq(event: dict[str, Any]) -> int | None:
    """The sequence number of the last event ``event`` stands for (it may be merged)."""
    return event.get("last_seq", event.get("seq"))


class Sequence:
    """Which of one run's numbered events a reader has taken: the one rule for "is this
    the next event, or were some lost". ``last`` is the number of the last event taken,
    None when the reader does not know it (a page joining mid-run: the first numbered
    event it sees starts the count)."""

    __slots__ = ("run_id", "last")

    def __init__(self, run_id: str, last: int | None = None) -> None:
        self.run_id, self.last = run_id, last

    def follows(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` is this run's next numbered event (an unnumbered one never is)."""
        seq = event.get("seq")
        return seq is not None and event.get("run_id") == self.run_id and (self.last is None or seq == self.last + 1)

    def take(self, event: dict[str, Any]) -> None:
        if event.get("seq") is not None and event.get("run_id") == self.run_id:
            self.last = last_seq(event)


# A run's statuses in the order its row takes them within one execution. requires_action
# ends an execution and writes the next one's first number (``event_seq``) with it, so it
# comes first among the statuses with that number: (event_seq, rank) orders every status
# a run's row ever has, across executions.
_STATUS_RANK = {states.REQUIRES_ACTION: -1, states.QUEUED: 0, states.IN_PROGRESS: 1, states.CANCELLING: 2}
_FINAL_RANK = 3


def _run_order(event_seq: int, status: str) -> tuple[int, int]:
    return event_seq, _STATUS_RANK.get(status, _FINAL_RANK)


# A run's rows, compiled once (chat/prepared.py): every SSE stream and run panel re-reads
# them after a gap or a quiet spell, at 200 runs at once hundreds of times a minute.
_run_by_id = Prepared(Run, lambda run_id: Run.objects.filter(pk=run_id).order_by()[:1], run_id=str)
_steps_of = Prepared(
    RunStep, lambda run_id: RunStep.objects.filter(run_id=run_id).order_by("created_at", "pk"), run_id=str
)
_messages_of = Prepared(Message, lambda run_id: Message.objects.filter(run_id=run_id), run_id=str)  # creation order


def read_run(run_id: str) -> Run:
    """``Run.objects.get(pk=run_id)``, its SQL compiled once."""
    for run in _run_by_id(run_id=run_id):
        return run
    raise Run.DoesNotExist(f"No run {run_id!r}.")


class KnownRun:
    """What a reader knows of one run's rows — the run, its steps in creation order and,
    if it keeps them, its messages — read from the database (``read``) and then brought up
    to date from the run's events' payloads (``take``). An SSE stream and a page's run panel
    both keep one, so both follow the same rules: the rows may be newer than events still
    queued for the reader (read after a gap), so an older payload never takes a run's
    status back, nor a step or a message back to in progress."""

    def __init__(self, run_id: str, *, messages: bool = True) -> None:
        self.run_id = run_id
        self.run: Run | None = None
        self.steps: dict[str, RunStep] = {}  # in creation order
        self.messages: dict[str, Message] | None = {} if messages else None

    def read(
        self, run: Run | None = None, *, steps: list[RunStep] | None = None, messages: list[Message] | None = None
    ) -> None:
        """Take the rows from the database (``run``, ``steps`` and ``messages`` when the
        caller read them or knows there are none yet)."""
        self.run = run if run is not None else read_run(self.run_id)
        # Steps before messages: the engine ends a message before its step, so a step read
        # as completed always finds its message completed too.
        if steps is None:
            steps = _steps_of(run_id=self.run_id)
        self.steps = {step.id: step for step in steps}
        if self.messages is not None:
            if messages is None:
                messages = _messages_of(run_id=self.run_id)
            self.messages = {m.id: m for m in messages}

    def take(self, event: dict[str, Any]) -> bool:
        """Bring the rows up to date from ``event``'s payload; False when it carries none
        (the rows must be read). The caller has checked that the event is in sequence."""
        kind = event["type"]
        if kind == "run.status" and event.get("run") is not None and self.run is not None:
            data = event["run"]
            if _run_order(data.get("event_seq", 0), data["status"]) >= _run_order(self.run.event_seq, self.run.status):
                restore(self.run, data)
        elif kind == "run.step" and event.get("step") is not None:
            self._update(self.steps, RunStep, event["step"], RunStep.IN_PROGRESS)
        elif kind in ("message.created", "message.completed") and event.get("message") is not None:
            if self.messages is not None:
                self._update(self.messages, Message, event["message"], Message.IN_PROGRESS)
        else:
            return False
        return True

    def know_message(self, row: Message) -> None:
        """A message of the run read from its row (its event carried no payload): the rows
        are the truth, and the run's messages stay complete, in creation order."""
        if self.messages is not None and row.run_id == self.run_id:
            self.messages[row.id] = row

    def tool_steps_before(self, message: Message) -> list[RunStep]:
        """``Message.tool_steps_before`` from what is known (the messages must be kept)."""
        after = None
        for known in self.messages.values():
            if known.id == message.id:
                break
            after = known.created_at
        return steps_shown_before(message, after, self.steps.values())

    @staticmethod
    def _update(known: dict, model: type[models.Model], data: dict, in_progress: str) -> None:
        row = known.get(data["id"])
        if row is None:
            known[data["id"]] = restore(model(), data)
        elif not (row.status != in_progress and data["status"] == in_progress):  # never back to in progress
            restore(row, data)

    async def status_moved(self) -> bool:
        """After a quiet spell: whether the run's status row differs from what is known (an
        event lost with none after it to show the gap). Read with the other readers' that
        look at the same moment (``StatusLooks``)."""
        return self.moved(await self.looked_status())

    async def looked_status(self) -> str | None:
        """The run's status row now, read with the other readers' looks (``StatusLooks``)."""
        return await status_looks.status(self.run_id)

    def moved(self, status: str | None) -> bool:
        """Whether ``status`` (the row's, looked at) differs from what is known."""
        return self.run is None or status != self.run.status


class StatusLooks:
    """The status rows that readers look at after a quiet spell, read together: a look
    made while no read is under way starts one (at the loop's next turn, so the looks of
    the same moment join it); looks made while one is under way wait for the next, which
    reads all of theirs. One query and one trip to the engine's database thread per read,
    where each look was one of each: at 200 streams waiting for their runs to start, the
    looks were a twelfth of the server's busy time and queued before the engine's claims."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[asyncio.Future]] = {}
        self.task: asyncio.Task | None = None

    async def status(self, run_id: str) -> str | None:
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        self.waiting.setdefault(run_id, []).append(answer)
        # A test's loop may have closed under a pending read: start one on this loop.
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            # A fresh context: the read goes to asgiref's shared thread (the engine's), not
            # to a request's, as the readers' other reads do.
            self.task = loop.create_task(self._read(), context=contextvars.Context())
        return await answer

    async def _read(self) -> None:
        while self.waiting:
            looks, self.waiting = self.waiting, {}
            try:
                found = await _statuses(list(looks))
            except Exception as exc:
                for answers in looks.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(exc)
                continue
            for run_id, answers in looks.items():
                for answer in answers:
                    if not answer.done():
                        answer.set_result(found.get(run_id))


@sync_to_async
def _statuses(run_ids: list[str]) -> dict[str, str]:
    return dict(Run.objects.filter(pk__in=run_ids).values_list("pk", "status"))


status_looks = StatusLooks()


# A reader of a live run that heard nothing for this long looks at the run's status row
# (its last events may be lost), then waits twice as long while nothing moves, up to
# QUIET_MAX_SECONDS: 200 streams waiting for busy runs that looked every second starved
# the engine's own database work.
QUIET_SECONDS = 1.0
QUIET_MAX_SECONDS = 8.0


class QuietSpell:
    """How long a reader of a live run waits for its next event before it looks at the
    run's status (``KnownRun.status_moved``). Read at each wait, so tests can shorten it."""

    # A run's events keep coming only while it is queued or executing; one that waits for
    # tool outputs or has ended sends none of its own (a submit starts the next execution,
    # a cancel or an expiry publishes an event), so nothing is lost by not looking.
    LIVE = frozenset({states.QUEUED, states.IN_PROGRESS, states.CANCELLING})

    @classmethod
    def watches(cls, run: Run | None) -> bool:
        return run is not None and run.status in cls.LIVE

    def __init__(self) -> None:
        self.seconds = QUIET_SECONDS
        self._moved = False  # the last look found the run moved, and nothing was heard since

    def heard(self) -> None:
        self.seconds = QUIET_SECONDS
        self._moved = False

    def looked(self, moved: bool) -> None:
        self.seconds = QUIET_SECONDS if moved else min(self.seconds * 2, QUIET_MAX_SECONDS)

    def lost(self, moved: bool) -> bool:
        """``looked`` for a reader that waits for the event on its way: whether the rows
        must be read now. The engine commits a change before it publishes it, so a look can
        find the row moved while its event is still queued for the reader — at 200 runs,
        most looks that found a move (the page's socket re-read and re-rendered what that
        event then rendered again). A move counts as a lost event only when the next look,
        one quiet spell later with nothing heard between, finds it moved still."""
        self.looked(moved)
        lost = moved and self._moved
        self._moved = moved and not lost
        return lost


# run id -> the publisher of a run this process executes, so that a tool publishing
# during the run (code_interpreter's live output) keeps the run's sequence.
_run_publishers: dict[str, Publisher] = {}


def publisher_of(run: Run) -> Publisher:
    """The publisher of ``run`` if this process executes it, else a new one for its thread
    (whose events are unnumbered: readers read the rows)."""
    return _run_publishers.get(run.id) or Publisher(run.thread_id)


class Publisher:
    """Sends one run's events to its thread's group and to optional local listeners.

    With a ``run_id`` (the publisher of a run's execution) every event carries the run's id
    and the next sequence number; such a publisher is found by ``publisher_of`` until
    ``retire``.

    Text deltas go out through one sender task per publisher, never more than one send in
    flight: text produced while a send is in flight is merged into the next one. Idle, a
    token is sent within the engine's call; against a slow layer (Redis: a round trip per
    send) a run costs one send per round trip instead of one per token. Every other event
    first waits for the deltas before it, so readers see them in the order published (and
    numbered)."""

    def __init__(
        self, thread_id: str, listeners: list[Listener] | None = None, *, run_id: str | None = None, seq: int = 0
    ) -> None:
        """``seq``: the number of the run's last event so far (``Run.event_seq``: a resumed
        run's earlier executions published that many)."""
        self.group = group_for(thread_id)
        self.layer = get_channel_layer()
        self.listeners = list(listeners or [])
        self.run_id = run_id
        self.seq = seq
        self._deltas: dict[str, tuple[int, list[str]]] = {}  # message id -> (offset, pieces) not sent yet
        self._sender: asyncio.Task | None = None
        if run_id is not None:
            _run_publishers[run_id] = self

    def retire(self) -> None:
        if self.run_id is not None and _run_publishers.get(self.run_id) is self:
            del _run_publishers[self.run_id]

    async def send(self, type_: str, **payload: Any) -> None:
        await self._flush_deltas()
        await self._emit({"type": type_, **payload})

    async def _emit(self, event: dict[str, Any]) -> None:
        if self.run_id is not None:
            # Numbered here, where events leave one at a time: the numbers are the order sent.
            self.seq += 1
            event["run_id"], event["seq"] = self.run_id, self.seq
        if self.layer is not None:
            await self.layer.group_send(self.group, event)
        for listener in self.listeners:
            result = listener(event)
            if inspect.isawaitable(result):
                await result

    async def run_status(self, run: Run, *, questions: dict[str, Any] | None = None) -> None:
        """``questions``: the run's (``questions_of``), carried by its first event of all."""
        if self.run_id is not None and self.seq == 0:  # the run's first event of all
            whole = _whole_run_payload(run)
            carried = {"questions": questions} if questions is not None else {}
            if whole is not None:
                await self.send("run.status", run_id=run.id, **whole, **carried)
                return
            await self.send("run.status", run_id=run.id, run=fields_of(run, RUN_FIELDS), **carried)
            return
        await self.send("run.status", run_id=run.id, run=fields_of(run, RUN_FIELDS))

    async def run_step(self, step: RunStep) -> None:
        await self.send("run.step", step_id=step.id, step=fields_of(step, STEP_FIELDS, limit=PAYLOAD_LIMIT))

    async def message_created(self, message: Message, tool_parts: list[dict]) -> None:
        """``tool_parts``: the parts the message's tools will put before its text (images)."""
        await self.send(
            "message.created", message_id=message.id, tool_parts=tool_parts,
            message=fields_of(message, MESSAGE_FIELDS, limit=PAYLOAD_LIMIT),
        )

    async def message_delta(self, message_id: str, offset: int, text: str) -> None:
        """The engine's entry point for each model token (the bench stamps tokens here)."""
        sender = self._sender
        if sender is not None and sender.done():
            self._sender = None
            sender.result()  # a failed send fails the run, as when the engine sent itself
        waiting = self._deltas.get(message_id)
        if waiting is None:
            self._deltas[message_id] = (offset, [text])
        else:
            waiting[1].append(text)
        if self._sender is None:
            # Started eagerly: an idle layer gets the token within this call, not at the
            # loop's next turn; the sender yields only where a send waits.
            self._sender = asyncio.Task(self._send_deltas(), loop=asyncio.get_running_loop(), eager_start=True)

    async def _send_deltas(self) -> None:
        while self._deltas:
            message_id = next(iter(self._deltas))
            offset, pieces = self._deltas.pop(message_id)
            await self._emit({"type": "message.delta", "message_id": message_id, "offset": offset, "text": "".join(pieces)})

    async def seq_after(self, count: int) -> int:
        """The number the ``count``-th event from now will carry (text deltas still waiting
        go out first)."""
        await self._flush_deltas()
        return self.seq + count

    async def _flush_deltas(self) -> None:
        sender = self._sender
        if sender is None:
            return
        try:
            # Shielded: a run cancelled while waiting here still gets its text out in order.
            await asyncio.shield(sender)
        finally:
            if sender.done() and self._sender is sender:
                self._sender = None

    async def message_completed(self, message: Message) -> None:
        await self.send("message.completed", message_id=message.id, message=fields_of(message, MESSAGE_FIELDS, limit=PAYLOAD_LIMIT))


def _whole_run_payload(run: Run) -> dict[str, Any] | None:
    """The run's whole row and its assistant (``whole_run``), when the publisher has the
    assistant at hand (the engine reads it with the run: no query here) and the row is not
    too large to copy to every reader."""
    if run.assistant_id is not None and not Run.assistant.is_cached(run):
        return None
    data = fields_of(run, RUN_ROW_FIELDS, limit=PAYLOAD_LIMIT)
    if data is None:
        return None
    assistant = fields_of(run.assistant, ASSISTANT_FIELDS) if run.assistant_id is not None else None
    return {"run": data, "assistant": assistant}


def queued(layer: Any, channel: str) -> list[dict[str, Any]]:
    """The messages already waiting on ``channel``, taken without waiting (empty for a
    layer that cannot tell without a round trip)."""
    receive_nowait = getattr(layer, "receive_nowait", None)
    out: list[dict[str, Any]] = []
    while receive_nowait is not None and (message := receive_nowait(channel)) is not None:
        out.append(message)
    return out


def coalesce(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``batch`` with each run of consecutive, contiguous text deltas of one message
    merged into one delta (the first one's offset, the texts joined, the last one's
    sequence number as ``last_seq``); everything else kept as it is, in order. Deltas
    whose numbers are not consecutive stay apart, so a reader still sees the gap."""
    groups: list[tuple[dict[str, Any], list[str], Any]] = []  # (first event, texts to join, last seq)
    end = -1  # where the last group's text ends, if it is a delta
    for event in batch:
        delta = event.get("type") == "message.delta"
        seq = event.get("seq")
        if (
            delta and groups and groups[-1][1] and event["message_id"] == groups[-1][0]["message_id"]
            and event["offset"] == end and _follows(groups[-1][2], seq)
        ):
            groups[-1][1].append(event["text"])
            groups[-1] = (groups[-1][0], groups[-1][1], seq)
        else:
            groups.append((event, [event["text"]] if delta else [], seq))
        end = event["offset"] + len(event["text"]) if delta else -1
    out = []
    for first, texts, seq in groups:
        if len(texts) > 1:
            first = {**first, "text": "".join(texts)}
            if seq is not None:
                first["last_seq"] = seq
        out.append(first)
    return out


def _follows(before: int | None, seq: int | None) -> bool:
    return seq is None if before is None else seq == before + 1


async def publish(thread_id: str, type_: str, **payload: Any) -> None:
    """A one-off event from outside a run (a cancel, a recovered run)."""
    await Publisher(thread_id).send(type_, **payload)


def publish_sync(thread_id: str, type_: str, **payload: Any) -> None:
    """``publish`` from synchronous code. Under the ASGI server, async_to_sync runs it on
    the server's own loop, where the in-memory channel layer lives."""
    async_to_sync(publish)(thread_id, type_, **payload)


def group_of_user(user_id: int) -> str:
    return f"user.{user_id}"


# News of a user's list of conversations (the sidebar), published to the user's own group,
# which every open page of theirs joins (``thread_id``): one listed (its first question, or
# one from an earlier day: its entry rendered on top of the list), moved (a later question
# the same day: a page moves the entry it shows, nothing rendered), renamed by hand, or
# deleted. Only the owner's pages hear of it: a tutor watching a student's conversation
# lists their own conversations.
CONVERSATION_LISTED = "conversation.listed"
CONVERSATION_MOVED = "conversation.moved"
CONVERSATION_RENAMED = "conversation.renamed"
CONVERSATION_UNLISTED = "conversation.unlisted"


# Conversations listed or moved within this long of each other go to a user's pages as one
# piece of news: one user's 50 tabs each asking a first question at once made 2,500 events,
# which filled the sockets' channels and crowded out their runs' own text deltas.
LISTED_GATHER_SECONDS = 0.2
LAST_SEND_SECONDS = 2.0
# (loop, user id) -> thread id -> whether its entry is to be rendered (listed), in the order asked
_listing: dict[tuple[asyncio.AbstractEventLoop, int], dict[str, bool]] = {}


async def tell_owner(user_id: int, type_: str, **payload: Any) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if type_ in (CONVERSATION_LISTED, CONVERSATION_MOVED):
        key = (asyncio.get_running_loop(), user_id)
        gathering = key in _listing
        gathered = _listing.setdefault(key, {})
        # The latest question's conversation goes last (on top); listed once, rendered.
        listed = gathered.pop(payload["thread_id"], False) or type_ == CONVERSATION_LISTED
        gathered[payload["thread_id"]] = listed
        if not gathering:
            # Sent from a task of its own: the caller (a request's commit) does not wait.
            _sending.add(task := asyncio.get_running_loop().create_task(_send_listed(layer, key)))
            task.add_done_callback(_sending.discard)
        return
    # ``news`` names this one piece of news: the user's pages in one process render each
    # entry once between them (ThreadConsumer.conversation_listed).
    await layer.group_send(group_of_user(user_id), {"type": type_, "news": uuid.uuid4().hex, **payload})


_sending: set[asyncio.Task] = set()


async def _send_listed(layer: Any, key: tuple[asyncio.AbstractEventLoop, int]) -> None:
    """One ``conversation.listed`` event: ``thread_ids`` in the order asked (the last on
    top), of which ``moved`` only move on a page that shows them."""
    try:
        await asyncio.sleep(LISTED_GATHER_SECONDS)
    finally:
        # Sent too when the loop ends first, cancelling the wait: a command's (manage.py
        # ask) lasts one tell_owner_sync call, and what it gathered was lost with it.
        gathered = _listing.pop(key)
        news = {
            "type": CONVERSATION_LISTED,
            "news": uuid.uuid4().hex,
            "thread_ids": list(gathered),
            "moved": [thread_id for thread_id, listed in gathered.items() if not listed],
        }
        # Bounded: a loop that is closing may have its Redis connection closing with it,
        # and a send waiting on that kept the loop from ever closing (a test run hung).
        try:
            await asyncio.wait_for(layer.group_send(group_of_user(key[1]), news), LAST_SEND_SECONDS)
        except (TimeoutError, ConnectionError, OSError):
            pass  # news for the sidebar only: a reload shows the list as it is


def tell_owner_sync(user_id: int, type_: str, **payload: Any) -> None:
    """``tell_owner`` from synchronous code (as ``publish_sync``)."""
    async_to_sync(tell_owner)(user_id, type_, **payload)
