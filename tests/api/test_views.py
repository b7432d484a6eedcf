"""The /v1 views through Django's test client: auth, errors, limits, pagination edges."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chat.api.models import ApiKey
from chat.engine import events
from chat.models import Message, Run

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def alice_key(alice) -> str:
    return ApiKey.issue(alice, "tests")[1]


@pytest.fixture
def bob_key(bob) -> str:
    return ApiKey.issue(bob, "tests")[1]


def call(client, method: str, path: str, key: str | None, body=None, raw: bytes | None = None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return getattr(client, method.lower())(path, data=data, content_type="application/json", **headers, **extra)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_it_rejects_a_request_without_a_key(client):
    response = call(client, "GET", "/v1/assistants", None)
    assert response.status_code == 401 and error_of(response)["type"] == "invalid_request_error"


def test_a_browser_session_is_not_an_api_key(alice_client):
    assert call(alice_client, "GET", "/v1/assistants", None).status_code == 401


def test_it_rejects_a_wrong_or_revoked_key(client, alice, alice_key):
    assert error_of(call(client, "GET", "/v1/assistants", "sk-tutor-nope"))["code"] == "invalid_api_key"
    assert call(client, "GET", "/v1/assistants", alice_key).status_code == 200
    ApiKey.objects.get(owner=alice).revoke()
    assert call(client, "GET", "/v1/assistants", alice_key).status_code == 401


def test_a_key_is_looked_up_once_per_cache_period(alice, alice_key, django_assert_num_queries):
    ApiKey.authenticate(alice_key)
    with django_assert_num_queries(0):
        assert ApiKey.authenticate(alice_key) == alice


def test_a_key_revoked_by_another_process_stops_working_once_the_cache_period_ends(
    client, alice, alice_key, settings, monkeypatch
):
    from chat.api import models as api_models

    settings.API_KEY_CACHE_SECONDS = 5
    assert call(client, "GET", "/v1/assistants", alice_key).status_code == 200
    # Another process revokes it: a plain UPDATE, this process's cache is not told.
    ApiKey.objects.filter(owner=alice).update(revoked_at=timezone.now())
    assert call(client, "GET", "/v1/assistants", alice_key).status_code == 200  # within the period
    now = api_models.clock()
    monkeypatch.setattr(api_models, "clock", lambda: now + 5.01)
    assert call(client, "GET", "/v1/assistants", alice_key).status_code == 401


def test_with_no_cache_period_every_request_looks_the_key_up(client, alice, alice_key, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    assert call(client, "GET", "/v1/assistants", alice_key).status_code == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert call(client, "GET", "/v1/assistants", alice_key).status_code == 401


def test_a_key_is_stored_only_as_a_hash(alice, alice_key):
    row = ApiKey.objects.get(owner=alice)
    assert alice_key not in (row.prefix, row.hashed_key) and alice_key.startswith(row.prefix)
    assert ApiKey.authenticate(alice_key) == alice
    assert ApiKey.objects.get(owner=alice).last_used_at is not None


def test_malformed_json_is_a_400_not_a_500(client, alice_key):
    for raw in (b"{oops", b"[1, 2]", b"\xff\xfe", b'"text"'):
        response = call(client, "POST", "/v1/assistants", alice_key, raw=raw)
        assert response.status_code == 400, raw
        error_of(response)


def test_unknown_fields_are_rejected_with_their_name(client, alice_key):
    response = call(client, "POST", "/v1/assistants", alice_key, {"model": "offline", "colour": "blue"})
    assert response.status_code == 400
    assert error_of(response) | {"message": None} == {"message": None, "type": "invalid_request_error", "param": "colour", "code": "unknown_parameter"}


def test_missing_and_mistyped_fields_name_their_param(client, alice_key):
    assert error_of(call(client, "POST", "/v1/assistants", alice_key, {}))["param"] == "model"
    response = call(client, "POST", "/v1/assistants", alice_key, {"model": "offline", "tools": [{"type": "browser"}]})
    assert response.status_code == 400 and error_of(response)["param"] == "tools[0].type"
    response = call(client, "POST", "/v1/assistants", alice_key, {"model": "offline", "metadata": {"k": 1}})
    assert error_of(response)["param"] == "metadata.k"


def test_unknown_urls_and_methods_answer_in_the_apis_shape(client, alice_key):
    response = call(client, "GET", "/v1/nothing/here", alice_key)
    assert response.status_code == 404 and response["x-should-retry"] == "false"
    response = call(client, "PUT", "/v1/assistants", alice_key)
    assert response.status_code == 405 and error_of(response) and response["x-should-retry"] == "false"


def test_a_second_run_or_a_message_on_a_busy_thread_is_a_400_the_sdk_does_not_retry(client, alice_key, thread, tutor):
    # In a test transaction nothing commits, so the first run stays queued.
    first = call(client, "POST", f"/v1/threads/{thread.id}/runs", alice_key, {"assistant_id": tutor.id})
    assert first.status_code == 200 and first.json()["status"] == "queued"
    assert first["openai-poll-after-ms"]
    second = call(client, "POST", f"/v1/threads/{thread.id}/runs", alice_key, {"assistant_id": tutor.id})
    run_id = first.json()["id"]
    assert second.status_code == 400 and second["x-should-retry"] == "false"
    assert error_of(second) == {
        "message": f"Thread {thread.id} already has an active run {run_id}.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    message = call(client, "POST", f"/v1/threads/{thread.id}/messages", alice_key, {"role": "user", "content": "hi"})
    assert message.status_code == 400 and message["x-should-retry"] == "false"
    assert error_of(message)["message"] == f"Can't add messages to {thread.id} while a run {run_id} is active."
    assert Run.objects.filter(thread=thread).count() == 1


def test_a_run_that_got_in_between_the_check_and_the_insert_is_refused_naming_it(
    client, alice_key, thread, tutor, monkeypatch
):
    """Another request's run, queued after this one found the thread idle: the database's
    one-active-run constraint refuses the insert, nothing of this request is kept, and the
    400 names the run that is there (read after the rollback)."""
    from chat.services import messages as message_services

    other = Run.objects.create(thread=thread, assistant=tutor, model="offline")
    monkeypatch.setattr(message_services, "check_idle", lambda thread: None)  # as if it came just after
    body = {"assistant_id": tutor.id, "additional_messages": [{"role": "user", "content": "hi"}]}
    response = call(client, "POST", f"/v1/threads/{thread.id}/runs", alice_key, body)
    assert response.status_code == 400
    assert error_of(response)["message"] == f"Thread {thread.id} already has an active run {other.id}."
    assert list(Run.objects.filter(thread=thread)) == [other]
    assert not Message.objects.filter(thread=thread).exists()


def test_tool_outputs_for_a_run_not_waiting_are_a_400(client, alice_key, thread, tutor):
    run = call(client, "POST", f"/v1/threads/{thread.id}/runs", alice_key, {"assistant_id": tutor.id}).json()
    response = call(client, "POST", f"/v1/threads/{thread.id}/runs/{run['id']}/submit_tool_outputs", alice_key, {"tool_outputs": []})
    assert response.status_code == 400


def test_a_file_over_the_limit_is_a_413(client, alice_key, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.FILE_MAX_BYTES = 10
    response = client.post(
        "/v1/files",
        {"purpose": "assistants", "file": SimpleUploadedFile("big.txt", b"x" * 11)},
        HTTP_AUTHORIZATION=f"Bearer {alice_key}",
    )
    assert response.status_code == 413 and error_of(response)["code"] == "file_too_large"


def test_a_body_over_the_limit_is_a_413(client, alice_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = call(client, "POST", "/v1/assistants", alice_key, {"model": "offline", "instructions": "x" * 200})
    assert response.status_code == 413


def test_limit_must_be_between_1_and_100_and_the_error_says_which_side_it_is_out_on(client, alice_key):
    assert error_of(call(client, "GET", "/v1/assistants?limit=0", alice_key)) == {
        "message": "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        "type": "invalid_request_error",
        "param": "limit",
        "code": "integer_below_min_value",
    }
    refused = error_of(call(client, "GET", "/v1/assistants?limit=1000", alice_key))
    assert refused["message"] == "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 1000 instead."
    assert refused["code"] == "integer_above_max_value"
    assert call(client, "GET", "/v1/assistants?order=sideways", alice_key).status_code == 400
    assert call(client, "GET", "/v1/assistants?after=asst_unknown", alice_key).status_code == 400


def test_bobs_key_cannot_see_alices_thread(client, bob_key, thread):
    response = call(client, "GET", f"/v1/threads/{thread.id}", bob_key)
    assert response.status_code == 404 and error_of(response)["type"] == "invalid_request_error"


def test_browser_objects_are_visible_through_the_api(client, alice_key, tutor, thread):
    assert tutor.id in [a["id"] for a in call(client, "GET", "/v1/assistants", alice_key).json()["data"]]
    assert call(client, "GET", f"/v1/threads/{thread.id}", alice_key).json()["object"] == "thread"


# --- createapikey --------------------------------------------------------------------------


def test_createapikey_prints_a_working_key(alice, capsys):
    call_command("createapikey", "alice")
    raw = capsys.readouterr().out.strip()
    assert ApiKey.authenticate(raw) == alice


def test_createapikey_refuses_an_unknown_user(db):
    with pytest.raises(CommandError):
        call_command("createapikey", "nobody")


# --- the key pages ---------------------------------------------------------------------------


def test_the_key_page_needs_a_login(client):
    response = client.get("/account/api-keys/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_a_new_key_is_shown_once(alice_client, alice):
    created = alice_client.post("/account/api-keys/new/", {"name": "notebook"}, follow=True)
    raw = ApiKey.objects.get(owner=alice)
    html = created.content.decode()
    assert created.redirect_chain == [("/account/api-keys/", 302)]  # a reload does not post again
    assert "shown only once" in html and f"Created the key {raw.prefix}" in html
    assert 'data-copy-from="#new-api-key"' in html
    key = html.split('id="new-api-key">')[1].split("<")[0]
    assert ApiKey.authenticate(key) == alice and key.startswith(raw.prefix)
    again = alice_client.get("/account/api-keys/").content.decode()
    assert key not in again and raw.prefix in again and "notebook" in again
    assert alice_client.session.get("apikeys_new_key") is None  # not kept after it was shown


def test_a_user_revokes_their_key_but_not_someone_elses(alice_client, bob_client, alice):
    key, raw = ApiKey.issue(alice)
    assert bob_client.post(f"/account/api-keys/{key.pk}/revoke/").status_code == 404
    assert ApiKey.authenticate(raw) == alice
    assert alice_client.post(f"/account/api-keys/{key.pk}/revoke/").status_code == 302
    assert ApiKey.authenticate(raw) is None


def test_the_nav_links_to_the_key_page(alice_client):
    assert 'href="/account/api-keys/"' in alice_client.get("/assistants/").content.decode()


def test_a_key_over_its_rate_limit_gets_a_429_and_others_do_not(client, alice_key, bob_key, settings, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr("chat.api.http.clock", lambda: 1_800_000_030.0)  # mid-window: no rollover
    cache.clear()
    settings.API_RATE_LIMIT = 3
    for _ in range(3):
        assert call(client, "post", "/v1/threads", alice_key, {}).status_code == 200
    response = call(client, "post", "/v1/threads", alice_key, {})
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limit_exceeded" and error_of(response)["type"] == "requests"
    assert response["Retry-After"] == "30" and response["retry-after-ms"] == "30000"
    assert "x-should-retry" not in response  # the SDK's retry after retry-after-ms is right here
    assert call(client, "post", "/v1/threads", bob_key, {}).status_code == 200
    cache.clear()


def test_reads_have_their_own_budget_and_do_not_use_up_the_writes(client, alice_key, settings, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr("chat.api.http.clock", lambda: 1_800_000_045.5)
    cache.clear()
    settings.API_RATE_LIMIT = 2
    settings.API_READ_RATE_LIMIT = 5
    for _ in range(5):
        assert call(client, "get", "/v1/models", alice_key).status_code == 200
    response = call(client, "get", "/v1/models", alice_key)
    assert response.status_code == 429 and "reads" in error_of(response)["message"]
    assert response["Retry-After"] == "15" and response["retry-after-ms"] == "14500"
    for _ in range(2):
        assert call(client, "post", "/v1/threads", alice_key, {}).status_code == 200
    assert call(client, "post", "/v1/threads", alice_key, {}).status_code == 429
    cache.clear()


def test_message_text_is_stored_with_plain_newlines(client, alice_key, thread):
    parts = [{"type": "text", "text": "b\r\nc"}]
    for content in ("a\r\nb\rc", parts):
        response = call(client, "post", f"/v1/threads/{thread.id}/messages", alice_key, {"role": "user", "content": content})
        assert response.status_code == 200, response.content
    assert [m.text for m in thread.messages.order_by("seq")] == ["a\nb\nc", "b\nc"]


def test_deleting_a_message_takes_it_off_the_thread_s_open_pages(
    client, alice_key, thread, monkeypatch, django_capture_on_commit_callbacks
):
    """DELETE goes through the domain's removal: every open page of the thread is told
    (services.delete_message); a message a run is still writing is refused, nothing told."""
    told = []
    monkeypatch.setattr(events, "publish_sync", lambda thread_id, kind, **payload: told.append((thread_id, kind, payload)))
    message = Message.objects.create(thread=thread, role=Message.USER, content=Message.text_content("Solve 2x = 14"))
    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, "DELETE", f"/v1/threads/{thread.id}/messages/{message.id}", alice_key)
    assert response.status_code == 200 and response.json()["deleted"] is True
    assert told == [(thread.id, "messages.removed", {"message_ids": [message.id]})]
    writing = Message.objects.create(
        thread=thread, role=Message.ASSISTANT, content=Message.text_content("x ="), status=Message.IN_PROGRESS
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = call(client, "DELETE", f"/v1/threads/{thread.id}/messages/{writing.id}", alice_key)
    assert response.status_code == 400 and "still being written" in error_of(response)["message"]
    assert Message.objects.filter(pk=writing.pk).exists() and len(told) == 1
