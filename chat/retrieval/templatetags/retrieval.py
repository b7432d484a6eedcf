from django import template

from chat.models import File

register = template.Library()


@register.simple_tag
def message_files(message) -> list[File]:
    """The files attached to a message, in attachment order (the thread owner's only)."""
    ids = [a.get("file_id") for a in message.attachments or [] if isinstance(a, dict)]
    if not ids:
        return []
    found = File.objects.filter(pk__in=ids, owner_id=message.thread.owner_id).in_bulk()
    return [found[i] for i in ids if i in found]
