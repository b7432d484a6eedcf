"""Uploads from the composer and the assistant's Files page; citations in the page; access."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chat.content import render_content
from chat.models import File, Message, Run
from chat.retrieval import stores
from chat.retrieval.models import VectorStoreFile

pytestmark = pytest.mark.django_db

NOTES = b"# Thermodynamics\n\nEntropy of an isolated system never decreases over time.\n"


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    started = []
    monkeypatch.setattr("chat.engine.dispatch.dispatch", started.append)
    return started


def _post(client, thread, files, text="What does the second law say?"):
    return client.post(
        f"/threads/{thread.id}/messages/", {"text": text, "assistant": thread.assistant_id, "files": files}
    )


def test_the_composer_attaches_files_to_the_message_and_the_thread_store(
    alice_client, thread, django_capture_on_commit_callbacks, _no_dispatch
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(alice_client, thread, [SimpleUploadedFile("thermo.md", NOTES)])
    assert response.status_code == 302
    message = Message.objects.get(thread=thread, role="user")
    [file] = File.objects.all()
    assert message.attachments == [{"file_id": file.id, "tools": [{"type": "file_search"}]}]
    thread.refresh_from_db()
    [store_id] = stores.store_ids(thread)
    assert VectorStoreFile.objects.get(vector_store_id=store_id, file=file).status == "completed"
    assert File.objects.get(pk=file.pk).status == "processed"
    run = Run.objects.get(thread=thread)
    assert {"type": "file_search"} in run.tools
    # Dispatched after commit (it would wait for its file) and by the ingest that read it.
    assert set(_no_dispatch) == {run.id}


def _browser_form(fields: dict, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart body as a browser writes it: per the HTML standard, '"', CR and LF in a
    file name are sent as %22, %0D and %0A (and nothing else is escaped)."""
    boundary = "----WebKitFormBoundaryP8Kx2wZk"
    escaped = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{escaped}"\r\n'
                 f"Content-Type: text/markdown\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_browser_uploads_file_name_keeps_its_quotes_and_its_own_percent_signs(alice_client, thread, tutor):
    body, content_type = _browser_form({"text": "Read this", "assistant": thread.assistant_id}, 'my "thermo"\n %41.md', NOTES)
    assert alice_client.post(f"/threads/{thread.id}/messages/", body, content_type=content_type).status_code == 302
    body, content_type = _browser_form({}, 'Entropy "law" (50%).md', NOTES)
    assert alice_client.post(f"/assistants/{tutor.id}/files/", body, content_type=content_type).status_code == 302
    assert sorted(File.objects.values_list("filename", flat=True)) == ['Entropy "law" (50%).md', 'my "thermo" %41.md']


def test_a_message_without_files_is_posted_as_before(alice_client, thread, django_capture_on_commit_callbacks, _no_dispatch):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(alice_client, thread, [], text="Solve 2x = 4")
    assert response.status_code == 302
    message = Message.objects.get(thread=thread, role="user")
    assert message.attachments == [] and message.text == "Solve 2x = 4"
    run = Run.objects.get(thread=thread)
    assert run.tools == [] and _no_dispatch == [run.id]


def test_the_composer_shows_the_file_chip_with_its_status(alice_client, thread, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(alice_client, thread, [SimpleUploadedFile("empty.txt", b"")])
    page = alice_client.get(f"/threads/{thread.id}/").content.decode()
    assert "empty.txt" in page and "file-chip--error" in page and "The file is empty" in page
    assert 'name="files"' in page and 'hx-encoding="multipart/form-data"' in page


def test_an_unsupported_type_is_refused_before_anything_is_saved(alice_client, thread):
    response = _post(alice_client, thread, [SimpleUploadedFile("movie.mp4", b"\x00\x00")])
    assert response.status_code == 400 and "cannot be searched" in response.content.decode()
    assert not Message.objects.exists() and not File.objects.exists()


def test_the_assistant_files_page_uploads_and_enables_file_search(alice_client, tutor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/assistants/{tutor.id}/files/", {"files": [SimpleUploadedFile("thermo.md", NOTES)]})
    assert response.status_code == 302
    tutor.refresh_from_db()
    assert "file_search" in tutor.tool_types
    page = alice_client.get(f"/assistants/{tutor.id}/files/").content.decode()
    assert "thermo.md" in page and "processed" in page


def test_bob_cannot_see_alices_assistant_files_or_passages(bob_client, alice, tutor, upload):
    file = upload("thermo.md", NOTES)
    assert bob_client.get(f"/assistants/{tutor.id}/files/").status_code == 404
    assert bob_client.get(f"/files/{file.id}/passage/").status_code == 404
    assert bob_client.get(f"/files/{file.id}/content/").status_code == 404


def test_anonymous_is_sent_to_log_in(client, tutor):
    assert client.get(f"/assistants/{tutor.id}/files/").status_code == 302


def test_the_passage_view_highlights_the_quote(alice_client, upload):
    file = upload("thermo.md", NOTES)
    response = alice_client.get(f"/files/{file.id}/passage/", {"q": "Entropy of an isolated system never decreases"})
    body = response.content.decode()
    assert '<mark id="quote"' in body and "Entropy of an isolated system never decreases</mark>" in body


def test_citations_render_as_numbered_markers_with_sources_and_no_raw_markers(alice, thread, upload):
    file = upload("thermo.md", NOTES)
    pdf = upload("paper.pdf", b"%PDF-1.4 fake")
    text = "Entropy never decreases.【0:0†thermo.md】 Also this.【0:1†paper.pdf】 And a stray one【9:9†x】."
    first, second = text.index("【0:0"), text.index("【0:1")
    annotations = [
        {"type": "file_citation", "text": "【0:0†thermo.md】", "start_index": first, "end_index": first + len("【0:0†thermo.md】"),
         "file_citation": {"file_id": file.id, "quote": "Entropy of an isolated system never decreases", "page": 1}},
        {"type": "file_citation", "text": "【0:1†paper.pdf】", "start_index": second, "end_index": second + len("【0:1†paper.pdf】"),
         "file_citation": {"file_id": pdf.id, "quote": "Something <b>quoted</b>", "page": 7}},
    ]
    message = Message.objects.create(thread=thread, role="assistant", content=Message.text_content(text, annotations))
    html = render_content(message)
    assert "【" not in html and "】" not in html
    assert "\u2063[1]\u2063" in html and "\u2063[2]\u2063" in html
    assert f"/files/{pdf.id}/content/?inline=1#page=7" in html
    assert f"/files/{file.id}/passage/?q=Entropy" in html
    assert "&lt;b&gt;quoted&lt;/b&gt;" in html and "<b>quoted" not in html
    assert "paper.pdf</span>, page 7" in html


def test_an_answer_quoting_one_passage_three_times_says_so_above_its_sources(alice, thread, upload):
    """The run's steps count the passages found ("1 passage from 1 file"); the answer numbers
    each quote: three quotes of one passage are said to be that, escaped as ever."""
    file = upload("thermo.md", NOTES)
    marker = "【0:0†thermo.md】"
    claims = ["Entropy grows.", "Heat <flows> & spreads.", "It never decreases."]
    text = "".join(claim + marker + " " for claim in claims)
    annotations, at = [], 0
    for claim in claims:
        start = text.index(marker, at)
        annotations.append({
            "type": "file_citation", "text": marker, "start_index": start, "end_index": start + len(marker),
            "file_citation": {"file_id": file.id, "quote": claim, "page": 1},
        })
        at = start + len(marker)
    message = Message.objects.create(thread=thread, role="assistant", content=Message.text_content(text, annotations))
    html = render_content(message)
    assert '<p class="citations__count">3 quotes from 1 passage</p>' in html
    assert html.count('class="citation-source"') == 3 and "Heat &lt;flows&gt; &amp; spreads." in html
    single = Message.objects.create(
        thread=thread, role="assistant", content=Message.text_content(claims[0] + marker, annotations[:1])
    )
    assert "citations__count" not in render_content(single)  # one quote of one passage: nothing to tell apart


def test_the_files_page_polls_while_a_file_is_processing(alice_client, alice, tutor, upload):
    store = stores.assistant_store(tutor)
    VectorStoreFile.objects.create(vector_store=store, file=upload("slow.md", NOTES))
    page = alice_client.get(f"/assistants/{tutor.id}/files/").content.decode()
    assert 'hx-trigger="every 2s"' in page and "processing…" in page


def test_the_step_panel_shows_the_query_and_the_results(alice, thread, tutor, upload):
    from django.template.loader import render_to_string

    call = {"id": "call_1", "type": "file_search", "file_search": {
        "query": "entropy", "files_searched": 1, "results": [
            {"file_id": "file-x", "file_name": "thermo.md", "score": 0.9, "page": 2, "page_end": 3,
             "content": [{"type": "text", "text": "Entropy never decreases."}]}]}}
    html = render_to_string("chat/tool_calls/file_search.html", {"call": call})
    assert "“entropy”" in html and "thermo.md" in html and "page 2–3" in html and "Entropy never decreases." in html
    assert "1 passage from 1 file" in html


def test_the_admin_lists_vector_stores(admin_client, alice):
    from chat.retrieval.models import VectorStore

    VectorStore.objects.create(owner=alice, name="Physics course")
    assert "Physics course" in admin_client.get("/admin/retrieval/vectorstore/").content.decode()
