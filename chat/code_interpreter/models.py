from __future__ import annotations

from django.db import models
from django.utils import timezone


class SandboxFile(models.Model):
    """A file that code wrote under /mnt/data, saved as a File: what a
    ``sandbox:/mnt/data/<name>`` link in the thread points to."""

    thread = models.ForeignKey("chat.Thread", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey("chat.Run", null=True, on_delete=models.SET_NULL, related_name="+")
    tool_call_id = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=255)
    file = models.ForeignKey("chat.File", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["thread", "name"])]
