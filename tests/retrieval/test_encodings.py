"""Text in legacy encodings (Latin-1, windows-1252, UTF-16 …) is read, not refused as binary."""

from __future__ import annotations

import os

import pytest

from chat.models import File
from chat.retrieval import extract
from chat.retrieval.models import VectorStore
from chat.retrieval.stores import add_files

FRENCH = "Le garçon a mangé une crème brûlée à l'école. Ça coûte cher, déjà en août.\nNoël à Besançon."


@pytest.mark.parametrize(
    "encoding, text",
    [
        ("latin-1", FRENCH),
        ("cp1252", FRENCH + " Le prix : 5 € — « très » cher."),
        ("utf-16", FRENCH),  # with a byte-order mark, as Windows' Notepad writes it
        ("utf-16-le", FRENCH),  # without one
        ("utf-8-sig", FRENCH),
        ("utf-8", FRENCH),
        ("cp1251", "Привет! Это простой текст на русском языке для проверки кодировки."),
    ],
)
def test_text_in_each_encoding_is_read_as_written(encoding, text):
    kind, pages = extract.extract("notes.txt", text.encode(encoding))

    assert kind == "text"
    assert pages[0][1] == extract.normalize(text)


def test_a_short_western_snippet_is_not_read_as_chinese():
    kind, pages = extract.extract("page.html", "<p>Ça va, élève ?</p>".encode("cp1252"))

    assert pages[0][1] == "Ça va, élève ?"


def test_a_latin1_csv_keeps_its_accented_column_names():
    data = "prénom,ville\nÉlise,Besançon\n".encode("latin-1")

    assert extract.extract("élèves.csv", data)[1][0][1] == "prénom: Élise; ville: Besançon"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        bytes(range(256)) * 40,
        os.urandom(20_000),
    ],
    ids=["png", "every byte", "random"],
)
def test_binary_data_is_still_refused(data):
    with pytest.raises(extract.ExtractError, match="binary data, not text"):
        extract.extract("notes.txt", data)


@pytest.mark.django_db
def test_a_latin1_file_is_indexed_and_searchable(alice, upload, django_capture_on_commit_callbacks):
    from chat.retrieval import search

    file = upload("cours.txt", ("La photosynthèse a lieu dans le chloroplaste. " * 20).encode("latin-1"))
    store = VectorStore.objects.create(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        [entry] = add_files(store, [file])

    assert File.objects.get(pk=file.pk).status == "processed"
    document = alice.documents.get(sha256=file.sha256)
    [hit, *_] = search.search("photosynthèse chloroplaste", [document.id])
    assert "photosynthèse" in hit.chunk.text
