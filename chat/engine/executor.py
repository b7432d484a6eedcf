"""Executing one run: the loop of model turns and tool calls.

``execute(run_id)`` takes a queued run to a final status (or to requires_action),
saving every message, step and status change before publishing it. Whatever goes
wrong — a provider error, a malformed stream, a cancel, a crash in our own code — the
run ends in a clear status with the partial answer kept; it is never left in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import router
from django.db.models.signals import post_save
from django.utils import timezone

from chat import ids, readiness, tools
from chat.engine import events, states
from chat.engine.prompt import MAX_PROMPT_TOKENS, PromptTooLong, ThreadRows, build_request
from chat.engine.worker import WORKER_ID
from chat.functions.models import QuizAttempt
from chat.models import Message, Run, RunStep, Thread
from chat.prepared import Prepared, PreparedSaves, PreparedUpdate
from chat.providers import get_provider
from chat.providers.base import Finish, Grade, ProviderError, TextDelta, ToolCallDelta, Usage

logger = logging.getLogger("chat.engine")

MAX_TURNS = 20
SERVER_STOPPED = "The server was stopped during this run; the partial answer was kept."

# The claim's read of its run, once per run: compiled once (chat.prepared). With its thread,
# and its assistant, whose name the run's first event carries (events.whole_run).
_run_with_thread = Prepared(
    Run,
    lambda run_id: (
        Run.objects.select_related("thread", "assistant").filter(pk=run_id).order_by(*Run._meta.ordering)[:1]
    ),
    run_id=str,
)

# Every answer's writes, compiled once (chat.prepared): its message and step created, and
# ended with the run (and a tool step's, created and saved).
_messages = PreparedSaves(Message)
_steps = PreparedSaves(RunStep)
_answer = PreparedUpdate(Message, lambda message_id: Message.objects.filter(pk=message_id), message_id=str)
# The run's row by its key, not a join: an UPDATE of the message by its key alone.
_answer_unless_cancelling = PreparedUpdate(
    Message,
    lambda message_id, run_id: Message.objects.filter(pk=message_id).filter(
        run__in=Run.objects.filter(pk=run_id).exclude(status=states.CANCELLING)
    ),
    message_id=str,
    run_id=str,
)
# The streamed text so far, saved only while in progress: a save that lost the race with
# the answer's end must not overwrite its final content. All of a save's answers in one
# executemany (bulk_update built and compiled a CASE WHEN per answer every interval: 10 %
# of the server's CPU at 200 SDK runs, docs/benchmarks.md, eighteenth pass).
_in_progress_text = PreparedUpdate(
    Message, lambda message_id: Message.objects.filter(pk=message_id, status=Message.IN_PROGRESS), message_id=str
)
_touch = PreparedUpdate(Thread, lambda thread_id: Thread.objects.filter(pk=thread_id), thread_id=str)


class Heartbeats:
    """One heartbeat for every run this process executes: a single UPDATE every
    RUN_HEARTBEAT_TIMEOUT/3 seconds, instead of a write per run (200 runs made 200 writes
    per interval, queued on the one database thread). Recovery reads ``heartbeat_at``
    exactly as before; the claim stamps it first."""

    def __init__(self) -> None:
        self.runs: set[str] = set()
        self.task: asyncio.Task | None = None

    def add(self, run_id: str) -> None:
        self.runs.add(run_id)
        loop = asyncio.get_running_loop()
        # A test's loop may have closed under a pending beat: start one on this loop.
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._beat(), context=contextvars.Context())

    def discard(self, run_id: str) -> None:
        self.runs.discard(run_id)

    async def _beat(self) -> None:
        interval = settings.RUN_HEARTBEAT_TIMEOUT / 3
        while self.runs:
            await asyncio.sleep(interval)
            if self.runs:
                try:
                    await _stamp(list(self.runs))
                except Exception:  # a missed beat is retried next interval; recovery allows two
                    logger.exception("heartbeat failed")


@sync_to_async
def _stamp(run_ids: list[str]) -> None:
    Run.objects.filter(pk__in=run_ids, worker=WORKER_ID).update(heartbeat_at=timezone.now())


heartbeats = Heartbeats()


class TextSaves:
    """The text so far of every answer this process streams, saved in one trip to the
    database every RUN_SAVE_INTERVAL (a single UPDATE for all of them, and one read of
    which of their runs another process asked to cancel), instead of an UPDATE and a
    read per run per interval: 200 streaming runs made 1,600 queries a second, each
    queued on the one database thread and on SQLite's write lock. Live readers never
    wait for these saves (they get the process-local buffer, events.live_text); the saves
    keep a crash's partial answer and let a cancel from elsewhere be seen."""

    def __init__(self) -> None:
        self.turns: dict[str, tuple[str, Turn]] = {}  # message id -> (run id, its turn)
        self.saved: dict[str, int] = {}  # message id -> text pieces saved
        self.cancelling: set[str] = set()  # run ids found cancelling
        self.task: asyncio.Task | None = None

    def add(self, run_id: str, turn: Turn) -> None:
        self.turns[turn.message.id] = (run_id, turn)
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._save(), context=contextvars.Context())

    def discard(self, run_id: str, message_id: str | None) -> None:
        self.turns.pop(message_id, None)
        self.saved.pop(message_id, None)
        self.cancelling.discard(run_id)

    async def _save(self) -> None:
        while self.turns:
            await asyncio.sleep(max(settings.RUN_SAVE_INTERVAL, 0.01))  # 0: as often as the database allows
            # Snapshot on the event loop, where the turns grow; only answers that grew.
            texts, runs = {}, set()
            for message_id, (run_id, turn) in list(self.turns.items()):
                runs.add(run_id)
                if self.saved.get(message_id) != len(turn.text):
                    self.saved[message_id] = len(turn.text)
                    texts[message_id] = "".join(turn.text)
            if not runs:
                continue
            try:
                self.cancelling |= await _save_texts(texts, runs)
            except Exception:  # retried at the next interval with the text by then
                logger.exception("saving streamed text failed")
                self.saved.clear()


@sync_to_async
def _save_texts(texts: dict[str, str], run_ids: set[str]) -> set[str]:
    if texts:
        _in_progress_text.many(
            [({"content": Message.text_content(text)}, {"message_id": pk}) for pk, text in texts.items()]
        )
    return set(Run.objects.filter(pk__in=run_ids, status=states.CANCELLING).values_list("pk", flat=True))


text_saves = TextSaves()


class RunCancelled(Exception):
    """The run's status moved to cancelling while it executed."""


@dataclass
class Turn:
    message: Message | None = None
    step: RunStep | None = None
    text: list[str] = field(default_factory=list)
    calls: dict[int, dict] = field(default_factory=dict)
    usage: Usage | None = None
    finish: str | None = None
    grades: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)


def _usage_dict(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _add_usage(total: dict | None, usage: Usage | None) -> dict | None:
    if usage is None:
        return total
    total = total or _usage_dict(0, 0)
    return _usage_dict(
        total["prompt_tokens"] + usage.prompt_tokens, total["completion_tokens"] + usage.completion_tokens
    )


class Execution:
    def __init__(self, run_id: str, listeners: list[events.Listener] | None = None) -> None:
        self.run_id = run_id
        self.listeners = listeners
        self.run: Run | None = None  # read by the claim
        self.publish: events.Publisher | None = None  # for the run's thread, once read
        self.turn = Turn()
        # The first turn's request, built in the claim's trip to the database: (budget,
        # request), or what building it raised, raised again where the turn starts.
        self.prepared: tuple | Exception | None = None
        # The questions the run answers, for its first event of all (events.questions_of),
        # taken from the messages the claim reads for the first request.
        self.questions: dict | None = None
        self.touched = False  # the thread's updated_at, written as the run ends
        # A resumed run's tool step, which submit_tool_outputs completed without an event:
        # announced first, so readers following the events learn its outputs and its end.
        self.submitted_step: RunStep | None = None

    # --- database work, each a small sync function run off the event loop ---------------

    @sync_to_async
    def _claim(self) -> bool:
        """Read the run, claim it if nothing holds it back, and build its first request, in
        one trip off the event loop (at 200 runs at once each trip queues on one thread)."""
        found = _run_with_thread(run_id=self.run_id)
        if not found:
            return False
        self.run = found[0]
        if readiness.waiting_reason(self.run, self.run.thread):  # its thread, read with it just now
            return False  # whatever ends the wait (an ingest finishing) dispatches it again
        claimed = self.run.transition(
            states.IN_PROGRESS, expect=states.QUEUED, worker=WORKER_ID, heartbeat_at=timezone.now()
        )
        if not claimed and self.run.status == states.CANCELLING:
            self.run.transition(states.CANCELLED)
        if claimed:
            if self.run.event_seq:  # resumed after tool outputs (in the claim's trip, one query)
                self.submitted_step = (
                    RunStep.objects.filter(run=self.run, type=RunStep.TOOL_CALLS).order_by("-created_at", "-pk").first()
                )
            try:
                rows = ThreadRows.read(self.run)
                if not self.run.event_seq:
                    self.questions = events.questions_of(self.run, rows.messages)
                self.prepared = self._build_request_sync(rows)
            except Exception as exc:  # raised in the turn, as if built there
                self.prepared = exc
        return claimed

    @sync_to_async
    def _status(self) -> str:
        return Run.objects.values_list("status", flat=True).get(pk=self.run.pk)

    async def _next_request(self):
        prepared, self.prepared = self.prepared, None
        if isinstance(prepared, Exception):
            raise prepared
        return prepared if prepared is not None else await self._build_request()

    def _build_request_sync(self, rows: ThreadRows | None = None):
        budget = None
        if self.run.max_completion_tokens:
            used = (self.run.usage or {}).get("completion_tokens", 0)
            budget = self.run.max_completion_tokens - used
        return budget, (build_request(self.run, max_tokens=budget, rows=rows) if budget is None or budget > 0 else None)

    _build_request = sync_to_async(_build_request_sync)

    @sync_to_async
    def _begin_message(self) -> tuple[Message, RunStep, list[dict]]:
        """The answer's message and step, and the parts its tools will put before its text
        (known now: the tool calls before it are over), for the message's first event."""
        message = _messages.create(
            thread_id=self.run.thread_id,
            role=Message.ASSISTANT,
            content=Message.text_content(""),
            status=Message.IN_PROGRESS,
            assistant_id=self.run.assistant_id,
            run=self.run,
        )
        step = _steps.create(
            run=self.run,
            type=RunStep.MESSAGE_CREATION,
            step_details={"type": "message_creation", "message_creation": {"message_id": message.id}},
        )
        return message, step, tools.finish_content(self.run, [])

    async def _finish_message(self, turn: Turn, status: str, reason: str | None = None, *, usage: bool = False) -> None:
        text_saves.discard(self.run.id, turn.message.id)
        await self._finish_message_sync(turn, status, reason, usage)

    async def _finish_run(self, turn: Turn, *, grading: bool) -> bool:
        """The run's last answer and the run's end in one trip to the database (were two):
        the answer's message and step with the run's usage, the quiz's grading if the
        answer is one, and the run completed (``_transition``). Each is saved before it is
        published, as ever; the events follow in their usual order."""
        text_saves.discard(self.run.id, turn.message.id)
        return await self._finish_run_sync(turn, grading)

    @sync_to_async
    def _finish_run_sync(self, turn: Turn, grading: bool) -> bool:
        # The message's write is the turn's cancel check and the run's usage goes with its
        # completion: one UPDATE of the run where a turn that goes on makes two.
        self._finish_message_rows(turn, Message.COMPLETED, None, usage=False, unless_cancelling=True)
        if grading:
            self._record_grading_sync(turn)
        return self._transition_sync(states.COMPLETED, usage=_add_usage(self.run.usage, turn.usage))

    def _finish_message_rows(
        self, turn: Turn, status: str, reason: str | None, usage: bool, *, unless_cancelling: bool = False
    ) -> None:
        """The answer's end in one trip to the database: its message, its step and, at a
        turn's normal end, the run's usage first. The usage write, or the message's own
        with ``unless_cancelling``, raises RunCancelled if a cancel came first, before
        anything is written: the answer then ends as a cancelled run's does."""
        if usage:
            self._record_usage_sync(turn.usage)
        message, step, now = turn.message, turn.step, timezone.now()
        ended = {"content": tools.finish_content(self.run, Message.text_content("".join(turn.text))), "status": status}
        if status == Message.COMPLETED:
            ended["completed_at"] = now
        else:
            ended["incomplete_at"] = now
            ended["incomplete_details"] = {"reason": reason}
        if unless_cancelling:
            if not _answer_unless_cancelling(ended, message_id=message.pk, run_id=self.run.pk):
                raise RunCancelled
        else:
            _answer(ended, message_id=message.pk)
        for name, value in ended.items():
            setattr(message, name, value)
        # As save() would: the answer's receivers (file_search citations) see it end.
        using = router.db_for_write(Message)
        post_save.send(Message, instance=message, created=False, update_fields=frozenset(ended), raw=False, using=using)
        step_status = {
            Message.COMPLETED: RunStep.COMPLETED,
            "run_cancelled": RunStep.CANCELLED,
            "run_failed": RunStep.FAILED,
        }.get(status if status == Message.COMPLETED else reason, RunStep.COMPLETED)
        step.status = step_status
        step.usage = _add_usage(None, turn.usage)
        setattr(step, RunStep.STAMPS[step_status], now)
        _steps.save(step, update_fields=["status", "usage", RunStep.STAMPS[step_status]])

    _finish_message_sync = sync_to_async(_finish_message_rows)

    def _record_grading_sync(self, turn: Turn) -> None:
        """The answer that follows a quiz's submission is its grading: the text is the
        feedback, the score is what the model reported (never read from the text)."""
        QuizAttempt.record_grading(self.run, "".join(turn.text), turn.grades)

    _record_grading = sync_to_async(_record_grading_sync)

    def _record_usage_sync(self, usage: Usage | None) -> None:
        """Add a turn's usage to the run's, unless a cancel came first (RunCancelled): the
        write is also the turn's check for a cancel asked from another process, instead of
        a read of the status before it."""
        total = _add_usage(self.run.usage, usage)
        if not Run.objects.filter(pk=self.run.pk).exclude(status=states.CANCELLING).update(usage=total):
            raise RunCancelled
        self.run.usage = total

    _record_usage = sync_to_async(_record_usage_sync)

    @sync_to_async
    def _create_tool_step(self, entries: list[dict], usage: Usage | None) -> RunStep:
        return _steps.create(
            run=self.run,
            type=RunStep.TOOL_CALLS,
            step_details={"type": "tool_calls", "tool_calls": entries},
            usage=_add_usage(None, usage),
        )

    @sync_to_async
    def _save_step(self, step: RunStep, **fields) -> None:
        for name, value in fields.items():
            setattr(step, name, value)
        _steps.save(step, update_fields=list(fields))

    def _transition_sync(self, target: str, **fields) -> bool:
        """Move the run; if a cancel got in first, finish the cancel instead. Every move
        after the claim ends this execution (requires_action pauses it), so the thread is
        touched in the same trip."""
        if self.run.transition(target, **fields):
            moved = True
        elif self.run.status == states.CANCELLING:
            self.run.transition(states.CANCELLED)
            moved = True  # the status changed: publish it
        else:
            moved = False
        self._touch_thread_sync()
        return moved

    _transition = sync_to_async(_transition_sync)

    def _touch_thread_sync(self) -> None:
        """The conversation moves to the top of its owner's list when its run ends."""
        _touch({"updated_at": timezone.now()}, thread_id=self.run.thread_id)
        self.touched = True

    _touch_thread = sync_to_async(_touch_thread_sync)

    # --- the run ------------------------------------------------------------------------

    async def execute(self) -> Run | None:
        claimed = await self._claim()
        if self.run is None:
            return None
        if not claimed and self.run.status not in (states.QUEUED, states.CANCELLED):
            # A duplicate delivery (a sweep sent the run again while another execution held
            # it): that execution announces the run; a second, unnumbered status would be
            # news of nothing.
            return self.run
        # Only the execution that claimed the run numbers its events, on from the numbers of
        # the run's earlier executions (kept on its row, so any process continues them); an
        # execution that did not claim it (waiting for files; a queued run it cancelled)
        # announces the run unnumbered: readers read its row.
        self.publish = (
            events.Publisher(self.run.thread_id, self.listeners, run_id=self.run.id, seq=self.run.event_seq)
            if claimed
            else events.Publisher(self.run.thread_id, self.listeners)
        )
        try:
            await self.publish.run_status(self.run, questions=self.questions)
            if self.submitted_step is not None:
                await self.publish.run_step(self.submitted_step)
            if claimed:
                await self._execute_claimed()
        finally:
            self.publish.retire()
        return self.run

    async def _execute_claimed(self) -> None:
        heartbeats.add(self.run.id)
        try:
            await self._turns()
        except RunCancelled:
            await self._stop_cancelled()
        except asyncio.CancelledError:
            # Either interrupt() after a user's cancel, or the server shutting down.
            if await self._status() == states.CANCELLING:
                await self._stop_cancelled()
            else:
                await self._fail("server_error", SERVER_STOPPED)
                raise
        except ProviderError as exc:
            await self._fail(exc.code, exc.message)
        except PromptTooLong as exc:
            if exc.limit == MAX_PROMPT_TOKENS:
                await self._end_incomplete("max_prompt_tokens")
            else:
                await self._fail("invalid_prompt", str(exc))
        except Exception:
            logger.exception("run %s failed inside the engine", self.run.id)
            await self._fail("server_error", "The server hit an internal error while running this assistant.")
        finally:
            heartbeats.discard(self.run.id)
            if self.turn.message is not None:
                text_saves.discard(self.run.id, self.turn.message.id)
                events.live_end(self.turn.message.id)
            if not self.touched:  # ended without a move (an error before it, a stop)
                await self._touch_thread()

    async def _turns(self) -> None:
        for _ in range(MAX_TURNS):
            budget, request = await self._next_request()
            if request is None:
                await self._end_incomplete("max_completion_tokens")
                return
            provider = get_provider(self.run.model)
            self.turn = turn = Turn()
            await self._stream(provider, request, turn)
            truncated = turn.finish == "length"
            # An answer to tool outputs may grade a quiz.
            grading = bool(request.messages) and request.messages[-1].get("role") == "tool"
            ended = None  # whether the run moved to completed, if this turn ended it
            if turn.message is None:
                await self._record_usage(turn.usage)
            else:
                if truncated:
                    await self._finish_message(turn, Message.INCOMPLETE, "max_tokens", usage=True)
                elif not turn.calls:
                    ended = await self._finish_run(turn, grading=grading)
                else:
                    await self._finish_message(turn, Message.COMPLETED, usage=True)
                    if grading:
                        await self._record_grading(turn)
                events.live_end(turn.message.id)
                await self.publish.message_completed(turn.message)
                await self.publish.run_step(turn.step)
            if truncated:
                await self._end_incomplete("max_completion_tokens")
                return
            if not turn.calls:
                if ended is None:
                    ended = await self._transition(states.COMPLETED)
                if ended:
                    await self.publish.run_status(self.run)
                return
            if await self._handle_tool_calls(turn):
                return  # paused in requires_action
        await self._fail("server_error", f"The assistant called tools {MAX_TURNS} times without answering.")

    async def _stream(self, provider, request, turn: Turn) -> None:
        # aclosing: an early exit (cancel, error) closes the provider's HTTP response at once.
        async with contextlib.aclosing(provider.stream(request)) as stream:
            async for chunk in stream:
                if isinstance(chunk, TextDelta) and chunk.text:
                    await self._append_text(turn, chunk.text)
                    if self.run.id in text_saves.cancelling:  # seen by the periodic save
                        raise RunCancelled
                elif isinstance(chunk, ToolCallDelta):
                    call = turn.calls.setdefault(chunk.index, {"id": None, "name": "", "arguments": []})
                    call["id"] = call["id"] or chunk.id
                    call["name"] = call["name"] or (chunk.name or "")
                    call["arguments"].append(chunk.arguments)
                elif isinstance(chunk, Usage):
                    turn.usage = chunk
                elif isinstance(chunk, Grade):
                    turn.grades[chunk.tool_call_id] = (Decimal(str(chunk.score)), Decimal(str(chunk.max_score)))
                elif isinstance(chunk, Finish):
                    turn.finish = chunk.reason
        if turn.finish is None:
            raise ProviderError("The model's stream ended before it said it was finished.")

    async def _append_text(self, turn: Turn, text: str) -> None:
        if turn.message is None:
            turn.message, turn.step, tool_parts = await self._begin_message()
            events.live_start(turn.message.id)
            text_saves.add(self.run.id, turn)
            await self.publish.message_created(turn.message, tool_parts)
            await self.publish.run_step(turn.step)
        turn.text.append(text)
        offset = events.live_append(turn.message.id, text)
        await self.publish.message_delta(turn.message.id, offset, text)

    @sync_to_async
    def _used_call_ids(self) -> set[str]:
        details = RunStep.objects.filter(run__thread_id=self.run.thread_id, type=RunStep.TOOL_CALLS).values_list(
            "step_details", flat=True
        )
        return {entry.get("id") for d in details for entry in (d or {}).get("tool_calls", [])}

    async def _calls(self, turn: Turn) -> list[tools.ToolCall]:
        """The turn's calls, each with an id unique in the thread: a model's own id is kept
        unless it is empty, odd, or already used (some servers number calls call_0, call_1…
        in every turn); then it gets a fresh one, which the step, required_action and every
        later prompt all use, so the submit_tool_outputs round trip stays consistent."""
        used = await self._used_call_ids()
        calls = []
        for index in sorted(turn.calls):
            call = turn.calls[index]
            if not call["name"]:
                raise ProviderError("The model sent a tool call without a name.")
            call_id = call["id"]
            if not call_id or not ids.looks_like_call_id(call_id) or call_id in used:
                call_id = ids.new_call_id()
            used.add(call_id)
            calls.append(tools.ToolCall(id=call_id, name=call["name"], arguments="".join(call["arguments"])))
        if not self.run.parallel_tool_calls:
            calls = calls[:1]  # a server that ignored parallel_tool_calls=false
        return calls

    async def _handle_tool_calls(self, turn: Turn) -> bool:
        """Run server tools; return True when the run paused for function outputs."""
        calls = await self._calls(turn)
        functions = tools.function_names(self.run.tools)
        entries, pending_functions = [], []
        for call in calls:
            server = tools.server_tool_named(call.name, self.run.tools)
            if server is not None:
                entries.append(server.pending(call))
            elif call.name in functions:
                # Bad arguments go back to the model as the call's output; valid calls still pause.
                problem = await tools.invalid_function_call(self.run.tools, call)
                entries.append(tools.function_entry(call, output=problem))
                if problem is None:
                    pending_functions.append(call)
            else:
                unknown = json.dumps({"error": f"There is no tool named {call.name!r}."})
                entries.append(tools.function_entry(call, output=unknown))
        step = await self._create_tool_step(entries, turn.usage if turn.message is None else None)
        await self.publish.run_step(step)
        for position, call in enumerate(calls):
            server = tools.server_tool_named(call.name, self.run.tools)
            if server is None:
                continue
            result = await server.run(self.run, call)
            entries[position] = result.details
            await self._save_step(step, step_details={"type": "tool_calls", "tool_calls": entries})
            await self.publish.run_step(step)
        if pending_functions:
            return await self._require_action(step, pending_functions)
        await self._save_step(step, status=RunStep.COMPLETED, completed_at=timezone.now())
        await self.publish.run_step(step)
        return False

    async def _require_action(self, step: RunStep, calls: list[tools.ToolCall]) -> bool:
        required = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in calls
                ]
            },
        }
        expires = timezone.now() + timezone.timedelta(seconds=settings.RUN_REQUIRES_ACTION_TIMEOUT)
        # The run's next execution numbers its events on from this one's last two (below):
        # written with the status, so it is on the row before anyone can resume the run.
        event_seq = await self.publish.seq_after(2)
        if await self._transition(
            states.REQUIRES_ACTION, required_action=required, expires_at=expires, worker="", event_seq=event_seq
        ):
            await self.publish.run_status(self.run)
            await self.publish.run_step(step)
        return True

    # --- endings ------------------------------------------------------------------------

    async def _end_message(self, reason: str) -> None:
        turn = self.turn
        if turn.message is not None and turn.message.status == Message.IN_PROGRESS:
            await self._finish_message(turn, Message.INCOMPLETE, reason)
            await self.publish.message_completed(turn.message)
            await self.publish.run_step(turn.step)

    async def _fail(self, code: str, message: str) -> None:
        await self._end_message("run_failed")
        await self._close_open_steps(RunStep.FAILED, {"code": code, "message": message})
        if await self._transition(states.FAILED, last_error={"code": code, "message": message}):
            await self.publish.run_status(self.run)

    async def _end_incomplete(self, reason: str) -> None:
        await self._end_message(reason)
        if await self._transition(states.INCOMPLETE, incomplete_details={"reason": reason}):
            await self.publish.run_status(self.run)

    async def _stop_cancelled(self) -> None:
        await self._end_message("run_cancelled")
        await self._close_open_steps(RunStep.CANCELLED, None)
        if await self._transition(states.CANCELLED):
            await self.publish.run_status(self.run)

    @sync_to_async
    def _close_open_steps_sync(self, status: str, error: dict | None) -> list[RunStep]:
        closed = self.run.close_open_steps(status, error)
        return list(RunStep.objects.filter(pk__in=closed).order_by("created_at", "pk")) if closed else []

    async def _close_open_steps(self, status: str, error: dict | None) -> None:
        for step in await self._close_open_steps_sync(status, error):
            await self.publish.run_step(step)


async def execute(run_id: str, listeners: list[events.Listener] | None = None) -> Run | None:
    return await Execution(run_id, listeners).execute()
