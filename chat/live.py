"""Rendering live fragments: the same partials the thread page uses, marked for
htmx out-of-band swaps. Used by the WebSocket consumer and by htmx views."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Model, QuerySet
from django.template.loader import render_to_string
from django.utils.html import format_html

from chat.content import StreamedText
from chat.engine import events
from chat.files import attached_files
from chat.models import File, Message, Run, RunStep, Thread, tool_steps_before

PAGE = "chat/thread.html"

# Parts a plug-in adds below the run panel (function calling: the forms for a run's
# pending calls), registered in its AppConfig.ready(): (thread, run, oob=, read_only=) -> html.
RunPanelPart = Callable[..., str]
_run_panel_parts: list[RunPanelPart] = []


def register_run_panel_part(part: RunPanelPart) -> RunPanelPart:
    if part not in _run_panel_parts:
        _run_panel_parts.append(part)
    return part


# Events a plug-in publishes to a thread's page (retrieval: "file.status", a file chip),
# with what renders each, registered in its AppConfig.ready(): (thread, event) -> html.
EventRenderer = Callable[[Thread, dict], str]
_event_renderers: dict[str, EventRenderer] = {}


def register_event_renderer(event_type: str, render: EventRenderer) -> None:
    _event_renderers[event_type] = render


def render_event(event_type: str, thread: Thread, event: dict) -> str:
    render = _event_renderers.get(event_type)
    return render(thread, event) if render is not None else ""


def message_context(
    message: Message, latest_run_id: str | None = None, stream: StreamedText | None = None, *,
    steps: list[RunStep] | None = None, files: list[File] | None = None,
) -> dict:
    """A message, its streamed text so far, its attached files and the tool work shown
    inline above it (the latest run's unfolded, older runs' folded). ``latest_run_id``,
    ``steps`` and ``files`` save queries per message when a whole page is rendered (see
    message_contexts). While the message streams, its text so far is shown through
    ``stream`` (a fresh one unless given), which later deltas then continue."""
    if steps is None:
        steps = message.tool_steps_before()
    if files is None:
        files = attached_files([message]).get(message.id, []) if message.attachments else []
    if steps and latest_run_id is None:
        latest_run_id = message.thread.runs.values_list("id", flat=True).first()
    context = {
        "message": message, "tool_steps": steps, "tools_open": bool(steps) and message.run_id == latest_run_id,
        "attached_files": files,
    }
    if message.status != Message.IN_PROGRESS:
        return {**context, "stream_text": message.text}
    text = events.live_text(message.id)
    stream = stream if stream is not None else StreamedText()
    return {**context, "stream_text": stream.feed(text if text is not None else message.text)}


def message_contexts(messages: list[Message], latest_run_id: str | None) -> list[dict]:
    """message_context() for a page of messages, with their tool work and files read for
    the whole page at once: the same number of queries for 10 messages or 50."""
    steps, files = tool_steps_before(messages), attached_files(messages)
    return [
        message_context(m, latest_run_id, steps=steps.get(m.id, []), files=files.get(m.id, [])) for m in messages
    ]


def render_message(message: Message, *, oob: str = "true", stream: StreamedText | None = None, read_only: bool = False) -> str:
    return render_to_string(f"{PAGE}#message", {**message_context(message, stream=stream), "oob": oob, "read_only": read_only})


def render_new_message(message: Message, *, stream: StreamedText | None = None, read_only: bool = False) -> str:
    """``read_only``: for a class's tutor, who sees the student's name instead of "You"."""
    inner = render_to_string(f"{PAGE}#message", {**message_context(message, stream=stream), "read_only": read_only})
    return format_html('<div id="messages" hx-swap-oob="beforeend">{}</div>', inner)


def render_removed(message_ids: list[str]) -> str:
    """Take removed messages (an answer asked again, an edited question) off the page."""
    return "".join(format_html('<div id="message-{}" hx-swap-oob="delete"></div>', i) for i in message_ids)


def render_delta(message_id: str, text: str) -> str:
    """Text to append to a streaming message (already passed through its StreamedText)."""
    return format_html('<span id="stream-{}" hx-swap-oob="beforeend">{}</span>', message_id, text)


def latest_run(thread: Thread) -> Run | None:
    return thread.runs.select_related("assistant").prefetch_related("steps").first()


def render_run_panel(thread: Thread, created: Run | None = None, *, oob: bool = True, read_only: bool = False) -> str:
    """The status chip (with its Cancel button, unless ``read_only``) and the steps of the
    latest run: ``created``, when the caller has just created it (no steps yet), else read."""
    if created is None:
        return _render_panel(thread, latest_run(thread), oob=oob, read_only=read_only)
    _give_steps(created, [])
    return _render_panel(thread, created, oob=oob, read_only=read_only)


def _render_panel(thread: Thread, run: Run | None, *, oob: bool, read_only: bool) -> str:
    context = {"thread": thread, "run": run, "oob": oob, "read_only": read_only}
    return (
        render_to_string(f"{PAGE}#run_status", context)
        + ("" if read_only else render_to_string(f"{PAGE}#composer_action", context))  # Send, or Stop during a run (a reader has no composer)
        + render_to_string(f"{PAGE}#steps", context)
        + "".join(part(thread, run, oob=oob, read_only=read_only) for part in _run_panel_parts)
    )


def _by_pk(rows: QuerySet) -> Model | None:
    """The row of a primary-key lookup, without the ORDER BY that ``.first()`` adds."""
    found = list(rows.order_by()[:1])
    return found[0] if found else None


class RunPanel:
    """The run panel of one open page, kept up to date by its socket (chat/consumers.py).

    An event names the run or the step that changed, so only that row is read, by primary
    key: reading the latest run with its assistant and its steps for every event was 11 %
    of a profile of 200 runs on one socket each (Django compiling the queries, not the
    database working). The steps are read again when a step event names them, or when the
    run's status changed while one was open (cancelling or recovering a run closes its open
    steps and announces the run only). Whatever changed, the whole panel is rendered, as
    render_run_panel() renders it; events that changed nothing it shows render nothing."""

    def __init__(self, thread: Thread, *, read_only: bool = False) -> None:
        self.thread, self.read_only = thread, read_only
        self.run: Run | None = None
        self._shown: tuple | None = None  # what the panel last rendered was rendered from

    def render(self) -> str:
        """The panel of the latest run, read afresh (a page joining, a server stopping)."""
        self.run = latest_run(self.thread)
        return self._render()

    def update(self, run_ids: Iterable[str] = (), step_ids: Iterable[str] = ()) -> str:
        """The panel after events naming these runs and steps; "" when nothing it shows changed."""
        for run_id in run_ids:
            self._take_run(run_id)
        steps = list(RunStep.objects.filter(pk__in=set(step_ids)).order_by()) if step_ids else []
        if any(self.run is None or step.run_id != self.run.id for step in steps):
            # A step of a run this panel does not show (its run.status is still to come,
            # or an older run's): whichever run is the latest now, as the page would show.
            self.run = latest_run(self.thread)
        elif steps:
            known = {step.id: step for step in self.run.steps.all()} | {step.id: step for step in steps}
            _give_steps(self.run, sorted(known.values(), key=lambda step: step.created_at))
        return self._render() if self._state() != self._shown else ""

    def _take_run(self, run_id: str) -> None:
        shown = self.run
        run = _by_pk(Run.objects.filter(pk=run_id, thread=self.thread))
        if run is None or (shown is not None and run.created_at < shown.created_at):
            return  # gone, or an older run's late event: the panel shows the latest run
        steps = list(shown.steps.all()) if shown is not None and run.id == shown.id else None
        # Besides in step events, only a change of status (cancelled, failed, expired)
        # changes steps, and only open ones: otherwise the panel's steps are current.
        if steps is None or (run.status != shown.status and any(s.status == RunStep.IN_PROGRESS for s in steps)):
            steps = list(RunStep.objects.filter(run_id=run.id))
        _give_steps(run, steps)
        self.run = run

    def _state(self) -> tuple:
        run = self.run
        if run is None:
            return ()
        return _fields(run), run.status_label, tuple(_fields(step) for step in run.steps.all())

    def _render(self) -> str:
        self._shown = self._state()
        return _render_panel(self.thread, self.run, oob=True, read_only=self.read_only)


def _fields(row: Model) -> tuple:
    return tuple(getattr(row, field.attname) for field in row._meta.concrete_fields)


def _give_steps(run: Run, steps: list[RunStep]) -> None:
    """Hand ``run`` its steps as prefetch_related("steps") would: the partials' and the
    plug-in parts' ``run.steps.all()`` then read these instead of querying."""
    cache = run.__dict__.setdefault("_prefetched_objects_cache", {})
    cache.pop("steps", None)
    rows = run.steps.get_queryset()
    rows._result_cache, rows._prefetch_done = steps, True
    cache["steps"] = rows
