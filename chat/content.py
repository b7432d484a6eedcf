"""Rendering a message's content parts to HTML.

A message's ``content`` is a list of parts in the Assistants shape: ``text`` (with
``annotations``: file_citation, file_path) and ``image_file``. Each part type has one
renderer here; the tool issues add theirs (citations, sandbox file links, images) by
registering with ``part_renderer`` / ``annotation_renderer`` from their own app.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from chat.markdown import render_markdown
from chat.streaming_math import MathWhileStreaming

PartRenderer = Callable[[dict, object], SafeString]
# (text, annotations, message) -> (markdown text with annotations applied, extra HTML after it)
TextTransform = Callable[[str, list[dict], object], tuple[str, SafeString]]
# (url, annotations, message) -> a path on this site for a link the model wrote, or None
LinkResolver = Callable[[str, list[dict], object], str | None]

_part_renderers: dict[str, PartRenderer] = {}
_text_transforms: list[TextTransform] = []
_link_resolvers: list[LinkResolver] = []
# A filter over a message's text while it streams: called with each new piece of raw text,
# it returns what may be shown now (it may hold text back until it can tell what it is).
StreamFilter = Callable[[str], str]
_stream_filters: list[Callable[[], StreamFilter]] = []


def part_renderer(part_type: str):
    def register(fn: PartRenderer) -> PartRenderer:
        _part_renderers[part_type] = fn
        return fn

    return register


def text_transform(fn: TextTransform) -> TextTransform:
    """Register a pass over a text part before markdown (e.g. turning citation markers
    into links); it returns the new text and HTML to append after the part."""
    if fn not in _text_transforms:
        _text_transforms.append(fn)
    return fn


def link_resolver(fn: LinkResolver) -> LinkResolver:
    """Register a resolver for links markdown cannot follow by itself (``sandbox:``)."""
    if fn not in _link_resolvers:
        _link_resolvers.append(fn)
    return fn


def stream_filter(factory: Callable[[], StreamFilter]) -> Callable[[], StreamFilter]:
    """Register a factory of stream filters (one filter per streaming message and page)."""
    if factory not in _stream_filters:
        _stream_filters.append(factory)
    return factory


class StreamedText:
    """What a page shows of a message while it streams: its raw text, piece by piece,
    through every registered stream filter, as HTML: escaped text, and each formula as
    soon as it is complete as its math element (chat/streaming_math.py). ``received``
    counts the raw characters fed."""

    def __init__(self) -> None:
        self.filters = [factory() for factory in _stream_filters]
        self.math = MathWhileStreaming()
        self.received = 0

    def feed(self, text: str) -> SafeString:
        self.received += len(text)
        for keep in self.filters:
            text = keep(text)
        return self.math(text)


@part_renderer("text")
def render_text(part: dict, message) -> SafeString:
    text = part.get("text", {}).get("value", "")
    annotations = part.get("text", {}).get("annotations", []) or []
    extras = []
    for transform in _text_transforms:
        text, extra = transform(text, annotations, message)
        if extra:
            extras.append(extra)

    def resolve_link(url: str) -> str | None:
        return next(filter(None, (resolver(url, annotations, message) for resolver in _link_resolvers)), None)

    return mark_safe(render_markdown(text, resolve_link=resolve_link) + "".join(extras))


def render_content(message) -> SafeString:
    html = []
    for part in message.content or []:
        renderer = _part_renderers.get(part.get("type"))
        if renderer is None:
            html.append(format_html('<p class="muted">[{} content]</p>', part.get("type", "unknown")))
        else:
            html.append(renderer(part, message))
    return mark_safe("".join(html))
