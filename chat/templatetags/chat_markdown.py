"""``{% load chat_markdown %}`` ... ``{{ message|message_content }}``"""

from django import template
from django.utils.safestring import SafeString

from chat.content import render_content

register = template.Library()


@register.filter(name="message_content")
def message_content(message) -> SafeString:
    """Render a message's content parts (text with annotations, images; see chat.content)."""
    return render_content(message)
