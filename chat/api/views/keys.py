"""The browser pages where a user creates and revokes API keys (a key is shown once)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from chat.api.models import ApiKey


class KeyNameForm(forms.Form):
    # CharField also refuses NUL characters (PostgreSQL's text cannot hold them).
    name = forms.CharField(max_length=100, required=False)


def _get_key_for_user(user, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(pk=key_id, owner_id=user.pk).first()
    if key is None:
        raise Http404("No such key.")
    return key


@require_GET
@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    keys = ApiKey.objects.filter(owner=request.user)
    base_url = request.build_absolute_uri("/v1")
    return render(request, "api/keys.html", {"keys": keys, "base_url": base_url})


@require_POST
@login_required
def key_create(request: HttpRequest) -> HttpResponse:
    form = KeyNameForm(request.POST)
    keys = ApiKey.objects.filter(owner=request.user)
    base_url = request.build_absolute_uri("/v1")
    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return render(request, "api/keys.html", {"keys": keys, "base_url": base_url, "errors": errors}, status=400)
    key, raw = ApiKey.issue(request.user, form.cleaned_data["name"])
    # Rendered, not redirected: the raw key must never be stored, not even in the session.
    return render(request, "api/keys.html", {"keys": keys, "base_url": base_url, "new_key": raw, "new_key_row": key})


@require_POST
@login_required
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _get_key_for_user(request.user, key_id)
    key.revoke()
    messages.success(request, f"Revoked the key {key.prefix}…")
    return redirect("apikeys:list")
