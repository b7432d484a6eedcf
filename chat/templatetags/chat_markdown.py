"""``{% load chat_markdown %}`` ... ``{{ message.content|markdown }}``"""

from django import template
from django.utils.safestring import SafeString

from chat.content import render_content
from chat.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown(value: object) -> SafeString:
    """Render untrusted markdown/LaTeX to sanitized HTML (see chat.markdown)."""
    if value is None:
        return render_markdown("")
    return render_markdown(str(value))


@register.filter(name="message_content")
def message_content(message) -> SafeString:
    """Render a message's content parts (text with annotations, images; see chat.content)."""
    return render_content(message)
