"""The Django floor's one table (its SQLite variant): a row per request."""

from django.db import models


class Row(models.Model):
    kind = models.CharField(max_length=16)
    stream = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
