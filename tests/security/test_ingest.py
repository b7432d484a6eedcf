"""Replays of the attacks on file ingest (issue 9, items 3 and 10).

3. A 380 KB DOCX unpacking to 150 MB of tiny XML elements took the server from 0.24 GB
   to 2.2 GB of memory (three at once: 6.1 GB) and stalled every page for seconds.
10. A file with the same bytes as another user's was indexed in 0.03 s instead of 2.2 s:
   the shared index told one user what another had uploaded.
"""

from __future__ import annotations

import io
import threading
import time
import tracemalloc
import zipfile

import pytest

from chat.files import store_file
from chat.retrieval import extract, ingest, isolation
from chat.retrieval.models import Document, VectorStore, VectorStoreFile
from chat.retrieval.stores import add_files

pytestmark = pytest.mark.django_db

WORD = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


@pytest.fixture(autouse=True)
def _ingest_inline(monkeypatch):
    """Ingest inside the test's transaction instead of a background thread."""
    monkeypatch.setattr(ingest, "runner", lambda ids, thread_id, then_run=None: ingest.ingest_now(ids, thread_id, then_run))


def hostile_docx(unpacked_mb: int, run: bytes = b"<w:r><w:t>a</w:t></w:r>") -> bytes:
    """A small DOCX whose document.xml inflates to ``unpacked_mb`` MB of repeated runs
    (deflate packs the repetition about 400 to 1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as handle:
            handle.write(f'<w:document xmlns:w="{WORD}"><w:body><w:p>'.encode())
            block = run * (2**20 // len(run))
            for _ in range(unpacked_mb):
                handle.write(block)
            handle.write(b"</w:p></w:body></w:document>")
    return buffer.getvalue()


def peak_memory_of(work) -> tuple[int, Exception | None]:
    """Peak bytes Python allocated while ``work`` ran, and what it raised."""
    tracemalloc.start()
    try:
        work()
        raised = None
    except Exception as exc:
        raised = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


MB = 2**20


# --- 3. memory blow-up from a small DOCX --------------------------------------------------


def test_a_docx_of_millions_of_tiny_elements_is_refused_in_bounded_memory():
    data = hostile_docx(150)
    assert len(data) < 1 * MB  # the attack's shape: well under every upload limit

    peak, raised = peak_memory_of(lambda: extract.extract("hostile.docx", data))

    assert isinstance(raised, extract.ExtractError)
    assert "elements" in str(raised) and "exhaust the server" in str(raised)
    assert peak < 20 * MB  # parsing the whole tree took gigabytes


def test_a_docx_of_long_runs_stops_at_the_text_limit_in_bounded_memory(settings):
    data = hostile_docx(150, run=b"<w:r><w:t>" + b"lorem ipsum " * 80 + b"</w:t></w:r>")

    peak, raised = peak_memory_of(lambda: extract.extract("hostile.docx", data))

    assert isinstance(raised, extract.ExtractError)
    assert f"{settings.RETRIEVAL_MAX_TEXT_CHARS:,} characters" in str(raised)
    assert peak < 40 * MB


def test_a_docx_declaring_entities_is_refused():
    billion_laughs = (
        '<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        f'<w:document xmlns:w="{WORD}"><w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", billion_laughs)

    with pytest.raises(extract.ExtractError, match="DTD or entities"):
        extract.extract("laughs.docx", buffer.getvalue())


def test_a_hostile_docx_fails_its_own_upload_and_the_next_file_is_still_indexed(alice, settings):
    settings.RETRIEVAL_MAX_ELEMENTS = 100_000  # the default is reached the same way, only later
    bad = store_file(alice, "hostile.docx", hostile_docx(150))
    good = store_file(alice, "notes.md", b"Mitochondria make most of the cell's ATP.")
    store = VectorStore.objects.create(owner=alice)

    add_files(store, [bad, good])
    ingest.ingest_now([e.pk for e in store.files.all()])

    bad_entry, good_entry = VectorStoreFile.objects.get(file=bad), VectorStoreFile.objects.get(file=good)
    assert bad_entry.status == "failed" and "more than 100,000 elements" in bad_entry.last_error
    assert good_entry.status == "completed"


def test_a_file_needing_more_memory_than_the_childs_cap_is_refused_and_the_server_never_holds_it(settings):
    settings.RETRIEVAL_MAX_TEXT_CHARS = settings.RETRIEVAL_MAX_ELEMENTS = 10**9  # only the kernel's cap is left
    settings.RETRIEVAL_EXTRACT_MEMORY_MB = 256
    data = hostile_docx(190, run=b"<w:r><w:t>" + b"lorem ipsum " * 80 + b"</w:t></w:r>")

    peak, raised = peak_memory_of(lambda: isolation.extract_isolated("hostile.docx", data))

    assert isinstance(raised, extract.ExtractError) and "memory limit" in str(raised)
    assert peak < 10 * MB


def test_an_extraction_past_its_time_limit_is_killed_and_refused(settings):
    settings.RETRIEVAL_MAX_TEXT_CHARS = settings.RETRIEVAL_MAX_ELEMENTS = 10**9  # minutes of parsing
    settings.RETRIEVAL_EXTRACT_TIMEOUT = 1

    with pytest.raises(extract.ExtractError, match="longer than the limit of 1 s"):
        isolation.extract_isolated("hostile.docx", hostile_docx(150))


def test_a_wide_csv_header_repeated_on_every_row_cannot_multiply_into_gigabytes(settings):
    header = ",".join(f"column_with_a_long_descriptive_name_{i}" for i in range(200))
    row = ",".join("x" * 200)
    data = (header + "\n" + (row + "\n") * 4_000).encode()  # 1.6 MB in, 40 times that out
    assert len(data) < settings.RETRIEVAL_MAX_TEXT_CHARS

    peak, raised = peak_memory_of(lambda: extract.extract("wide.csv", data))

    assert isinstance(raised, extract.ExtractError) and "characters of text" in str(raised)
    assert peak < 60 * MB


def test_html_made_of_more_tags_than_the_limit_is_refused(settings):
    settings.RETRIEVAL_MAX_ELEMENTS = 10_000
    data = b"<html><body>" + b"<i></i>" * 10_001 + b"</body></html>"

    with pytest.raises(extract.ExtractError, match="elements"):
        extract.extract("tags.html", data)


def test_a_text_file_over_the_text_limit_is_refused_without_decoding_it_whole(settings):
    settings.RETRIEVAL_MAX_TEXT_CHARS = 100_000
    data = "é".encode() * 3_000_000  # 6 MB of text

    peak, raised = peak_memory_of(lambda: extract.extract("long.txt", data))

    assert isinstance(raised, extract.ExtractError) and "100,000 characters" in str(raised)
    assert peak < 15 * MB


def test_json_nested_past_any_real_document_is_a_clear_error():
    with pytest.raises(extract.ExtractError, match="nests deeper"):
        extract.extract("deep.json", b"[" * 200_000 + b"]" * 200_000)


def _pdf(pages: int, content: bytes = b"") -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
             NameObject("/BaseFont"): NameObject("/Helvetica")}
        )
    )
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 10 10 Td " + (content or b"(Page text) Tj") + b" ET")
    contents = writer._add_object(stream.flate_encode())
    for _ in range(pages):
        page = writer.add_blank_page(200, 200)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        page[NameObject("/Contents")] = contents
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_with_more_pages_than_the_limit_is_refused_before_reading_them(settings):
    settings.RETRIEVAL_MAX_PDF_PAGES = 50
    assert extract.extract("short.pdf", _pdf(3))[1][0][1] == "Page text"

    with pytest.raises(extract.ExtractError, match="60 pages; the limit is 50"):
        extract.extract("long.pdf", _pdf(60))


def test_a_pdf_page_of_more_operators_than_the_limit_is_refused_in_bounded_memory():
    data = _pdf(1, b"(a) Tj " * 300_000)  # 2 MB of operators, a few KB packed
    assert len(data) < 100_000

    peak, raised = peak_memory_of(lambda: extract.extract("dense.pdf", data))

    assert isinstance(raised, extract.ExtractError) and "server's limits" in str(raised)
    assert peak < 100 * MB  # pypdf's own limit let it build 2 million operands (~250 MB)


def test_no_more_than_the_configured_number_of_files_are_extracted_at_once(alice, settings, monkeypatch):
    files = [store_file(alice, f"n{i}.md", f"Note {i} about osmosis.".encode()) for i in range(6)]
    running, most = 0, 0
    guard = threading.Lock()

    def slow_extract(name, data):
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        time.sleep(0.2)
        with guard:
            running -= 1
        return "text", [(1, data.decode())]

    monkeypatch.setattr(ingest, "extract_isolated", slow_extract)
    workers = [threading.Thread(target=ingest._read_and_split, args=(f,)) for f in files]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert not any(w.is_alive() for w in workers)
    assert 1 <= most <= settings.RETRIEVAL_MAX_PARALLEL_INGESTS


# --- 10. no shared index across users ------------------------------------------------------


def _index(owner, name: str, data: bytes) -> VectorStoreFile:
    store = VectorStore.objects.create(owner=owner)
    [entry] = add_files(store, [store_file(owner, name, data)])
    ingest.ingest_now([entry.pk])
    return VectorStoreFile.objects.select_related("file").get(pk=entry.pk)


def test_bob_uploading_alices_exact_bytes_gets_his_own_document_extracted_afresh(alice, bob, monkeypatch):
    data = b"Alice's private essay on the causes of the First World War. " * 40
    extracted = []
    monkeypatch.setattr(ingest, "extract_isolated", lambda name, raw: extracted.append(name) or extract.extract(name, raw))

    _index(alice, "essay.txt", data)
    entry = _index(bob, "guess.txt", data)

    assert entry.status == "completed"
    assert extracted == ["essay.txt", "guess.txt"]  # bob's upload was really read, not looked up
    documents = Document.objects.filter(sha256=entry.file.sha256)
    assert sorted(d.owner.username for d in documents) == ["alice", "bob"]
    assert documents.get(owner=alice).chunks.count() == documents.get(owner=bob).chunks.count() > 0


def test_a_refused_file_of_alice_is_not_refused_for_bob_from_a_cache(alice, bob, monkeypatch):
    data = b"Ordinary notes about volcanoes and plate tectonics."
    monkeypatch.setattr(ingest, "extract_isolated", lambda name, raw: (_ for _ in ()).throw(extract.ExtractError("refused once")))
    assert _index(alice, "a.txt", data).status == "failed"
    monkeypatch.undo()
    monkeypatch.setattr(ingest, "runner", lambda ids, thread_id, then_run=None: ingest.ingest_now(ids, thread_id, then_run))

    assert _index(bob, "b.txt", data).status == "completed"
