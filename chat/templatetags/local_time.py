"""``{% load local_time %}`` ... ``{{ message.created_at|local_time }}``, ``{{ thread.updated_at|ago }}``

A moment as ``<time>``: rendered here in UTC, labelled so (the server cannot know the
reader's zone), then shown in the reader's own time by static/js/local-time.js.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

register = template.Library()


def utc_label(moment: datetime, now: datetime) -> str:
    """"14:05 UTC" today, "29 Nov, 14:05 UTC" another day this year, else with the year."""
    moment, now = moment.astimezone(UTC), now.astimezone(UTC)
    if moment.date() == now.date():
        return f"{moment:%H:%M} UTC"
    if moment.year == now.year:
        return f"{moment.day} {moment:%b, %H:%M} UTC"
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


@register.filter(name="local_time")
def local_time(moment: datetime | None) -> SafeString | str:
    if moment is None:
        return ""
    return format_html(
        '<time datetime="{}" data-local-time>{}</time>',
        moment.astimezone(UTC).isoformat(timespec="seconds"),
        utc_label(moment, timezone.now()),
    )


@register.filter(name="ago")
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """"5 minutes ago", "2 days ago"; under a minute "just now" (Django's timesince says
    "0 minutes")."""
    if moment is None:
        return ""
    now = now or timezone.now()
    if (now - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, now)} ago"
