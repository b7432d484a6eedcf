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


class SessionHolder(models.Model):
    """Which server process holds a thread's Python session. A process that finds another
    one named here knows the thread's variables lived in a process that has since gone
    (a restart), and says so in the next call's logs instead of losing them silently."""

    thread = models.OneToOneField("chat.Thread", primary_key=True, on_delete=models.CASCADE, related_name="+")
    worker = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.thread_id} on {self.worker}"

    @classmethod
    def claim(cls, thread_id: str, worker: str) -> bool:
        """Record ``worker`` as the holder; True when another process held a session before."""
        previous = cls.objects.filter(thread_id=thread_id).values_list("worker", flat=True).first()
        if previous != worker:
            cls.objects.update_or_create(thread_id=thread_id, defaults={"worker": worker, "updated_at": timezone.now()})
        return previous is not None and previous != worker
