"""Ingest: text with pages, ligatures normalized, overlapping token chunks, dedupe, bad input."""

from __future__ import annotations

import io
import zipfile

import pytest

from chat.models import File
from chat.retrieval import extract, passages, tokens
from chat.retrieval.ingest import index_file, split
from chat.retrieval.models import Chunk, Document, VectorStore, VectorStoreFile
from chat.retrieval.stores import add_files

pytestmark = pytest.mark.django_db


def _ingest(alice, file, capture):
    store = VectorStore.objects.create(owner=alice)
    with capture(execute=True):
        [entry] = add_files(store, [file])
    return VectorStoreFile.objects.get(pk=entry.pk), File.objects.get(pk=file.pk)


def test_tiktoken_encoding_loads_offline_from_the_shipped_file():
    encoding = tokens.encoding("cl100k_base")
    assert encoding is not None
    assert encoding.encode("hello world") == [15339, 1917]


def test_the_gpt2_paper_is_processed_with_pages_and_no_ligatures(alice, upload, gpt2_bytes, django_capture_on_commit_callbacks):
    file = upload("language_models.pdf", gpt2_bytes)
    entry, file = _ingest(alice, file, django_capture_on_commit_callbacks)
    assert entry.status == "completed" and file.status == "processed"
    document = Document.objects.get(sha256=file.sha256)
    assert document.pages == 24 and document.kind == "pdf"
    chunks = list(Chunk.objects.filter(document=document))
    assert len(chunks) > 20
    assert all("ﬁ" not in c.text for c in chunks)
    assert any("fine-tun" in c.text or "ﬁne" not in c.text for c in chunks)
    assert chunks[-1].page_end == 24 or chunks[-1].page_end >= 22
    assert all(c.tokens <= 800 for c in chunks)


def test_chunks_overlap_by_the_configured_tokens(settings):
    pages = [(1, " ".join(f"word{i}" for i in range(600))), (2, " ".join(f"other{i}" for i in range(600)))]
    pieces = split(pages, 200, 100)
    assert all(p.tokens <= 200 for p in pieces)
    assert pieces[0].page_start == 1 and pieces[-1].page_end == 2
    tokenizer = tokens.Tokenizer()
    first, second = tokenizer.encode(pieces[0].text), tokenizer.encode(pieces[1].text)
    assert first[100:] == second[: len(first) - 100]
    spanning = next(p for p in pieces if p.page_start == 1 and p.page_end == 2)
    assert [mark[1] for mark in spanning.page_marks] == [1, 2]


def test_reuploading_the_same_content_reuses_the_index(alice, upload, django_capture_on_commit_callbacks):
    data = b"Photosynthesis turns light into chemical energy in the chloroplast. " * 50
    _ingest(alice, upload("biology.txt", data), django_capture_on_commit_callbacks)
    chunks = Chunk.objects.count()
    entry, file = _ingest(alice, upload("biology-copy.txt", data), django_capture_on_commit_callbacks)
    assert entry.status == "completed" and file.status == "processed"
    assert Document.objects.count() == 1 and Chunk.objects.count() == chunks


@pytest.mark.parametrize(
    "name, data, kind",
    [
        ("notes.md", b"# Week 1\n\nThe mitochondria is the powerhouse of the cell.", "text"),
        ("page.html", b"<html><head><style>p{}</style></head><body><p>Ohm&#39;s law: V = IR</p><script>x()</script></body></html>", "html"),
        ("grades.csv", b"student,grade\nAda,A\nAlan,B\n", "text"),
        ("data.json", b'{"topic": "entropy"}', "text"),
        ("solver.py", b"def solve(a, b):\n    return -b / a\n", "text"),
    ],
)
def test_text_formats_are_extracted(name, data, kind):
    found, pages = extract.extract(name, data)
    assert found == kind and pages[0][1]
    if name == "page.html":
        assert "Ohm's law" in pages[0][1] and "x()" not in pages[0][1] and "p{}" not in pages[0][1]
    if name == "grades.csv":
        assert "student: Ada; grade: A" in pages[0][1]


def _docx(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>",
        )
    return buffer.getvalue()


def test_docx_text_is_extracted():
    kind, pages = extract.extract("lesson.docx", _docx("Integration by parts swaps a hard integral for an easier one."))
    assert kind == "docx" and "Integration by parts" in pages[0][1]


# --- bad input: each a clear error on its own file, nothing else affected ----------------


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret-password")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _blank_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as handle:
            block = b"\0" * 2**20
            for _ in range(300):  # 300 MB of zeros, a few hundred KB packed
                handle.write(block)
    return buffer.getvalue()


BAD = {
    "encrypted": ("locked.pdf", _encrypted_pdf, "password-protected"),
    "truncated": ("half.pdf", None, "truncated"),
    "empty": ("empty.txt", lambda: b"", "empty"),
    "no text layer": ("scan.pdf", _blank_pdf, "no text layer"),
    "lying extension": ("paper.pdf", lambda: b"just some words, not a PDF at all", "not a PDF"),
    "binary named txt": ("notes.txt", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not text"),
    "docx zip bomb": ("bomb.docx", _zip_bomb, "zip bomb"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_fails_that_file_only_with_a_clear_reason(case, alice, upload, gpt2_bytes, django_capture_on_commit_callbacks):
    name, make, expected = BAD[case]
    data = gpt2_bytes[: len(gpt2_bytes) // 2] if make is None else make()
    bad = upload(name, data)
    good = upload("good.md", b"Eigenvalues describe how a linear map stretches space along its eigenvectors.")
    store = VectorStore.objects.create(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        add_files(store, [bad, good])
    bad, good = File.objects.get(pk=bad.pk), File.objects.get(pk=good.pk)
    assert bad.status == "error"
    assert expected in bad.status_details
    assert VectorStoreFile.objects.get(file=bad).status == "failed"
    assert good.status == "processed"


def test_a_file_over_the_size_limit_is_refused_in_the_composer(alice_client, thread, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.FILE_MAX_BYTES = 1000
    big = SimpleUploadedFile("big.txt", b"x" * 2000, content_type="text/plain")
    response = alice_client.post(
        f"/threads/{thread.id}/messages/", {"text": "read this", "assistant": thread.assistant_id, "files": [big]}
    )
    assert response.status_code == 400
    assert "big.txt" in response.content.decode() and "limit" in response.content.decode()
    assert not File.objects.exists() and not thread.messages.exists()


def test_the_worker_survives_an_unexpected_error(alice, upload, monkeypatch, django_capture_on_commit_callbacks):
    def boom(name, data):
        raise RuntimeError("bug")

    monkeypatch.setattr("chat.retrieval.ingest.extract_isolated", boom)
    entry, file = _ingest(alice, upload("x.txt", b"some text here"), django_capture_on_commit_callbacks)
    assert entry.status == "failed" and file.status == "error"
    assert "internal error" in file.status_details


def test_content_another_process_indexed_meanwhile_is_not_indexed_twice(alice, upload, monkeypatch):
    """Two workers resuming the same file at start-up: the one that commits second keeps
    the first one's chunks instead of adding its own."""
    from chat.retrieval import ingest

    file = upload("biology.txt", b"Photosynthesis turns light into chemical energy in the chloroplast. " * 50)
    real_embed = ingest._embed

    def embed_while_another_process_finishes(texts):
        document = Document.objects.get(owner=alice)  # the other process's commit
        Chunk.objects.create(document=document, seq=0, text="theirs", page_start=1, page_end=1, tokens=1)
        Document.objects.filter(pk=document.pk).update(status=Document.READY)
        return real_embed(texts)

    monkeypatch.setattr(ingest, "_embed", embed_while_another_process_finishes)
    document = ingest.index_file(file)
    assert document.status == Document.READY
    assert list(Chunk.objects.filter(document=document).values_list("text", flat=True)) == ["theirs"]


@pytest.mark.django_db
def test_each_chunk_is_stored_with_its_term_index(upload):
    document = index_file(upload("notes.md", b"Tokens and filters. " * 400))
    chunks = list(Chunk.objects.filter(document=document))
    assert len(chunks) > 1
    assert all(chunk.terms == passages.term_index(chunk.text) for chunk in chunks)
