"""/v1 and classes: an API key sees its owner's own assistants and private threads only.
A class conversation (whose runs carry the tutor's instructions) is 404 there, and a
published assistant cannot be run through /v1 (see docs/api.md)."""

from __future__ import annotations

import json

import pytest

from chat.api.models import ApiKey
from chat.engine import states
from chat.models import Run, Thread

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def key_of(people):
    return lambda name: ApiKey.issue(people[name], "tests")[1]


def call(client, method: str, path: str, key: str, body=None):
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method.lower())(path, data=data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_student_lists_only_their_own_assistants(client, key_of, class_a, math):
    listed = call(client, "GET", "/v1/assistants", key_of("sam")).json()["data"]
    assert listed == []
    assert call(client, "GET", f"/v1/assistants/{math.id}", key_of("sam")).status_code == 404


@pytest.mark.parametrize("who", ["sam", "tess", "olga"])
def test_a_class_thread_is_404_through_the_api_even_for_its_owner(client, key_of, sam_thread, math, who):
    run = Run.objects.create(thread=sam_thread, assistant=math, model="offline", instructions=math.instructions, status=states.COMPLETED)
    key = key_of(who)
    base = f"/v1/threads/{sam_thread.id}"
    for method, path, body in [
        ("GET", base, None),
        ("POST", base, {"metadata": {"a": "b"}}),
        ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"role": "user", "content": "hi"}),
        ("GET", f"{base}/runs", None),
        ("POST", f"{base}/runs", {"assistant_id": math.id}),
        ("GET", f"{base}/runs/{run.id}", None),
        ("GET", f"{base}/runs/{run.id}/steps", None),
        ("POST", f"{base}/runs/{run.id}/cancel", None),
        ("DELETE", base, None),
    ]:
        response = call(client, method, path, key, body)
        assert response.status_code == 404, (method, path)
        assert "SECRET-INSTRUCTIONS" not in response.content.decode()
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert Thread.objects.filter(pk=sam_thread.id).exists() and sam_thread.messages.count() == 2


def test_a_student_cannot_run_a_published_assistant_through_the_api(client, key_of, people, class_a, math):
    key = key_of("sam")
    thread = call(client, "POST", "/v1/threads", key, {}).json()
    response = call(client, "POST", f"/v1/threads/{thread['id']}/runs", key, {"assistant_id": math.id})
    assert response.status_code == 404 and "No assistant found" in response.json()["error"]["message"]
    response = call(client, "POST", "/v1/threads/runs", key, {"assistant_id": math.id})
    assert response.status_code == 404
    assert not Run.objects.filter(assistant=math).exists()


def test_the_student_s_private_threads_still_work_through_the_api(client, key_of):
    key = key_of("sam")
    thread = call(client, "POST", "/v1/threads", key, {}).json()
    assert call(client, "GET", f"/v1/threads/{thread['id']}", key).status_code == 200
