"""The composer's file picker: the limits the server checks (chat.services.files), and
which offered assistants take a file of any type (Code Interpreter on), so the browser
checks a chosen file by the same rule before it travels; and whether its last answer may
be asked again (``answer_on_record``)."""

from django import template
from django.conf import settings
from django.utils.html import format_html

from chat.models import RunStep
from chat.retrieval.extract import ACCEPTED
from chat.services.files import CODE_INTERPRETER, MAX_FILES_PER_MESSAGE
from chat.services.messages import composer_tools

register = template.Library()


@register.simple_tag
def composer_upload_limits(form) -> str:
    any_type = [a.pk for a in form.fields["assistant"].offered if CODE_INTERPRETER in composer_tools(a)]
    searchable = ",".join(ACCEPTED)
    # ``accept`` filters the system's file dialog: only when no offered assistant takes any file.
    accept = format_html(' accept="{}"', searchable) if not any_type else ""
    return format_html(
        'data-searchable="{}" data-any-type-for="{}" data-max-bytes="{}" data-max-files="{}"{}',
        searchable,
        " ".join(any_type),
        settings.FILE_MAX_BYTES,
        MAX_FILES_PER_MESSAGE,
        accept,
    )


@register.filter
def for_tool(files, tool: str) -> list:
    """The attached files a tool is for (``File.used_for``, set by ``chat.files.attached_files``)."""
    return [file for file in files if tool in (getattr(file, "used_for", None) or [])]


@register.simple_tag
def answer_on_record(thread, run_steps) -> bool:
    """``Thread.last_answer_is_record``, asked only when the latest run called a function: a
    quiz is only ever submitted through one, and the run panel renders this on every event
    of every run (no query for the runs that called none)."""
    calls = (
        call
        for step in run_steps
        if step.type == RunStep.TOOL_CALLS
        for call in (step.step_details or {}).get("tool_calls", [])
    )
    return any(call.get("type") == "function" for call in calls) and thread.last_answer_is_record()
