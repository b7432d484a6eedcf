"""Indexed text belongs to its owner: reused within one user, never across users, gone
with the last copy of the file or with the user."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chat.models import File, Thread
from chat.retrieval import ingest, passages
from chat.retrieval.models import Chunk, Document, VectorStore
from chat.retrieval.stores import add_files, searchable_files, thread_store

TEXT = b"The French Revolution began in 1789 with the storming of the Bastille. " * 30


def _indexed(owner, upload, name="history.txt", data=TEXT):
    file = upload(name, data, owner=owner)
    [entry] = add_files(VectorStore.objects.create(owner=owner), [file])
    ingest.ingest_now([entry.pk])
    return file


@pytest.mark.django_db
def test_each_user_searches_their_own_copy_of_the_same_content(alice, bob, upload, tutor):
    alice_file, bob_file = _indexed(alice, upload), _indexed(bob, upload)
    bobs_thread = Thread.objects.create(owner=bob)
    add_files(thread_store(bobs_thread), [bob_file])
    ingest.ingest_now(list(thread_store(bobs_thread).files.values_list("pk", flat=True)))

    [(file, document_id)] = searchable_files(bobs_thread, None)

    assert file == bob_file and Document.objects.get(pk=document_id).owner == bob
    assert alice_file.sha256 == bob_file.sha256


@pytest.mark.django_db
def test_deleting_a_file_deletes_its_indexed_text_once_no_copy_is_left(alice, upload):
    first, second = _indexed(alice, upload), _indexed(alice, upload, "copy.txt")
    assert Document.objects.filter(owner=alice).count() == 1

    first.delete()
    assert Document.objects.filter(owner=alice).count() == 1  # the copy still needs it

    second.delete()
    assert not Document.objects.exists() and not Chunk.objects.exists()


@pytest.mark.django_db
def test_deleting_a_file_leaves_another_users_copy_alone(alice, bob, upload):
    alice_file, _ = _indexed(alice, upload), _indexed(bob, upload)

    alice_file.delete()

    assert list(Document.objects.values_list("owner__username", flat=True)) == ["bob"]


@pytest.mark.django_db
def test_deleting_a_user_deletes_their_files_indexed_text(alice, bob, upload):
    _indexed(alice, upload)
    _indexed(bob, upload)

    alice.delete()

    assert list(Document.objects.values_list("owner__username", flat=True)) == ["bob"]
    assert not File.objects.filter(owner_id=alice.pk).exists()


def _apps_at(migration: tuple[str, str]):
    """The models as they were at ``migration``, the database migrated back to it."""
    executor = MigrationExecutor(connection)
    executor.migrate([migration])
    return executor.loader.project_state([migration]).apps


def _migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_owner_of_shared_content_their_own_copy(django_user_model):
    old = _apps_at(("retrieval", "0002_fulltext"))
    OldDocument, OldChunk = old.get_model("retrieval", "Document"), old.get_model("retrieval", "Chunk")
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    for owner, name in [(alice, "a.txt"), (bob, "b.txt")]:
        File.objects.create(owner=owner, filename=name, bytes=5, sha256="s" * 64, data=name)
    shared = OldDocument.objects.create(sha256="s" * 64, chunking="k", status="ready", kind="text")
    OldChunk.objects.create(document=shared, seq=0, text="shared words")
    OldDocument.objects.create(sha256="o" * 64, chunking="k", status="ready")  # its files are gone

    _migrate_to_latest()

    documents = Document.objects.order_by("owner__username")
    assert [(d.owner.username, d.sha256, d.status) for d in documents] == [("alice", "s" * 64, "ready"), ("bob", "s" * 64, "ready")]
    assert [list(d.chunks.values_list("text", flat=True)) for d in documents] == [["shared words"], ["shared words"]]


@pytest.mark.django_db(transaction=True)
def test_the_migration_stores_the_term_index_of_chunks_indexed_before_it(alice):
    old = _apps_at(("retrieval", "0006_chunk_terms"))
    OldDocument, OldChunk = old.get_model("retrieval", "Document"), old.get_model("retrieval", "Chunk")
    document = OldDocument.objects.create(owner_id=alice.pk, sha256="s" * 64, chunking="k", status="ready")
    OldChunk.objects.create(document=document, seq=0, text="Filters of tokens.")

    _migrate_to_latest()

    assert list(Chunk.objects.values_list("terms", flat=True)) == [passages.term_index("Filters of tokens.")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_stores_the_section_each_chunk_indexed_before_it_begins_inside(alice):
    old = _apps_at(("retrieval", "0008_chunk_section"))
    OldDocument, OldChunk = old.get_model("retrieval", "Document"), old.get_model("retrieval", "Chunk")
    document = OldDocument.objects.create(owner_id=alice.pk, sha256="s" * 64, chunking="k", status="ready")
    OldChunk.objects.create(document=document, seq=1, text="Then the pages were counted.")
    OldChunk.objects.create(document=document, seq=0, text="Intro. 4.1. Training Corpus We gathered pages.")

    _migrate_to_latest()

    assert list(Chunk.objects.order_by("seq").values_list("section", flat=True)) == ["", "Training Corpus"]
