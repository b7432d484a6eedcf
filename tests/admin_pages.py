"""Addresses of the Django admin's object pages, as the admin itself writes them."""

from django.contrib.admin.utils import quote
from django.urls import reverse


def admin_url(viewname, pk):
    """The admin reads ``_XX`` in an object id as an escaped character (``_2B`` is "+"), so
    its own links quote the id; a raw id such as "asst_2B…" would name another object."""
    return reverse(viewname, args=[quote(pk)])
