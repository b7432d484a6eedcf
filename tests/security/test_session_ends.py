"""A session ends everywhere it is used — the pages and the thread's socket — when its user
logs out, changes their password elsewhere, or is deactivated. Sessions are read through a
cache (cached_db, project/settings.py), so these check that no cached copy outlives them."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from project.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True)]


def _signed_in(password: str = "alice-password-1") -> tuple[Client, str]:
    client = Client()
    response = client.post(reverse("login"), {"username": "alice", "password": password})
    assert response.status_code == 302
    return client, client.cookies["sessionid"].value


def _page_with(cookie: str) -> int:
    """The conversations page's status for a browser holding this session cookie."""
    other = Client()
    other.cookies["sessionid"] = cookie
    return other.get(reverse("chat:threads")).status_code


async def _socket_with(cookie: str, thread_id: str) -> bool:
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", f"sessionid={cookie}".encode())]
    communicator = WebsocketCommunicator(application, f"/ws/threads/{thread_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    await communicator.disconnect()
    return connected


def _used(cookie: str, thread_id: str) -> None:
    """The session works, so a copy of it may now be in the cache."""
    assert _page_with(cookie) == 200
    assert async_to_sync(_socket_with)(cookie, thread_id)


def _refused(cookie: str, thread_id: str) -> None:
    assert _page_with(cookie) == 302  # to the log-in page
    assert not async_to_sync(_socket_with)(cookie, thread_id)


def test_a_logged_out_session_is_refused_by_the_pages_and_the_socket(alice, thread):
    client, cookie = _signed_in()
    _used(cookie, thread.id)
    client.post(reverse("logout"))
    _refused(cookie, thread.id)


def test_changing_the_password_ends_the_users_other_sessions(alice, thread):
    _, elsewhere = _signed_in()
    _used(elsewhere, thread.id)
    here, kept = _signed_in()
    response = here.post(
        reverse("password_change"),
        {
            "old_password": "alice-password-1",
            "new_password1": "a-fresh-pass-phrase-7",
            "new_password2": "a-fresh-pass-phrase-7",
        },
    )
    assert response.status_code == 302
    _refused(elsewhere, thread.id)
    # The session that changed it goes on (Django gives it the new hash).
    assert here.get(reverse("chat:threads")).status_code == 200


def test_a_deactivated_user_is_refused_at_once(alice, thread, django_user_model):
    _, cookie = _signed_in()
    _used(cookie, thread.id)
    # As an admin's bulk action does it: no signal, no save() of the instance.
    django_user_model.objects.filter(pk=alice.pk).update(is_active=False)
    _refused(cookie, thread.id)
