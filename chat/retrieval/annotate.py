"""Citations: markers in an answer become ``file_citation`` annotations, and
annotations render as numbered, focusable markers.

When an assistant message is saved complete, each marker ``【c:r†name】`` it contains
is resolved against this run's file_search steps and recorded as an annotation
(file id, quote, page, start/end index of the marker), as the Assistants API does.
Rendering replaces every marker (resolved or not) so none reaches the reader.
"""

from __future__ import annotations

import re

from django.db.models.signals import post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from chat.content import stream_filter, text_transform
from chat.models import File, Message, RunStep
from chat.retrieval.quotes import quote_for
from chat.retrieval.stores import FILE_SEARCH

MARKER = re.compile(r"【(\d+):(\d+)†[^】\n]{0,300}】")
_ANY_MARKER = re.compile(r"【[^】\n]{0,300}】")
# The start of a marker cut off by the end of the text so far.
_MARKER_START = re.compile(r"【[^】\n]{0,300}")
# Wraps a citation number in the text that markdown renders; static/retrieval/citations.js
# turns it into a link. Invisible on its own, and stripped from model text first.
SENTINEL = "\u2063"


def _searches(run_id: str) -> dict[int, dict]:
    found = {}
    for details in RunStep.objects.filter(run_id=run_id, type=RunStep.TOOL_CALLS).order_by("created_at").values_list(
        "step_details", flat=True
    ):
        for entry in details.get("tool_calls", []):
            if entry.get("type") == FILE_SEARCH:
                search = entry.get(FILE_SEARCH) or {}
                found[search.get("marker_index", len(found))] = search
    return found


def _claim_before(text: str, start: int) -> str:
    """The sentence the marker at ``start`` follows."""
    before = _ANY_MARKER.sub("", text[:start]).rstrip()
    cut = max(before.rfind(". ", 0, len(before) - 1), before.rfind("\n"), before.rfind("? "), before.rfind("! "))
    return before[cut + 1 :].strip()[-600:]


def citations_for(text: str, run_id: str) -> list[dict]:
    searches = _searches(run_id)
    annotations = []
    for match in MARKER.finditer(text):
        search = searches.get(int(match.group(1)))
        results = (search or {}).get("results") or []
        index = int(match.group(2))
        if index >= len(results):
            continue
        result = results[index]
        quote, page = quote_for(result, _claim_before(text, match.start()))
        annotations.append(
            {
                "type": "file_citation",
                "text": match.group(0),
                "start_index": match.start(),
                "end_index": match.end(),
                "file_citation": {"file_id": result["file_id"], "quote": quote, "page": page},
            }
        )
    return annotations


@receiver(post_save, sender=Message, dispatch_uid="retrieval-citations")
def add_citations(sender, instance: Message, **kwargs) -> None:
    if instance.role != Message.ASSISTANT or instance.status == Message.IN_PROGRESS or not instance.run_id:
        return
    changed = False
    content = []
    for part in instance.content or []:
        if part.get("type") == "text" and "【" in part["text"].get("value", ""):
            value = part["text"]["value"]
            existing = part["text"].get("annotations") or []
            if not any(a.get("type") == "file_citation" for a in existing):
                new = citations_for(value, instance.run_id)
                if new:
                    part = {"type": "text", "text": {"value": value, "annotations": [*existing, *new]}}
                    changed = True
        content.append(part)
    if changed:
        instance.content = content
        Message.objects.filter(pk=instance.pk).update(content=content)


def document_url(file_id: str, page: int, content_type: str, quote: str = "") -> str:
    if content_type == "application/pdf":
        return reverse("chat:file_content", args=[file_id]) + f"?inline=1#page={page}"
    from urllib.parse import urlencode

    return reverse("retrieval:passage", args=[file_id]) + "?" + urlencode({"q": quote[:300]})


@text_transform
def render_citations(text: str, annotations: list[dict], message) -> tuple[str, str]:
    """Markers → numbered sentinels (upgraded to links by citations.js); a source list after."""
    text = text.replace(SENTINEL, "")
    cites = sorted(
        (a for a in annotations or [] if a.get("type") == "file_citation"), key=lambda a: a.get("start_index", 0)
    )
    if not cites and "【" not in text:
        return text, ""
    files = {f.id: f for f in File.objects.filter(pk__in={a["file_citation"]["file_id"] for a in cites})}
    numbers: dict[tuple, int] = {}
    sources = []
    passages = set()  # the search results quoted ("【c:r†…】"), each perhaps several times
    pieces, position = [], 0
    for annotation in cites:
        start, end = annotation.get("start_index", 0), annotation.get("end_index", 0)
        if start < position or text[start:end] != annotation.get("text"):
            continue  # the text no longer matches this annotation
        citation = annotation["file_citation"]
        key = (citation["file_id"], citation.get("page"), citation.get("quote"))
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            sources.append((numbers[key], citation, files.get(citation["file_id"])))
            passages.add(marked.groups() if (marked := MARKER.fullmatch(annotation.get("text", ""))) else key)
        pieces.append(text[position:start].rstrip(" "))
        pieces.append(f"{SENTINEL}[{numbers[key]}]{SENTINEL}")
        position = end
    pieces.append(text[position:])
    text = _ANY_MARKER.sub("", "".join(pieces))
    if not sources:
        return text, ""
    message_id = getattr(message, "id", "m")
    items = []
    for number, citation, file in sources:
        name = file.filename if file else "a deleted file"
        page = citation.get("page") or 1
        url = document_url(file.id, page, file.content_type, citation.get("quote", "")) if file else ""
        items.append((message_id, number, url, name, page, citation.get("quote", "")))
    listing = format_html_join(
        "",
        '<li id="cite-{}-{}" class="citation-source"><a href="{}" target="_blank" rel="noopener">'
        '<span class="citation-source__file">{}</span>, page {}</a>'
        '<blockquote class="citation-source__quote">{}</blockquote></li>',
        items,
    )
    listing = format_html('<ol class="citations" aria-label="Sources" data-message="{}">{}</ol>', message_id, listing)
    return text, mark_safe(_quotes_of_passages(len(sources), len(passages)) + listing)


def _quotes_of_passages(quotes: int, passages: int) -> str:
    """Said above the sources when a passage is quoted more than once: the run's steps count
    the passages its search found ("1 passage from 1 file"), the answer numbers each quote."""
    if quotes == passages:
        return ""
    return format_html(
        '<p class="citations__count">{} quotes from {} passage{}</p>', quotes, passages, "" if passages == 1 else "s"
    )


class HideMarkersWhileStreaming:
    """While an answer streams, no marker may show, not even for a moment: a complete one
    is shown as its number ("[1]", numbered in order of first use), an unknown one is
    dropped (as the final render does), and a marker's start at the end of the text so far
    is held back until it is complete — or is plainly not a marker and shown as it is."""

    def __init__(self) -> None:
        self.held = ""
        self.numbers: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        text, self.held = self.held + text, ""
        shown, position = [], 0
        while (start := text.find("【", position)) >= 0:
            shown.append(text[position:start])
            if marker := _ANY_MARKER.match(text, start):
                shown.append(self._number(marker.group(0)))
                position = marker.end()
            elif _MARKER_START.fullmatch(text, start):
                self.held = text[start:]
                return "".join(shown)
            else:
                shown.append("【")
                position = start + 1
        shown.append(text[position:])
        return "".join(shown)

    def _number(self, marker: str) -> str:
        known = MARKER.fullmatch(marker)
        if known is None:
            return ""
        key = f"{known.group(1)}:{known.group(2)}"
        number = self.numbers.setdefault(key, len(self.numbers) + 1)
        return f"[{number}]"


stream_filter(HideMarkersWhileStreaming)
