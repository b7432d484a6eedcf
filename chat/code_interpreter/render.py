"""Showing what the code produced: image parts, and sandbox:/mnt/data links that work.

A message that follows a code_interpreter call gets the call's images as ``image_file``
parts and a ``file_path`` annotation for every ``sandbox:/mnt/data/<name>`` it mentions;
rendering turns those into an inline image, and each such link the model writes in prose
(``[Download it](sandbox:/mnt/data/it.csv)``) into a download link.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from django.urls import reverse
from django.utils.html import format_html

from chat import content, tools
from chat.code_interpreter.models import SandboxFile
from chat.models import Message, RunStep

SANDBOX_LINK = re.compile(r"sandbox:/mnt/data/([^\s)\]\"'<>]+)")


def _sandbox_files(thread_id: str) -> dict[str, str]:
    """name -> file id of the newest file code wrote under that name in the thread."""
    rows = SandboxFile.objects.filter(thread_id=thread_id).values_list("name", "file_id")
    return dict(rows)  # ordered oldest first, so the newest wins


def attach_outputs(run, parts: list[dict]) -> list[dict]:
    if not any(tool.get("type") == "code_interpreter" for tool in run.tools or []):
        return parts  # no queries for runs that cannot have used the tool

    images: list[str] = []
    for details in RunStep.objects.filter(run=run, type=RunStep.TOOL_CALLS).values_list("step_details", flat=True):
        for call in (details or {}).get("tool_calls", []):
            for output in (call.get("code_interpreter") or {}).get("outputs", []):
                if output.get("type") == "image":
                    images.append(output["image"]["file_id"])
    if images:
        shown = {
            part["image_file"]["file_id"]
            for message_content in Message.objects.filter(run=run).values_list("content", flat=True)
            for part in message_content or []
            if part.get("type") == "image_file"
        }
        new = [{"type": "image_file", "image_file": {"file_id": fid}} for fid in images if fid not in shown]
        parts = new + parts
    files = None
    for part in parts:
        if part.get("type") != "text":
            continue
        value = part["text"]["value"]
        annotations = part["text"].setdefault("annotations", [])
        for match in SANDBOX_LINK.finditer(value):
            if files is None:
                files = _sandbox_files(run.thread_id)
            file_id = files.get(match.group(1))
            if file_id:
                annotations.append({
                    "type": "file_path", "text": match.group(0), "start_index": match.start(),
                    "end_index": match.end(), "file_path": {"file_id": file_id},
                })
    return parts


if attach_outputs not in tools.CONTENT_HOOKS:
    tools.CONTENT_HOOKS.append(attach_outputs)


def file_url(file_id: str, *, inline: bool = False) -> str:
    url = reverse("chat:file_content", args=[file_id])
    return url + "?inline=1" if inline else url


@content.part_renderer("image_file")
def render_image(part: dict, message):
    file_id = part.get("image_file", {}).get("file_id", "")
    return format_html(
        '<figure class="message__image"><a href="{}"><img src="{}" alt="{}" loading="lazy"></a></figure>',
        file_url(file_id), file_url(file_id, inline=True), "Image made by the assistant's code",
    )


@content.link_resolver
def sandbox_file_link(url: str, annotations: list[dict], message) -> str | None:
    """A ``sandbox:/mnt/data/<name>`` link the model wrote in prose → the file's download
    address. Markdown asks only for links, so a path inside code stays as written."""
    match = SANDBOX_LINK.fullmatch(unquote(url))
    if match is None:
        return None
    known = {a["text"]: a["file_path"]["file_id"] for a in annotations if a.get("type") == "file_path"}
    file_id = known.get(match.group(0))
    if file_id is None and getattr(message, "thread_id", None):
        file_id = _sandbox_files(message.thread_id).get(match.group(1))
    return file_url(file_id) if file_id else None
