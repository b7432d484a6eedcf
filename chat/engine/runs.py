"""Starting, cancelling and resuming runs: the operations views, the CLI and the API share."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.engine import dispatch, events, states
from chat.models import Assistant, Message, Run, RunStep, Thread


class ThreadBusy(Exception):
    """The thread already has an active run."""

    def __init__(self, run: Run | None = None) -> None:
        super().__init__("This thread already has an active run. Wait for it to finish, or cancel it.")
        self.run = run


class InvalidToolOutputs(Exception):
    pass


def _check_idle(thread: Thread) -> None:
    active = thread.active_run()
    if active is not None:
        raise ThreadBusy(active)


def create_run(thread: Thread, assistant: Assistant, *, start: bool = True, **overrides) -> Run:
    """Queue a run of ``assistant`` on ``thread``; it starts after the transaction commits
    (``start=False`` leaves it queued for a caller that executes it itself)."""
    fields = {
        "model": assistant.model,
        "instructions": assistant.instructions,
        "tools": assistant.tools,
        "temperature": assistant.temperature,
        "top_p": assistant.top_p,
        "response_format": assistant.response_format,
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    try:
        with transaction.atomic():
            _check_idle(thread)
            run = Run.objects.create(thread=thread, assistant=assistant, **fields)
    except IntegrityError:  # another request queued a run between our check and insert
        raise ThreadBusy(thread.active_run()) from None
    if start:
        transaction.on_commit(lambda: dispatch.dispatch(run.id))
    return run


def post_message(thread: Thread, text: str, assistant: Assistant, *, start: bool = True) -> tuple[Message, Run]:
    """Save the user's message and queue a run to answer it, or neither."""
    with transaction.atomic():
        _check_idle(thread)
        message = Message.objects.create(thread=thread, role=Message.USER, content=Message.text_content(Message.clean_input(text)))
        if not thread.title:
            thread.title = title_from(text)
        thread.assistant = assistant
        thread.updated_at = timezone.now()
        thread.save(update_fields=["title", "assistant", "updated_at"])
        run = create_run(thread, assistant, start=start)
    return message, run


# Markdown that reads as noise in a title: fences, images and links (kept: their text),
# emphasis and code marks, and the markers that open a heading, quote or list item.
_FENCE = re.compile(r"^\s*(```|~~~)[^\n]*$", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LINE_MARK = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_INLINE_MARK = re.compile(r"(\*\*|__|\*|~~|`|(?<!\w)_|_(?!\w))")


class NothingToRedo(Exception):
    """The thread has no message of the user's to answer again or to edit."""


def _last_question(thread: Thread) -> Message:
    last = thread.messages.filter(role=Message.USER).order_by("-seq").first()
    if last is None:
        raise NothingToRedo("There is no message of yours in this conversation yet.")
    return last


def _remove(messages) -> list[str]:
    removed = list(messages.values_list("id", flat=True))
    messages.delete()
    return removed


def regenerate_last_answer(thread: Thread, assistant: Assistant) -> tuple[Run, list[str]]:
    """Answer the user's last message again: the answers given to it are removed first.
    Returns the new run and the ids of the removed messages."""
    with transaction.atomic():
        _check_idle(thread)
        removed = _remove(thread.messages.filter(seq__gt=_last_question(thread).seq))
        return create_run(thread, assistant), removed


def edit_last_question(thread: Thread, text: str, assistant: Assistant) -> tuple[Message, Run, list[str]]:
    """Replace the user's last message (and the answers to it) with ``text``, and answer that.
    Returns the new message, its run and the ids of the removed messages."""
    with transaction.atomic():
        _check_idle(thread)
        removed = _remove(thread.messages.filter(seq__gte=_last_question(thread).seq))
        message, run = post_message(thread, text, assistant)
        return message, run, removed


def title_from(text: str, limit: int = 60) -> str:
    """A conversation title from its first message: one line of plain text, no Markdown."""
    plain = _INLINE_MARK.sub("", _LINE_MARK.sub("", _LINK.sub(r"\1", _FENCE.sub("", text))))
    words = " ".join(plain.split())
    if len(words) <= limit:
        return words
    return words[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def cancel_run(run: Run) -> bool:
    """Ask a run to stop. Returns False when it had already ended."""
    if not run.transition(states.CANCELLING, expect=frozenset({states.QUEUED, states.IN_PROGRESS, states.REQUIRES_ACTION})):
        return False
    if not run.worker:  # nobody is executing it (queued, or waiting for tool outputs)
        run.close_open_steps(RunStep.CANCELLED)
        run.transition(states.CANCELLED, required_action=None)
        # No engine is there to announce it: tell every open tab of the thread.
        events.publish_sync(run.thread_id, "run.status", run_id=run.id)
    else:
        dispatch.interrupt(run.id)
    return True


def submit_tool_outputs(run: Run, outputs: list[dict], *, start: bool = True) -> Run:
    """Give a run in requires_action one output per pending call, and resume it."""
    if run.status != states.REQUIRES_ACTION:
        raise InvalidToolOutputs(f"This run is {run.status}, not waiting for tool outputs.")
    pending = [c["id"] for c in run.required_action["submit_tool_outputs"]["tool_calls"]]
    given = [o.get("tool_call_id") for o in outputs]
    if len(given) != len(set(given)):
        raise InvalidToolOutputs("Each tool call may be answered only once.")
    if set(given) != set(pending):
        missing = sorted(set(pending) - set(given))
        extra = sorted(set(given) - set(pending))
        detail = "; ".join(filter(None, [missing and f"missing {', '.join(missing)}", extra and f"unknown {', '.join(map(str, extra))}"]))
        raise InvalidToolOutputs(f"Submit exactly one output for every pending tool call ({detail}).")
    by_id = {o["tool_call_id"]: str(o.get("output", "")) for o in outputs}
    with transaction.atomic():
        step = RunStep.objects.select_for_update().get(run=run, type=RunStep.TOOL_CALLS, status=RunStep.IN_PROGRESS)
        entries = step.step_details["tool_calls"]
        for entry in entries:
            if entry["id"] in by_id:
                entry["function"]["output"] = by_id[entry["id"]]
        if not run.transition(states.QUEUED, expect=states.REQUIRES_ACTION, required_action=None, expires_at=None):
            raise InvalidToolOutputs(f"This run is {run.status}, not waiting for tool outputs.")
        step.status, step.completed_at = RunStep.COMPLETED, timezone.now()
        step.save(update_fields=["step_details", "status", "completed_at"])
        if start:
            transaction.on_commit(lambda: dispatch.dispatch(run.id))
    return run
