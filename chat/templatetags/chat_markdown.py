"""``{% load chat_markdown %}`` ... ``{{ message|message_content }}``"""

from django import template
from django.utils.safestring import SafeString

from chat.content import render_content
from chat.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown(value: object) -> SafeString:
    """Render untrusted Markdown that is not a message (a quiz attempt's feedback) to sanitized HTML."""
    return render_markdown("" if value is None else str(value))


@register.filter(name="message_content")
def message_content(message) -> SafeString:
    """Render a message's content parts (text with annotations, images; see chat.content)."""
    return render_content(message)
