"""Which tool a file attached in the composer is for: File Search takes the types it can
read, Code Interpreter (when the assistant has it on) any file. A file no tool of the
assistant can use is refused, saying which tool could; nothing is saved then."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chat.models import File, Message, Run
from chat.services.files import tools_for_file, unusable

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("chat.engine.dispatch.dispatch", lambda run_id: None)


def post(client, thread, *files):
    return client.post(
        f"/threads/{thread.id}/messages/",
        {"text": "Look at this", "assistant": thread.assistant_id, "files": list(files)},
    )


@pytest.fixture
def with_code_interpreter(tutor):
    tutor.tools = [{"type": "code_interpreter"}]
    tutor.save()
    return tutor


def test_any_file_is_for_code_interpreter_when_it_is_on_and_searchable_ones_also_for_search(
    alice_client, thread, with_code_interpreter
):
    response = post(
        alice_client,
        thread,
        SimpleUploadedFile("tool <b>&.exe", b"MZ\x00"),
        SimpleUploadedFile("data.csv", b"a,b\n1,2\n"),
    )
    assert response.status_code == 302, response.content.decode()
    message = Message.objects.get(thread=thread)
    by_name = {File.objects.get(pk=a["file_id"]).filename: [t["type"] for t in a["tools"]] for a in message.attachments}
    assert by_name == {"tool <b>&.exe": ["code_interpreter"], "data.csv": ["file_search", "code_interpreter"]}
    thread.refresh_from_db()
    assert set(thread.tool_resources["code_interpreter"]["file_ids"]) == {a["file_id"] for a in message.attachments}
    assert Run.objects.filter(thread=thread).count() == 1


def test_without_code_interpreter_a_file_search_cannot_read_is_refused_naming_code_interpreter(alice_client, thread):
    response = post(alice_client, thread, SimpleUploadedFile("tool <b>&.exe", b"MZ\x00"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "tool &lt;b&gt;&amp;.exe: files of type “.exe” cannot be searched" in page
    assert "Code Interpreter could use it" in page and "tool <b>&" not in page
    assert not Message.objects.exists() and not File.objects.exists()


def test_the_rule_names_the_tools_each_file_is_for():
    assert tools_for_file("notes.pdf", {"file_search"}) == ["file_search"]
    assert tools_for_file("notes.pdf", {"file_search", "code_interpreter"}) == ["file_search", "code_interpreter"]
    assert tools_for_file("game.zip", {"file_search", "code_interpreter"}) == ["code_interpreter"]
    assert tools_for_file("game.zip", {"file_search"}) == []
    assert unusable("game.zip", {"file_search", "code_interpreter"}) is None
    assert "cannot be searched" in str(unusable("game.zip", {"file_search"}))


def test_each_file_s_chip_says_what_it_is_for(alice_client, thread, with_code_interpreter):
    post(
        alice_client,
        thread,
        SimpleUploadedFile("tool <b>&.exe", b"MZ\x00"),
        SimpleUploadedFile("data.csv", b"a,b\n1,2\n"),
    )
    page = alice_client.get(f"/threads/{thread.id}/").content.decode()
    assert 'tool &lt;b&gt;&amp;.exe</a>\n  <span class="file-chip__status">for Code Interpreter</span>' in page
    assert "For File Search: data.csv. For Code Interpreter: tool &lt;b&gt;&amp;.exe, data.csv.</p>" in page


def test_the_file_picker_filters_types_only_when_no_offered_assistant_takes_any_file(alice_client, thread, tutor):
    page = alice_client.get(f"/threads/{thread.id}/").content.decode()
    assert 'data-any-type-for=""' in page and 'accept=".' in page
    tutor.tools = [{"type": "code_interpreter"}]
    tutor.save()
    page = alice_client.get(f"/threads/{thread.id}/").content.decode()
    assert (
        f'data-any-type-for="{tutor.id}"' in page
        and "accept=" not in page.split('id="composer-files"')[1].split(">")[0]
    )
