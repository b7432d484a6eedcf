"""One socket per open thread page: news of its thread, and of the signed-in user's list
of conversations (the sidebar). It only relays: the engine saves, publishes an
event naming the rows and carrying their fields, and this consumer renders them with the
page's partials (from the payloads; from the rows when an event carries none or some were
lost)."""

from __future__ import annotations

import asyncio
import functools
import weakref
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.contrib import auth
from django.db import connection
from django.db.models import F
from django.http import Http404
from django.urls import reverse

from chat import conversations, live
from chat.access import get_thread_for_reader
from chat.content import StreamedText
from chat.engine import events
from chat.models import Message, Thread


def on_database_thread(fn):
    """Channels' database_sync_to_async without its close_old_connections() around every
    call: these calls run on asgiref's one shared thread, the engine's database thread, and
    with CONN_MAX_AGE=0 each socket event closed that thread's connection, so the engine's
    next query opened a new one (6 % of a profile at 200 runs). The connection is kept; one
    that had an error and no longer answers is dropped before the next call."""

    def call(*args, **kwargs):
        if connection.connection is not None and connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()
        return fn(*args, **kwargs)

    return sync_to_async(functools.wraps(fn)(call))


# Sockets this process serves, so that a stopping server can send each its final state.
_open_sockets: weakref.WeakSet[ThreadConsumer] = weakref.WeakSet()

# One render of a listed conversation's entry for all of its owner's pages in this process:
# each page reading and rendering it made one user's 50 tabs asking at once 2,500 trips to
# the database thread, and their sockets fell behind their own runs' text.
_ENTRIES_KEPT = 256
_entries: dict[str, asyncio.Future] = {}


async def _entry_for_every_page(news: str, thread_id: str, render) -> str:
    key = f"{news}:{thread_id}"
    entry = _entries.get(key)
    if entry is None or entry.get_loop() is not asyncio.get_running_loop():
        entry = _entries[key] = asyncio.ensure_future(render(thread_id))
        while len(_entries) > _ENTRIES_KEPT:
            del _entries[next(iter(_entries))]
    return await asyncio.shield(entry)


# The close code of a stopping server: 1012 ("service restart") in the application range
# (Daphne sends only 1000 or 3000-4999). htmx's ws extension reconnects on any close.
SERVICE_RESTART = 4012


async def close_open_sockets(timeout: float) -> None:
    """At shutdown, once this process's runs have ended: each open page receives the run
    panel as it is now (the final status), then its socket closes with SERVICE_RESTART. The request
    goes through each socket's own channel, so it is handled after the run's last events."""
    layer = get_channel_layer()
    for consumer in list(_open_sockets):
        await layer.send(consumer.channel_name, {"type": "server.stopping"})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _open_sockets and loop.time() < deadline:
        await asyncio.sleep(0.05)


def _shown_through(query_string: bytes) -> int | None:
    """The ``seq`` of the newest message the thread page showed (its socket URL says
    ``?after=N``), or None. Only ever narrows what this reader may read anyway."""
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"after" and value.isdigit() and len(value) <= 19:
            return min(int(value), 2**63 - 1)  # seq is a bigint
    return None


class ThreadConsumer(AsyncWebsocketConsumer):
    thread: Thread | None = None  # set once the socket is open: its reader may read it
    group: str | None = None
    user_group: str | None = None  # the signed-in user's: news of their list of conversations
    read_only = True  # a class's tutor watching a student's conversation
    last_user_seq = 0  # the newest user message this page shows
    _panel_task: asyncio.Task | None = None
    _sequence: events.Sequence | None = None  # the numbered events taken of the latest run seen
    _panel_reread = False  # a gap: the panel is read afresh, whatever the events said
    _quiet_task: asyncio.Task | None = None  # looks at a live run's status after a quiet spell
    _heard = 0  # events handled so far, so the quiet-spell watcher sees whether any came
    thread_deleted = False  # the page was told its thread is gone: its panel stays as it is

    async def connect(self) -> None:
        """One trip to the database thread: who is signed in, whether they may read the
        thread, and the snapshot. The socket joins the thread's group first, so no event
        between the snapshot and joining is lost; events are handled only after connect()
        returns, and a refused socket leaves the group without being sent anything."""
        # message id -> its text this socket has shown (and held back) while it streams
        self.shown: dict[str, StreamedText] = {}
        # The run.status and run.step events the panel has not been rendered for yet.
        self._panel_events: list[dict] = []
        self._quiet = events.QuietSpell()
        thread_id = self.scope["url_route"]["kwargs"]["thread_id"]
        group = events.group_for(thread_id)
        try:
            self.channel_layer.require_valid_group_name(group)
        except TypeError:  # no thread has such an id (ours are ASCII)
            await self.close(code=4404)
            return
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        snapshot = await self._open(thread_id)
        if snapshot is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
            await self.close(code=4404)
            return
        # The sidebar lists the signed-in user's own conversations (a tutor's too, on a
        # student's page): its news comes to their group, joined once the session is checked.
        self.user_group = events.group_of_user(self.scope["user"].pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()
        _open_sockets.add(self)
        await self.send(text_data=snapshot)
        self._watch_quiet_spells()

    async def disconnect(self, code: int) -> None:
        _open_sockets.discard(self)
        for task in (self._panel_task, self._quiet_task):
            if task is not None:
                task.cancel()
        for group in (self.group, self.user_group):
            if group is not None:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def websocket_disconnect(self, message: dict) -> None:
        """Channels' own closes stale database connections after disconnect(), as its
        dispatch does before every handler (see below): a hop through the one database
        thread for every closing page, each closing that thread's connection, the engine's,
        with CONN_MAX_AGE=0 (5 % of the server's samples at 200 browser runs). This
        consumer's groups are its own, left in disconnect()."""
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def dispatch(self, message: dict) -> None:
        """Channels' own dispatch closes stale database connections before every handler,
        a hop through the one thread-sensitive executor that all ORM work shares (and, with
        CONN_MAX_AGE=0, the end of that thread's connection). Our handlers reach the
        database only through on_database_thread, so events skip that hop.

        A text delta also takes whatever is already queued for this socket: runs of deltas
        of one message become one frame (a socket that fell behind catches up at once),
        the other events are handled in their order."""
        if self.thread is None and not message["type"].startswith("websocket."):
            return  # an event for a socket that was refused (or is still being opened)
        batch = [message]
        if message.get("type") == "message.delta":
            batch += events.queued(self.channel_layer, self.channel_name)
        for event in events.coalesce(batch):
            self._heard += 1
            if self._missed_events_before(event):
                await self._catch_up_after_gap()
            handler = getattr(self, get_handler_name(event), None)
            if handler is None:
                raise ValueError(f"No handler for message type {event['type']}")
            await handler(event)
        self._watch_quiet_spells()

    def _missed_events_before(self, event: dict) -> bool:
        """Whether the run's events skipped a number since the last one this socket took
        (a full queue drops events). The first event of a run seen here starts its count;
        the count goes on across the run's executions (events.Sequence)."""
        if event.get("seq") is None:
            return False
        if self._sequence is None or self._sequence.run_id != event["run_id"]:
            self._sequence = events.Sequence(event["run_id"])
        missed = not self._sequence.follows(event)
        self._sequence.take(event)
        return missed

    def _watch_quiet_spells(self) -> None:
        """While the panel shows a live run, look at its status after each quiet spell: a
        lost *last* event (the run's final status) shows no gap, as nothing follows it."""
        run = self.panel.run if self.thread is not None else None
        if events.QuietSpell.watches(run) and (self._quiet_task is None or self._quiet_task.done()):
            self._quiet_task = asyncio.create_task(self._look_after_quiet_spells())

    async def _look_after_quiet_spells(self) -> None:
        while events.QuietSpell.watches(self.panel.run):
            heard = self._heard
            await asyncio.sleep(self._quiet.seconds)
            if self._heard != heard:
                self._quiet.heard()
                continue
            if self._quiet.lost(await self._status_moved()):
                await self._catch_up_after_gap()
                await self._panel_task

    async def _catch_up_after_gap(self) -> None:
        """Show the rows as they are now: the run panel, and the messages this socket shows
        streaming (one that ended unseen is rendered ended). Not the connect snapshot: it
        would take a message whose first event was lost for one already on the page."""
        self._panel_reread = True
        self._refresh_panel()
        for message_id in list(self.shown):
            await self.send(text_data=await self._message(message_id))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """The page sends nothing that matters over the socket; forms post over HTTP."""

    # --- database work ------------------------------------------------------------------

    @on_database_thread
    def _open(self, thread_id: str) -> str | None:
        """The page's snapshot, or None when no one is signed in or the thread is not
        theirs to read. The session's user is Django's (the same check as every HTTP
        request), read here instead of in a trip of its own (channels' AuthMiddleware)."""
        user = auth.get_user(SimpleNamespace(session=self.scope["session"]))
        if not user.is_authenticated:
            return None
        try:
            thread, can_write = get_thread_for_reader(user, thread_id)
        except Http404:
            return None
        self.scope["user"] = user
        self.read_only = not can_write
        shown = _shown_through(self.scope.get("query_string", b""))
        if shown is None:  # not opened by the thread page: whatever exists now is shown
            shown = thread.messages.filter(role=Message.USER).order_by("-seq").values_list("seq", flat=True).first()
        self.last_user_seq = shown or 0
        self.thread = thread
        self.panel = live.RunPanel(thread, read_only=self.read_only)
        return self._snapshot()

    def _snapshot(self) -> str:
        """Bring a page rendered a moment ago up to date, including text streamed since."""
        html = [self.panel.render()]
        # At most one run of a thread is active, and no run starts after it: the latest.
        # At most one run of a thread is active, and no run starts after it: the latest,
        # whose messages the panel has just read with it.
        for message in self.panel.streaming_messages() or []:
            self.shown[message.id] = stream = StreamedText()
            html.append(self.panel.render_message(message, stream=stream))
        return "".join(html)

    async def _announced_message(self, event: dict, *, new: bool = False) -> str:
        """The message a message.created or message.completed event announces: from its
        payload once the panel has taken the status and step events before it (the tool
        work shown above the message is the panel's steps), else from its row."""
        if self._panel_task is not None and not self._panel_task.done():
            await self._panel_task
        return await self._message(event["message_id"], new=new, event=event)

    @on_database_thread
    def _message(self, message_id: str, *, new: bool = False, event: dict | None = None) -> str:
        message = self.panel.message(event) if event is not None else None
        if message is not None:
            self.shown[message_id] = stream = StreamedText()
            return self.panel.render_message(message, new=new, stream=stream)
        message = (
            Message.objects.filter(pk=message_id, thread=self.thread).select_related("assistant", "thread").first()
        )
        if message is None:
            return ""
        self.panel.know_message(message)
        self.shown[message_id] = stream = StreamedText()
        if new:
            return live.render_new_message(message, stream=stream, read_only=self.read_only)
        return live.render_message(message, stream=stream, read_only=self.read_only)

    def _posted_questions(self, start: dict) -> str:
        """User messages posted since this page was rendered (from another tab, or the
        student a tutor watches), and the title the first of them may have given the thread:
        from the run's first event (``start``), which carries them, or read when it does not
        or the page lacks a question before them."""
        carried = events.carried_questions(start, self.last_user_seq)
        if carried is not None:
            posted, title = carried
            for message in posted:
                message.thread = self.thread  # the page's (its owner's name, for a tutor)
                message.thread_title = title
        else:
            rows = self.thread.messages.filter(role=Message.USER, seq__gt=self.last_user_seq)
            posted = rows.annotate(thread_title=F("thread__title")).order_by("seq")
        html = []
        for message in posted:
            html.append(live.render_new_message(message, read_only=self.read_only))
            self.last_user_seq = message.seq
            self.thread.title = message.thread_title
        if html:  # perhaps named by its first question, or renamed by an edit of it
            # (the sidebar's entry comes to the owner's pages from their own group)
            html.append(live.render_thread_title(self.thread))
        return "".join(html)

    @on_database_thread
    def _renamed(self, title: str) -> str:
        self.thread.title = title
        return live.render_thread_title(self.thread)

    @on_database_thread
    def _sidebar_entry(self, thread_id: str, *, listed: bool, any_page: bool = False) -> str:
        """The entry of one of the signed-in user's conversations in this page's sidebar:
        on top of it (``listed``), or in place; "" when it is gone, or not theirs (a group
        carries only its user's news, but the rows decide) or not listed (no message yet).
        ``any_page``: as any page of the user on another conversation shows it, not marked
        current, its rename form coming back to the list (rendered once for all of them)."""
        user = self.scope["user"]
        # Only a listed one: a page lacks the entry of one not listed (htmx:oobErrorNoTarget).
        thread = conversations.listed_threads(user).filter(pk=thread_id).first()
        if thread is None:
            return ""
        current = None if any_page else self.thread
        back = reverse("chat:threads") if any_page else reverse("chat:thread", args=[self.thread.id])
        if listed:
            return live.render_newly_listed(thread, current=current, back=back)
        return live.render_conversation_entry(thread, back, current=current)

    @on_database_thread
    def _run_panel(self, taken: list[dict]) -> str:
        # A run's first event follows the message that started it, which reached only the
        # posting tab, in its HTTP response: other tabs and a watching tutor get it here,
        # in the panel's own trip, before the answer it starts (whose render waits for the
        # panel's). The posting tab drops its second copy (app.js).
        start = next((event for event in taken if event["type"] == "run.status" and event.get("seq", 1) == 1), None)
        return (self._posted_questions(start) if start is not None else "") + self.panel.update(taken)

    async def _status_moved(self) -> bool:
        known = self.panel.known
        return known is not None and await known.status_moved()

    @on_database_thread
    def _whole_run_panel(self) -> str:
        return self.panel.render()

    # --- events from the engine ------------------------------------------------------------

    async def run_status(self, event: dict) -> None:
        self._panel_events.append(event)
        self._refresh_panel()

    async def run_step(self, event: dict) -> None:
        self._panel_events.append(event)
        self._refresh_panel()

    def _refresh_panel(self) -> None:
        """A burst of status and step events costs one render, not one each: while the
        panel is being rendered, later events wait, and it is rendered once more
        afterwards with all of them taken, so nothing is lost."""
        if self._panel_task is None or self._panel_task.done():
            self._panel_task = asyncio.create_task(self._render_panel_until_fresh())

    async def _render_panel_until_fresh(self) -> None:
        while self._panel_events or self._panel_reread:
            taken, reread = self._panel_events, self._panel_reread
            # After a gap the rows are read now: they hold what the events waiting say.
            self._panel_events, self._panel_reread = [], False
            html = await (self._whole_run_panel() if reread else self._run_panel(taken))
            if html and not self.thread_deleted:
                await self.send(text_data=html)

    async def message_created(self, event: dict) -> None:
        # The snapshot may already have shown it: then replace rather than append.
        new = event["message_id"] not in self.shown
        await self.send(text_data=await self._announced_message(event, new=new))

    async def message_delta(self, event: dict) -> None:
        message_id, offset, text = event["message_id"], event["offset"], event["text"]
        stream = self.shown.get(message_id)
        if stream is None or offset > stream.received:
            # We missed its start (or a delta was dropped): re-render it whole.
            await self.send(text_data=await self._message(message_id, new=stream is None))
            return
        if offset + len(text) <= stream.received:
            return  # already in the snapshot
        visible = stream.feed(text[stream.received - offset :])
        if visible:
            await self.send(text_data=live.render_delta(message_id, visible))

    async def message_completed(self, event: dict) -> None:
        self.shown.pop(event["message_id"], None)
        await self.send(text_data=await self._announced_message(event))

    async def server_stopping(self, event: dict) -> None:
        """The server is stopping: show the run as it ended, then let the page reconnect
        (to this server once it is back, or to another one)."""
        if self._panel_task is not None and not self._panel_task.done():
            await self._panel_task
        await self.send(text_data=await self._whole_run_panel())
        _open_sockets.discard(self)
        await self.close(code=SERVICE_RESTART)

    async def messages_removed(self, event: dict) -> None:
        """Messages of the thread were removed (answered again, edited, deleted through /v1),
        perhaps from another tab: this page takes them off too."""
        for message_id in event["message_ids"]:
            self.shown.pop(message_id, None)
        await self.send(text_data=live.render_removed(event["message_ids"]))

    async def thread_renamed(self, event: dict) -> None:
        """The thread was renamed by hand, perhaps from another tab."""
        await self.send(text_data=await self._renamed(event["title"]))

    # --- news of the signed-in user's list of conversations (their own group) ---------------

    async def conversation_listed(self, event: dict) -> None:
        """Conversations of theirs got their first question, or one after an earlier day,
        or a later one (``moved``) (perhaps in another tab), gathered for a moment
        (events.tell_owner): the listed ones' entries, then all put in order on top."""
        moved = set(event.get("moved", ()))
        for thread_id in event["thread_ids"]:
            if thread_id in moved:  # the page shows it (or not): app.js moves it, nothing read
                continue
            if thread_id == self.thread.id:  # this page's own: marked current in it
                html = await self._sidebar_entry(thread_id, listed=True)
            else:
                html = await _entry_for_every_page(
                    event["news"], thread_id, functools.partial(self._sidebar_entry, listed=True, any_page=True)
                )
            if html:
                await self.send(text_data=html)
        if moved:
            await self.send(text_data=live.render_moved(event["thread_ids"]))

    async def conversation_renamed(self, event: dict) -> None:
        if html := await self._sidebar_entry(event["thread_id"], listed=False):
            await self.send(text_data=html)

    async def conversation_unlisted(self, event: dict) -> None:
        """A conversation of theirs was deleted (perhaps in another tab); when it is this
        page's own, the page says so, and no later panel brings Send back."""
        html = live.render_unlisted(event["thread_id"])
        if event["thread_id"] == self.thread.id:
            self.thread_deleted = True
            html += live.render_thread_deleted()
        await self.send(text_data=html)

    async def file_status(self, event: dict) -> None:
        """An attached file finished processing (retrieval ingest)."""
        await self.send(text_data=await on_database_thread(live.render_event)(events.FILE_STATUS, self.thread, event))
