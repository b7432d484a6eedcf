from django import template
from django.conf import settings
from django.utils.html import format_html

from chat.retrieval.extract import ACCEPTED
from chat.services.files import MAX_FILES_PER_MESSAGE

register = template.Library()


@register.simple_tag
def upload_limits() -> str:
    """The attributes that let the browser check files before uploading them: the same
    limits chat.services.files enforces on the server (types, size, count)."""
    return format_html(
        'accept="{}" data-max-bytes="{}" data-max-files="{}"',
        ",".join(ACCEPTED),
        settings.FILE_MAX_BYTES,
        MAX_FILES_PER_MESSAGE,
    )
