"""The browser pages where a user creates and revokes API keys (a key is shown once)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chat.api.models import ApiKey
from chat.views.methods import require_GET, require_POST


class KeyNameForm(forms.Form):
    # CharField also refuses NUL characters (PostgreSQL's text cannot hold them).
    name = forms.CharField(max_length=100, required=False)


def _get_key_for_user(user, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(pk=key_id, owner_id=user.pk).first()
    if key is None:
        raise Http404("No such key.")
    return key


# The session slot of a key just created: read, and removed, by the next page view.
NEW_KEY = "apikeys_new_key"


@require_GET
@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    keys = ApiKey.objects.filter(owner=request.user)
    base_url = request.build_absolute_uri("/v1")
    new_key, new_key_row = request.session.pop(NEW_KEY, None), None
    if new_key is not None:
        new_key_row = keys.filter(pk=new_key["id"]).first()
    return render(
        request,
        "api/keys.html",
        {"keys": keys, "base_url": base_url, "new_key": new_key and new_key["key"], "new_key_row": new_key_row},
    )


@require_POST
@login_required
def key_create(request: HttpRequest) -> HttpResponse:
    """Post, then redirect: reloading the page must not create a second key. The raw key
    waits in the session only until the page after the redirect shows it (once)."""
    form = KeyNameForm(request.POST)
    if not form.is_valid():
        keys = ApiKey.objects.filter(owner=request.user)
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        context = {"keys": keys, "base_url": request.build_absolute_uri("/v1"), "errors": errors}
        return render(request, "api/keys.html", context, status=400)
    key, raw = ApiKey.issue(request.user, form.cleaned_data["name"].strip())
    request.session[NEW_KEY] = {"id": key.pk, "key": raw}
    messages.success(request, f"Created the key {key.prefix}…")
    return redirect("apikeys:list")


@require_POST
@login_required
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _get_key_for_user(request.user, key_id)
    key.revoke()
    messages.success(request, f"Revoked the key {key.prefix}…")
    return redirect("apikeys:list")
