"""Posting messages: on its own (/v1), or with the run that answers it (the browser,
``manage.py ask``), with attachments; answering the last question again; editing it; deleting one.

One way to add a message, whatever the surface: the thread must be idle, a
``file_search`` attachment goes into the thread's vector store, a ``code_interpreter``
one becomes a file the thread's code interpreter can read, the first question names
the thread, and the thread moves to the top of the list.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from chat.engine import events
from chat.engine.runs import check_idle, queue_run
from chat.models import Assistant, File, Message, Run, Thread
from chat.retrieval import stores
from chat.services import Refused
from chat.services.files import CODE_INTERPRETER, attach_to_thread, save_uploads, too_many, tools_for_file


class NothingToRedo(Exception):
    """The thread has no message of the user's to answer again or to edit (or not the one
    the user was editing)."""


class AnswerOnRecord(NothingToRedo):
    """The answer to the last message holds a quiz the user submitted (``Thread.last_answer_is_record``)."""


ANSWER_ON_RECORD = (
    "Your last message was answered with a quiz you submitted, and its grading showed the right answers: "
    "that answer stays as the record of your attempt, so it cannot be answered again or edited. "
    "To try again, ask for another quiz."
)

QUESTION_CHANGED = (
    "Your last message changed since you began editing (in another tab?), so nothing was replaced. "
    "Send again to replace your latest message with this text."
)


def add_message(
    thread: Thread,
    *,
    role: str = Message.USER,
    content: list[dict],
    attachments: Iterable[dict] = (),
    metadata: dict | None = None,
) -> Message:
    """Add a message (content in the API's shape) to an idle thread."""
    with transaction.atomic():
        check_idle(thread)
        message, fields = _new_message(thread, role=role, content=content, attachments=attachments, metadata=metadata)
        thread.save(update_fields=fields)
    return message


def _new_message(
    thread: Thread,
    *,
    role: str = Message.USER,
    content: list[dict],
    attachments: Iterable[dict] = (),
    metadata: dict | None = None,
) -> tuple[Message, list[str]]:
    """The message saved, and the thread's fields it changed (to save), on a thread its
    caller found idle in the transaction it is in."""
    if any(part.get("type") == "text" and Message.is_blank(part["text"]["value"]) for part in content):
        raise Refused(Message.BLANK, param="content", code="empty_string")
    for part in content:
        if part.get("type") == "text" and (problem := Message.too_long(part["text"]["value"])):
            raise Refused(problem, param="content", code="string_above_max_length")
    attachments = list(attachments)
    if refused := too_many(len(attachments)):
        raise refused
    message = Message.objects.create(
        thread=thread, role=role, content=content, attachments=attachments, metadata=metadata or {}
    )
    fields = ["updated_at", *_use_attachments(thread, message.attachments)]
    earlier_day = thread.updated_at is not None and timezone.localdate(thread.updated_at) != timezone.localdate()
    thread.updated_at = timezone.now()
    named = False
    if not thread.title and message.role == Message.USER and message.text.strip():
        thread.title = title_from(message.text)
        fields.append("title")
        named = True
    if message.role == Message.USER:
        # The owner's pages put it on top of "Today": rendered when it is listed (named by
        # its first question) or comes back from an earlier day; a later question the same
        # day only moves the entry they show (rendering it on every page for every question
        # cost pages × questions, 40,000 renders when one user has 200 tabs asking at once).
        news = events.CONVERSATION_LISTED if named or earlier_day else events.CONVERSATION_MOVED
        transaction.on_commit(lambda: events.tell_owner_sync(thread.owner_id, news, thread_id=thread.id), robust=True)
    return message, fields


def _use_attachments(thread: Thread, attachments: list[dict]) -> list[str]:
    """As the hosted API did: file_search attachments go into the thread's vector store,
    code_interpreter attachments become files the thread's code interpreter can read.
    Returns the thread's fields to save."""
    search = [a["file_id"] for a in attachments if any(t["type"] == stores.FILE_SEARCH for t in a["tools"])]
    code = [a["file_id"] for a in attachments if any(t["type"] == CODE_INTERPRETER for t in a["tools"])]
    changed = []
    if search:
        attach_to_thread(thread, list(File.objects.filter(pk__in=search, owner_id=thread.owner_id)))
    if code:
        resources = dict(thread.tool_resources or {})
        known = list((resources.get("code_interpreter") or {}).get("file_ids") or [])
        resources["code_interpreter"] = {"file_ids": known + [i for i in code if i not in known]}
        thread.tool_resources = resources
        changed.append("tool_resources")
    return changed


def start_run(
    thread: Thread, assistant: Assistant, *, messages: Iterable[dict] = (), start: bool = True, **options
) -> Run:
    """Add ``messages`` and queue a run of ``assistant`` on ``thread``, in one transaction
    (the run starts after commit unless ``start=False``); the thread now talks to
    ``assistant``. ``options`` override the assistant's settings for this run."""
    with transaction.atomic():
        check_idle(thread)  # once for the messages and the run: all are added, or none
        changed = [field for message in messages for field in _new_message(thread, **message)[1]]
        return _queue_answer(thread, assistant, changed, start=start, **options)


def _queue_answer(thread: Thread, assistant: Assistant, changed: list[str], *, start: bool, **options) -> Run:
    """The run, on a thread found idle in this transaction; the thread's fields the new
    messages ``changed`` are saved with the thread's new assistant, in one write."""
    run = queue_run(thread, assistant, start=start, **options)
    thread.assistant = assistant
    thread.updated_at = timezone.now()
    thread.save(update_fields=sorted({*changed, "assistant", "updated_at"}))
    return run


def composer_tools(assistant: Assistant) -> set[str]:
    """The tools a file attached in the composer can be for: file_search always (a thread
    with files gets it on its runs), code_interpreter when the assistant has it on."""
    return {stores.FILE_SEARCH, *(t.get("type") for t in assistant.tools if t.get("type") == CODE_INTERPRETER)}


def post_message(
    thread: Thread, text: str, assistant: Assistant, *, uploads=(), start: bool = True
) -> tuple[Message, Run]:
    """A person's question, with the files they attached, and the run that answers it:
    both saved, or neither. Each file is for the tools that can use it
    (``tools_for_file``): file_search for a type it can read, code_interpreter for any
    file when the assistant has it on. A thread that has searchable files gets file_search
    on its runs even when the assistant has none (the files were attached to be
    searched); the run waits for them to be read (``chat.retrieval.waiting``)."""
    tools = composer_tools(assistant)
    with transaction.atomic():
        check_idle(thread)  # before any upload is saved; once for the message and its run
        files = save_uploads(thread.owner, uploads, tools=tools)
        attachments = [
            {"file_id": f.id, "tools": [{"type": t} for t in tools_for_file(f.filename, tools)]} for f in files
        ]
        message, changed = _new_message(
            thread, content=Message.text_content(Message.clean_input(text)), attachments=attachments
        )
        tools = assistant.tools
        if stores.store_ids(thread) and stores.FILE_SEARCH not in {t.get("type") for t in tools}:
            tools = [*tools, {"type": stores.FILE_SEARCH}]
        run = _queue_answer(thread, assistant, changed, start=start, tools=tools)
    return message, run


# Markdown that reads as noise in a title: fences, images and links (kept: their text),
# emphasis and code marks, and the markers that open a heading, quote or list item. Stars
# go only in pairs that hug their words, as Markdown's emphasis does (*a*, **a b**): any
# other "*" is an operator (10**9, 2*k, (a+b)**2, 12 * 7, 5*-3) and stays.
_FENCE = re.compile(r"^\s*(```|~~~)[^\n]*$", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LINE_MARK = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_STAR_EMPHASIS = re.compile(r"(?<![\w*])(\*+)(?![\s*])(.+?)(?<![\s*])\1(?![\w*])")
_INLINE_MARK = re.compile(r"__|~~|`|(?<!\w)_|_(?!\w)")


# A title needs only the message's start; pairing stars costs up to the square of a line's
# length, so a 256,000-character message must not be read whole.
TITLE_SOURCE_CHARS = 1000


def _without_star_emphasis(text: str) -> str:
    for _ in range(3):  # again for nested emphasis (**a *b* c**), a few levels deep
        if (plain := _STAR_EMPHASIS.sub(r"\2", text)) == text:
            break
        text = plain
    return text


# Formulas keep their text, not their delimiters ("Solve $x^2=4$" -> "Solve x^2=4"), found by
# the render's rules (chat/markdown.py): $$…$$, \[…\], \(…\), and $…$ with no space just
# inside and no digit just outside the dollars, so "costs $5 and $10" stays as written.
_FORMULA = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\d$])\$(?![\s$])([^$\n]+?)(?<!\s)\$(?![\d$])", re.DOTALL
)
# Where each formula stood while the Markdown around it is taken off (its LaTeX is no
# Markdown: "\sum_{k}" keeps its "_"): one private-use character per formula.
_FORMULA_SLOT = 0xE000


def title_from(text: str, limit: int = 60) -> str:
    """A conversation title from its first message: one line of plain text, no Markdown,
    formulas as their bare LaTeX."""
    formulas: list[str] = []

    def slot(found: re.Match) -> str:
        formulas.append(next(part for part in found.groups() if part is not None))
        return chr(_FORMULA_SLOT + len(formulas) - 1)

    text = _FORMULA.sub(slot, text[:TITLE_SOURCE_CHARS])
    plain = _INLINE_MARK.sub("", _without_star_emphasis(_LINE_MARK.sub("", _LINK.sub(r"\1", _FENCE.sub("", text)))))
    if formulas:
        slots = re.compile(f"[{chr(_FORMULA_SLOT)}-{chr(_FORMULA_SLOT + len(formulas) - 1)}]")
        plain = slots.sub(lambda found: formulas[ord(found.group()) - _FORMULA_SLOT], plain)
    # Invisible format characters (zero-width spaces, joiners) would only make a title
    # that looks blank or breaks where it should not.
    words = " ".join("".join(char for char in plain if unicodedata.category(char) != "Cf").split())
    if len(words) <= limit:
        return words
    return words[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def _last_question(thread: Thread) -> Message:
    """The user's last message, to answer again or edit: refused when there is none, or when
    its answer is a submitted quiz's record."""
    last = thread.messages.filter(role=Message.USER).order_by("-seq").first()
    if last is None:
        raise NothingToRedo("There is no message of yours in this conversation yet.")
    if thread.last_answer_is_record():
        raise AnswerOnRecord(ANSWER_ON_RECORD)
    return last


def _remove(thread_id: str, messages) -> list[str]:
    """Remove ``messages`` of the thread. Once that is committed, every open page of the
    thread (the owner's other tabs, a watching tutor) is told to take them off."""
    removed = list(messages.values_list("id", flat=True))
    messages.delete()
    if removed:
        # Robust: the removal stands even if a page cannot be told (it shows it when reloaded).
        transaction.on_commit(
            lambda: events.publish_sync(thread_id, events.MESSAGES_REMOVED, message_ids=removed), robust=True
        )
    return removed


def delete_message(message: Message) -> None:
    """Delete one message of a thread (/v1), unless a run is still writing it."""
    if message.status == Message.IN_PROGRESS:
        raise Refused("This message is still being written by a run; cancel the run first.")
    with transaction.atomic():
        _remove(message.thread_id, Message.objects.filter(pk=message.pk))


def regenerate_last_answer(thread: Thread, assistant: Assistant) -> tuple[Run, list[str]]:
    """Answer the user's last message again: the answers given to it are removed first.
    Returns the new run and the ids of the removed messages."""
    with transaction.atomic():
        check_idle(thread)
        removed = _remove(thread.id, thread.messages.filter(seq__gt=_last_question(thread).seq))
        return queue_run(thread, assistant), removed


def edit_last_question(
    thread: Thread, text: str, assistant: Assistant, *, replaces: str = ""
) -> tuple[Message, Run, list[str]]:
    """Replace the user's last message (and the answers to it) with ``text``, and answer that.
    ``replaces``: the id of the message the editor was opened on; if a newer one was sent
    since (another tab), nothing is replaced. Returns the new message, its run and the ids
    of the removed messages."""
    with transaction.atomic():
        check_idle(thread)
        question = _last_question(thread)
        if replaces and replaces != question.id:
            raise NothingToRedo(QUESTION_CHANGED)
        if _titled_by(thread, question):
            thread.title = ""  # the edited question names the conversation anew
        removed = _remove(thread.id, thread.messages.filter(seq__gte=question.seq))
        message, run = post_message(thread, text, assistant)
        return message, run, removed


def _titled_by(thread: Thread, question: Message) -> bool:
    """The thread still has the title its first question gave it (not renamed since)."""
    return (
        thread.title == title_from(question.text)
        and not thread.messages.filter(role=Message.USER, seq__lt=question.seq).exists()
    )
