"""Replays of the web-facing probes of issue 9: log-in guessing (item 6), polling clients
throttled by the server's own hint (item 7) and WebSockets opened from foreign origins (item 8).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertRedirects

from chat.api.models import ApiKey

pytestmark = pytest.mark.django_db

LOCKED_OUT = "Too many failed attempts to log in. Please try again in 15 minutes."


def log_in(client, username, password, *, url=None, address="127.0.0.1"):
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- item 6: log-in throttling ----------------------------------------------------------


def test_sixty_wrong_passwords_then_the_right_one_is_refused_with_the_reason(client, alice):
    for n in range(60):
        log_in(client, "alice", f"guess-{n}")
    response = log_in(client, "alice", "alice-password-1")
    assert response.status_code == 429
    assertContains(response, LOCKED_OUT, status_code=429)
    assertContains(response, '<form method="post"', status_code=429)  # our log-in page, not a bare 403 text
    assert not is_logged_in(client)


def test_the_account_is_locked_whatever_address_the_guesses_come_from(client, alice, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, "alice", f"guess-{n}", address=f"10.0.0.{n + 1}")
    response = log_in(client, "alice", "alice-password-1", address="10.9.9.9")
    assertContains(response, LOCKED_OUT, status_code=429)
    assert not is_logged_in(client)


def test_one_address_guessing_many_accounts_is_locked_out(client, alice, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, f"student{n}", "password123", address="203.0.113.7")
    response = log_in(client, "alice", "alice-password-1", address="203.0.113.7")
    assertContains(response, LOCKED_OUT, status_code=429)
    assert not is_logged_in(client)
    assertRedirects(log_in(client, "alice", "alice-password-1", address="198.51.100.1"), reverse("chat:threads"))


def test_the_admin_log_in_is_throttled_the_same_way(client, django_user_model, settings):
    django_user_model.objects.create_superuser("root", password="root-pass-1")
    admin_login = reverse("admin:login")
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, "root", f"guess-{n}", url=admin_login)
    response = log_in(client, "root", "root-pass-1", url=admin_login)
    assertContains(response, LOCKED_OUT, status_code=429)
    assertContains(response, 'id="login-form"', status_code=429)  # the admin's own log-in page
    assert not is_logged_in(client)


def test_a_few_typos_do_not_lock_anyone_out_and_success_clears_them(client, alice, settings):
    for round in range(3):
        for n in range(settings.LOGIN_FAILURE_LIMIT - 1):
            log_in(client, "alice", f"typo-{n}")
        assertRedirects(log_in(client, "alice", "alice-password-1"), reverse("chat:threads"))
        client.post(reverse("logout"))


def test_after_the_cool_off_the_right_password_works_again(client, alice, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, "alice", f"guess-{n}")
    assert log_in(client, "alice", "alice-password-1").status_code == 429
    # Let the cool-off pass: the latest failure is now LOGIN_COOLOFF_MINUTES + 1 minutes old.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES + 1)
    )
    assertRedirects(log_in(client, "alice", "alice-password-1"), reverse("chat:threads"))


def test_a_locked_out_address_can_still_sign_up_and_use_api_keys(client, alice, settings):
    key = ApiKey.issue(alice, "tests")[1]
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, f"student{n}", "password123")
    assert log_in(client, "alice", "alice-password-1").status_code == 429
    api = client.get("/v1/assistants", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.status_code == 200 and api.json()["object"] == "list"
    response = client.post(
        reverse("chat:signup"),
        {"username": "carol", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assertRedirects(response, reverse("chat:threads"))
