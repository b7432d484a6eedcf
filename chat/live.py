"""Rendering live fragments: the same partials the thread page uses, marked for
htmx out-of-band swaps. Used by the WebSocket consumer and by htmx views."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db.models import Model, QuerySet, prefetch_related_objects
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from chat import conversations
from chat.content import StreamedText
from chat.engine import events
from chat.files import attached_files
from chat.models import File, Message, Run, RunStep, Thread, tool_steps_before
from chat.prepared import Prepared

PAGE = "chat/thread.html"

# Parts a plug-in adds below the run panel (function calling: the forms for a run's
# pending calls), registered in its AppConfig.ready(): (thread, run, steps=, oob=, read_only=) -> html
# (``steps``: the run's steps, as the panel knows them).
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
    message: Message,
    latest_run_id: str | None = None,
    stream: StreamedText | None = None,
    *,
    steps: list[RunStep] | None = None,
    files: list[File] | None = None,
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
        "message": message,
        "tool_steps": steps,
        "tools_open": bool(steps) and message.run_id == latest_run_id,
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
    return [message_context(m, latest_run_id, steps=steps.get(m.id, []), files=files.get(m.id, [])) for m in messages]


def render_message(
    message: Message, *, oob: str = "true", stream: StreamedText | None = None, read_only: bool = False, **known
) -> str:
    """``known``: ``latest_run_id`` and ``steps`` when the caller knows them (message_context)."""
    context = message_context(message, stream=stream, **known)
    return render_to_string(f"{PAGE}#message", {**context, "oob": oob, "read_only": read_only})


def render_new_message(
    message: Message, *, stream: StreamedText | None = None, read_only: bool = False, **known
) -> str:
    """``read_only``: for a class's tutor, who sees the student's name instead of "You"."""
    inner = render_to_string(
        f"{PAGE}#message", {**message_context(message, stream=stream, **known), "read_only": read_only}
    )
    return format_html('<div id="messages" hx-swap-oob="beforeend">{}</div>', inner)


def render_thread_title(thread: Thread) -> str:
    """The page's heading and the browser's title, swapped in place: a thread's first
    message may have named it, an edit of that message renamed it."""
    return render_to_string(f"{PAGE}#thread_title", {"thread": thread, "oob": True})


def render_conversation_entry(thread: Thread, back: str | None = None, *, current: Thread | None = None) -> str:
    """A conversation's entry in a sidebar, swapped in place (renamed). ``current``: the
    thread of the page showing the sidebar (the thread itself unless told); ``back``: where
    its rename form returns to without JavaScript (that page)."""
    current = current or thread
    back = back or reverse("chat:thread", args=[current.id])
    context = {"item": thread, "current": current, "back": back, "item_oob": True}
    return render_to_string("chat/conversations.html#conversation_item", context)


def render_newly_listed(thread: Thread, *, current: Thread | None, back: str) -> str:
    """A sidebar after a question in ``thread`` (its first listed it, a later one moved it):
    its entry on top of "Today", within that group as it would be shown when the page has
    none (nothing else asked today). The page decides which (app.js puts the entry alone
    into its "Today" list when it has one, takes off a copy shown below and the date group
    that copy leaves empty; a page showing search results leaves it out). One entry is
    rendered, never the whole list: rendering every conversation (four URLs each) on every
    question was most of the work of a class posting at once (docs/benchmarks.md,
    capacity). ``current`` and ``back`` as render_conversation_entry's."""
    item = render_to_string(
        "chat/conversations.html#conversation_item", {"item": thread, "current": current, "back": back}
    )
    return format_html(
        '<div hx-swap-oob="afterbegin:#conversation-list"><section aria-labelledby="group-today">'
        '<h2 id="group-today" class="conversation-group">Today</h2><ul id="{}">{}</ul></section></div>',
        conversations.TODAY_LIST_ID,
        item,
    )


def render_unlisted(thread_id: str) -> str:
    """Take a deleted conversation off a sidebar: a marker app.js acts on (``applyRemovals``),
    as render_removed's, since a page may not list it (a search, not listed yet)."""
    return format_html(
        '<div hx-swap-oob="beforeend:body"><span hidden data-removed-conversations="{}"></span></div>', thread_id
    )


def render_thread_deleted() -> str:
    """The page of a conversation deleted elsewhere (another tab): it says so at once, its
    composer loses Send (what was typed stays), and it links to a new conversation."""
    return render_to_string(f"{PAGE}#thread_deleted")


def render_moved(thread_ids: list[str]) -> str:
    """Put conversations a sidebar shows on top of its "Today" group, the last named on top
    (a later question the same day): a marker app.js acts on (``applyMoves``), nothing
    rendered, since a page may not list them (a search) or show them already on top."""
    return format_html(
        '<div hx-swap-oob="beforeend:body"><span hidden data-moved-conversations="{}"></span></div>',
        " ".join(thread_ids),
    )


def render_removed(message_ids: list[str]) -> str:
    """Take removed messages (an answer asked again, an edited question) off the page: a
    marker that app.js acts on (``applyRemovals``). Not htmx's out-of-band delete: the tab
    that asked is told twice (its response and its socket), and a delete whose element is
    already gone is an error (htmx:oobErrorNoTarget)."""
    if not message_ids:
        return ""
    return format_html(
        '<div hx-swap-oob="beforeend:body"><span hidden data-removed-messages="{}"></span></div>', " ".join(message_ids)
    )


def render_delta(message_id: str, text: str) -> str:
    """Text to append to a streaming message (already passed through its StreamedText)."""
    return format_html('<span id="stream-{}" hx-swap-oob="beforeend">{}</span>', message_id, text)


# A thread's latest run with its assistant: read at every socket's connect and every
# page (4.5 % of a profile of 200 browser runs to build and compile), compiled once.
_latest_run_of = Prepared(
    Run,
    lambda thread_id: (
        Run.objects.filter(thread_id=thread_id).select_related("assistant").order_by(*Run._meta.ordering)[:1]
    ),
    thread_id=str,
)


def latest_run(thread: Thread) -> Run | None:
    """With its assistant, and its steps prefetched (``run.steps.all()`` reads nothing)."""
    found = _latest_run_of(thread_id=thread.id)
    if found:
        prefetch_related_objects(found, "steps")
    return found[0] if found else None


def render_run_panel(thread: Thread, created: Run | None = None, *, oob: bool = True, read_only: bool = False) -> str:
    """The status chip (with its Cancel button, unless ``read_only``) and the steps of the
    latest run: ``created``, when the caller has just created it (no steps yet), else read."""
    if created is None:
        run = latest_run(thread)
        return _render_panel(thread, run, list(run.steps.all()) if run else [], oob=oob, read_only=read_only)
    return _render_panel(thread, created, [], oob=oob, read_only=read_only)


def _render_panel(
    thread: Thread,
    run: Run | None,
    steps: list[RunStep],
    *,
    oob: bool,
    read_only: bool,
    unchanged: frozenset = frozenset(),
) -> str:
    """``unchanged``: the parts (``RunPanel._part_keys``) the page shows as they are, left out."""
    context = {"thread": thread, "run": run, "run_steps": steps, "oob": oob, "read_only": read_only}
    return (
        render_to_string(f"{PAGE}#run_status", context)
        # Send, or Stop during a run (a reader has no composer)
        + ("" if read_only or "composer_action" in unchanged else render_to_string(f"{PAGE}#composer_action", context))
        + ("" if "steps" in unchanged else render_to_string(f"{PAGE}#steps", context))
        + "".join(part(thread, run, steps=steps, oob=oob, read_only=read_only) for part in _run_panel_parts)
    )


class RunPanel:
    """The run panel of one open page, kept up to date by its socket (chat/consumers.py).

    The events carry the rows they are about (chat/engine/events.py), so the panel keeps
    what it knows of the latest run as an ``events.KnownRun`` (the SSE stream's rules) and
    reads rows only for a run it does not know yet (its first event: the run once, unless
    that is the run's first event of all, which carries it whole; its steps too unless
    that is the run's first event of all), for an event without payload
    (a cancel or a recovery, which close open steps and announce the run alone), and after
    a gap (``render``: the socket saw a number skipped). Reading the latest run with its
    assistant and steps for every event was 11 % of a profile of 200 runs on one socket
    each. ``render`` renders the whole panel, as render_run_panel() renders it; after
    events, only the parts they changed are rendered (``_part_keys``: the page shows the
    others), and events that changed nothing it shows render nothing.

    While its run is active the panel also keeps the run's messages, so the socket renders
    a message.created / message.completed event from its payload (``message``,
    ``render_message``) with the panel's steps as the tool work above it."""

    def __init__(self, thread: Thread, *, read_only: bool = False) -> None:
        self.thread, self.read_only = thread, read_only
        self.known: events.KnownRun | None = None  # the latest run, as last known
        self._shown: tuple | None = None  # what the panel last rendered was rendered from
        self._shown_keys: dict[str, tuple | None] = {}  # and its parts (_part_keys)

    @property
    def run(self) -> Run | None:
        return self.known.run if self.known is not None else None

    def render(self) -> str:
        """The panel of the latest run, read afresh (a page joining, a gap, a server stopping)."""
        run = latest_run(self.thread)  # with its steps prefetched
        self._know(run, list(run.steps.all()) if run is not None else [])
        return self._render()

    def message(self, event: dict) -> Message | None:
        """The message a message.created or message.completed event announces, taken from
        its payload (the event is the run's next one, the socket checked) with the events
        before it: None when its row must be read (no payload, an unnumbered event, a run
        whose messages the panel does not keep)."""
        known = self.known
        if known is None or known.messages is None or not self._took(event):
            return None
        message = known.messages[event["message_id"]]
        return message if message.thread_id == self.thread.id else None

    def streaming_messages(self) -> list[Message] | None:
        """The known run's messages still being written (None: the panel does not keep them)."""
        if self.known is None or self.known.messages is None:
            return None
        return [m for m in self.known.messages.values() if m.status == Message.IN_PROGRESS]

    def know_message(self, row: Message) -> None:
        """A message read from its row, so the known run's messages stay complete."""
        if self.known is not None:
            self.known.know_message(row)

    def render_message(self, message: Message, *, new: bool = False, stream: StreamedText | None = None) -> str:
        """One of the known run's messages, rendered as render_message renders its row but
        without a query: its assistant is the run's (read with it), its thread the page's,
        and the tool work above it is the known steps after the run's message before it."""
        known = self.known
        if message.assistant_id is not None and message.assistant_id == known.run.assistant_id:
            message.assistant = known.run.assistant
        message.thread = self.thread
        render = render_new_message if new else render_message
        return render(
            message,
            stream=stream,
            read_only=self.read_only,
            latest_run_id=known.run_id,
            steps=known.tool_steps_before(message),
        )

    def update(self, taken: Iterable[dict]) -> str:
        """The panel after these run.status and run.step events (each the run's next, or
        unnumbered); "" when nothing it shows changed."""
        for event in taken:
            if not self._took(event):
                self._read(event)
        if self._state() == self._shown:
            return ""
        # Only the parts these events changed: the page shows the others as they are.
        keys, shown = self._part_keys(), self._shown_keys
        return self._render(frozenset(name for name, key in keys.items() if key is not None and shown.get(name) == key))

    def _took(self, event: dict) -> bool:
        """Whether the known run took ``event``'s payload: a numbered event of that run
        (the socket checked it is the next) that carries its row."""
        known = self.known
        return (
            known is not None
            and event.get("seq") is not None
            and event.get("run_id") == known.run_id
            and known.take(event)
        )

    def _read(self, event: dict) -> None:
        run_id = event.get("run_id") or (event.get("step") or {}).get("run_id")
        if run_id is None:  # an unnumbered step event too large to carry its row
            self.render()
            return
        shown = self.run
        # The run's first event of all carries it whole, with its assistant's name (the
        # messages it writes are rendered with it); any other is read, with its assistant.
        run = events.whole_run(event) if event.get("seq") == 1 else None
        if run is None or run.thread_id != self.thread.id:
            run = _by_pk(Run.objects.filter(pk=run_id, thread=self.thread).select_related("assistant"))
        if run is None or (shown is not None and run.created_at < shown.created_at):
            return  # gone, or an older run's late event: the panel shows the latest run
        # A run's first event of all comes before its first step and message (the rows read
        # now may be newer than the events still queued; those events bring them).
        if event.get("seq") == 1:
            self._know(run, [], [])
        else:
            self._know(run)

    def _know(self, run: Run | None, steps: list[RunStep] | None = None, messages: list[Message] | None = None) -> None:
        """``steps``: the run's, when known; else read (``KnownRun.read``, in their order).
        ``messages``: the run's, when known; else they are read while the run is active
        (its messages are rendered from their events' payloads) and not kept otherwise (an
        ended run's late message event reads its row)."""
        if run is None:
            self.known = None
            return
        self.known = events.KnownRun(run.id, messages=messages is not None or run.is_active)
        self.known.read(run, steps=steps, messages=messages)

    def _state(self) -> tuple:
        if self.known is None:
            return ()
        return (
            _fields(self.known.run),
            self.known.run.status_label,
            tuple(_fields(step) for step in self.known.steps.values()),
        )

    def _part_keys(self) -> dict[str, tuple | None]:
        """What each part of the panel that may be left out is rendered from; None: render
        it whatever it shows. The status chip is always rendered (small, and a page may have
        swapped in an older one from a POST's response that crossed the socket's frames: the
        next frame puts it right, as when every frame was the whole panel); so are plug-ins'
        parts. The composer's buttons: the run and whether it is active or waiting (a thread
        whose assistant is gone is a query to tell)."""
        run = self.run
        return {
            "composer_action": (
                (run.id if run else None, run.status if run else None) if self.thread.assistant_id is not None else None
            ),
            "steps": (run is None, self._state()[2] if run is not None else ()),
        }

    def _render(self, unchanged: frozenset = frozenset()) -> str:
        self._shown, self._shown_keys = self._state(), self._part_keys()
        steps = list(self.known.steps.values()) if self.known is not None else []
        return _render_panel(self.thread, self.run, steps, oob=True, read_only=self.read_only, unchanged=unchanged)


def _by_pk(rows: QuerySet) -> Model | None:
    """The row of a primary-key lookup, without the ORDER BY that ``.first()`` adds."""
    found = list(rows.order_by()[:1])
    return found[0] if found else None


def _fields(row: Model) -> tuple:
    return tuple(getattr(row, field.attname) for field in row._meta.concrete_fields)
