"""``{% load code_interpreter %}``: the pieces of a code_interpreter step."""

import re

from django import template
from django.utils.safestring import SafeString

from chat.code_interpreter.models import SandboxFile
from chat.markdown import render_markdown

register = template.Library()


@register.filter(name="ci_code")
def ci_code(code: object) -> SafeString:
    """The program, highlighted like a fenced python block (the fence outgrows any backticks in it)."""
    code = str(code or "")
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return render_markdown(f"{fence}python\n{code}\n{fence}")


@register.simple_tag
def ci_files(call_id: str):
    return list(SandboxFile.objects.filter(tool_call_id=call_id).select_related("file"))


@register.filter(name="image_file_ids")
def image_file_ids(message: object) -> set[str]:
    """The images a message shows as its own ``image_file`` parts: a step's output that is
    one of them is only pointed to, so the message area shows each figure once."""
    parts = getattr(message, "content", None) or []
    return {(part.get("image_file") or {}).get("file_id") for part in parts if part.get("type") == "image_file"}
