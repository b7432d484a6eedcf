"""Rendering live fragments: the same partials the thread page uses, marked for
htmx out-of-band swaps. Used by the WebSocket consumer and by htmx views."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.html import format_html

from chat.engine import events
from chat.models import Message, Run, Thread

PAGE = "chat/thread.html"


def message_context(message: Message, latest_run_id: str | None = None) -> dict:
    """A message, its streamed text so far, and the tool work shown inline above it (the
    latest run's unfolded, older runs' folded). ``latest_run_id`` saves a query per message
    when a whole page is rendered."""
    streaming = message.status == Message.IN_PROGRESS
    text = events.live_text(message.id) if streaming else None
    steps = message.tool_steps_before()
    if steps and latest_run_id is None:
        latest_run_id = message.thread.runs.values_list("id", flat=True).first()
    return {
        "message": message,
        "stream_text": text if text is not None else message.text,
        "tool_steps": steps,
        "tools_open": bool(steps) and message.run_id == latest_run_id,
    }


def render_message(message: Message, *, oob: str = "true") -> str:
    return render_to_string(f"{PAGE}#message", {**message_context(message), "oob": oob})


def render_new_message(message: Message) -> str:
    inner = render_to_string(f"{PAGE}#message", message_context(message))
    return format_html('<div id="messages" hx-swap-oob="beforeend">{}</div>', inner)


def render_removed(message_ids: list[str]) -> str:
    """Take removed messages (an answer asked again, an edited question) off the page."""
    return "".join(format_html('<div id="message-{}" hx-swap-oob="delete"></div>', i) for i in message_ids)


def render_delta(message_id: str, text: str) -> str:
    return format_html('<span id="stream-{}" hx-swap-oob="beforeend">{}</span>', message_id, text)


def latest_run(thread: Thread) -> Run | None:
    return thread.runs.select_related("assistant").prefetch_related("steps").first()


def render_run_panel(thread: Thread, *, oob: bool = True) -> str:
    """The status chip (with its Cancel button) and the steps of the latest run."""
    run = latest_run(thread)
    context = {"thread": thread, "run": run, "oob": oob}
    from chat.functions.pending import render_pending_action  # the forms for pending function calls

    return (
        render_to_string(f"{PAGE}#run_status", context)
        + render_to_string(f"{PAGE}#composer_action", context)  # Send, or Stop during a run
        + render_to_string(f"{PAGE}#steps", context)
        + render_pending_action(thread, run, oob=oob)
    )
