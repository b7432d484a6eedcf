"""API keys: shown once, stored as a SHA-256 hash (a key is 190+ random bits, so a fast
hash is enough; no password hasher needed)."""

from __future__ import annotations

import hashlib
import secrets
import time

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "sk-tutor-"

# key hash -> (owner, monotonic time until which it may be used without a lookup)
_recent_keys: dict[str, tuple[object, float]] = {}
RECENT_KEYS_MAX = 10_000
clock = time.monotonic  # a seam for tests


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    # The first characters of the key, shown in lists so a user can tell keys apart.
    prefix = models.CharField(max_length=24)
    hashed_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.owner})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, owner, name: str = "") -> tuple[ApiKey, str]:
        """Create a key; returns the row and the raw key (the only time it exists in clear)."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(owner=owner, name=name[:100], prefix=raw[: len(KEY_PREFIX) + 6], hashed_key=hash_key(raw))
        return key, raw

    @classmethod
    def authenticate(cls, raw: str):
        """The active key's owner for ``raw``, or None. A key found is remembered for
        API_KEY_CACHE_SECONDS in this process (a lookup per request was 6 % of a busy
        server's time), so revoking a key, or deactivating its owner, takes effect within
        that long in other processes; in this one, ``revoke()`` forgets it at once."""
        hashed = hash_key(raw)
        cached = _recent_keys.get(hashed)
        if cached is not None and cached[1] > clock():
            return cached[0]
        key = cls.objects.active().select_related("owner").filter(hashed_key=hashed).first()
        if key is None or not key.owner.is_active:
            _recent_keys.pop(hashed, None)
            return None
        if settings.API_KEY_CACHE_SECONDS:
            if len(_recent_keys) >= RECENT_KEYS_MAX:
                _recent_keys.clear()  # many keys at once: start over rather than grow
            _recent_keys[hashed] = (key.owner, clock() + settings.API_KEY_CACHE_SECONDS)
        now = timezone.now()
        # Stamp at most once a minute: a write per request would serialize SQLite for nothing.
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.owner

    def revoke(self) -> None:
        _recent_keys.pop(self.hashed_key, None)
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


def new_batch_id() -> str:
    return "vsfb_" + secrets.token_hex(12)


class FileBatch(models.Model):
    """A vector store file batch: the files added together, so the API can report on
    them as one object. Their processing status lives on chat.retrieval's entries."""

    id = models.CharField(primary_key=True, max_length=40, default=new_batch_id, editable=False)
    vector_store = models.ForeignKey("retrieval.VectorStore", on_delete=models.CASCADE, related_name="+")
    file_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
