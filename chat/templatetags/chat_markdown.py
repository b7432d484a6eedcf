"""``{% load chat_markdown %}`` ... ``{{ message.content|markdown }}``"""

from django import template
from django.utils.safestring import SafeString

from chat.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown(value: object) -> SafeString:
    """Render untrusted markdown/LaTeX to sanitized HTML (see chat.markdown)."""
    if value is None:
        return render_markdown("")
    return render_markdown(str(value))
