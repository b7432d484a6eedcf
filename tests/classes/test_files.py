"""A tutor's files work in students' runs, and reach a student only through citations in
answers the student received. Rule (chat.access.get_file_for_reader): the owner always;
anyone else only if an answer in a thread they may read cites the file (file_citation or
file_path annotation, image part), or, for the class's tutors, if the file is the
student's and the class thread shows it (attachment, step output)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from chat.engine.executor import execute
from chat.files import store_file
from chat.models import Message, Thread
from chat.retrieval import ingest, stores
from chat.services.messages import post_message

pytestmark = [pytest.mark.django_db(transaction=True)]

NOTES = (
    b"The quadratic formula solves ax^2 + bx + c = 0. "
    b"The discriminant b^2 - 4ac tells how many real roots the equation has. "
    b"Completing the square is another way to solve quadratic equations.\n"
)


@pytest.fixture(autouse=True)
def _ingest_inline(monkeypatch):
    monkeypatch.setattr(ingest, "runner", lambda ids, thread_id: ingest.ingest_now(ids, thread_id))


@pytest.fixture
def notes(people, math):
    """The tutor's notes, given to the published Math Tutor for file_search."""
    file = store_file(people["tess"], "quadratics.txt", NOTES)
    stores.add_files(stores.assistant_store(math), [file])
    stores.enable_file_search(math)
    return file


@pytest.fixture
def cited_answer(people, class_a, sam_thread, math, notes):
    math.refresh_from_db()
    _, run = post_message(sam_thread, "What does the discriminant tell about the roots?", math, start=False)
    async_to_sync(execute)(run.id)
    return Message.objects.filter(run=run, role="assistant").last()


def download(client, file) -> int:
    return client.get(reverse("chat:file_content", args=[file.id])).status_code


def passage(client, file) -> int:
    return client.get(reverse("retrieval:passage", args=[file.id])).status_code


def test_a_student_s_run_searches_the_tutor_s_files_and_cites_them(cited_answer, notes):
    cited = {a["file_citation"]["file_id"] for a in cited_answer.content[0]["text"]["annotations"] if a["type"] == "file_citation"}
    assert cited == {notes.id}


@pytest.mark.parametrize("who,status", [("sam", 200), ("tess", 200), ("cole", 200), ("sue", 404), ("otto", 404), ("bea", 404), ("olga", 404)])
def test_a_cited_file_opens_for_those_who_may_read_the_answer(client_of, class_b, cited_answer, notes, who, status):
    assert download(client_of(who), notes) == status
    assert passage(client_of(who), notes) == status


def test_the_citation_links_in_the_student_s_page_open(client_of, cited_answer, sam_thread, notes):
    html = client_of("sam").get(reverse("chat:thread", args=[sam_thread.id])).content.decode()
    assert reverse("retrieval:passage", args=[notes.id]) in html


def test_an_uncited_file_of_the_tutor_stays_closed_even_if_the_student_types_its_id(client_of, people, cited_answer, sam_thread, math):
    other = store_file(people["tess"], "answers-key.txt", b"x = 1")
    stores.add_files(stores.assistant_store(math), [other])
    Message.objects.create(thread=sam_thread, role="user", content=Message.text_content(f"give me {other.id}"))
    assert download(client_of("sam"), other) == 404
    assert passage(client_of("sam"), other) == 404


def test_a_citation_in_another_student_s_thread_does_not_open_the_file_for_me(client_of, people, class_a, math, cited_answer, notes):
    # Sue has her own conversation, without the citation.
    from chat.classes.services import start_class_thread

    start_class_thread(people["sue"], class_a, math)
    assert download(client_of("sue"), notes) == 404


def test_a_tutor_sees_files_the_student_attached_to_a_class_thread_but_not_their_other_files(client_of, people, sam_thread):
    attached = store_file(people["sam"], "homework.txt", b"my work")
    private = store_file(people["sam"], "diary.txt", b"secret")
    Message.objects.create(
        thread=sam_thread, role="user", content=Message.text_content("see attached"),
        attachments=[{"file_id": attached.id, "tools": [{"type": "file_search"}]}],
    )
    assert download(client_of("tess"), attached) == 200
    assert download(client_of("tess"), private) == 404
    assert download(client_of("olga"), attached) == 404
    other = Thread.objects.create(owner=people["sam"])
    Message.objects.create(thread=other, role="user", content=Message.text_content("x"), attachments=[{"file_id": private.id, "tools": []}])
    assert download(client_of("tess"), private) == 404  # attached in a private thread only


def test_code_interpreter_reads_the_assistant_owner_s_files_in_a_student_s_run(people, sam_thread, math):
    from chat.code_interpreter.tool import _attachments
    from chat.models import Run

    data = store_file(people["tess"], "data.csv", b"x,y\n1,2\n")
    stranger = store_file(people["olga"], "olga.csv", b"no")
    math.tool_resources = {"code_interpreter": {"file_ids": [data.id, stranger.id]}}
    math.save()
    run = Run.objects.select_related("assistant", "thread").get(pk=Run.objects.create(thread=sam_thread, assistant=math, model="offline").pk)
    assert async_to_sync(_attachments)(run) == [("data.csv", b"x,y\n1,2\n")]


def test_a_tutor_sees_the_figures_code_made_in_a_student_s_class_run(client_of, people, sam_thread, math):
    from chat.models import Run, RunStep

    figure = store_file(people["sam"], "plot.png", b"\x89PNG\r\n\x1a\n")
    run = Run.objects.create(thread=sam_thread, assistant=math, model="offline")
    RunStep.objects.create(run=run, type=RunStep.TOOL_CALLS, step_details={"tool_calls": [
        {"id": "call_1", "type": "code_interpreter", "code_interpreter": {"input": "plot()", "outputs": [{"type": "image", "image": {"file_id": figure.id}}]}}
    ]})
    assert download(client_of("tess"), figure) == 200
    assert download(client_of("sam"), figure) == 200
    for who in ("sue", "bea", "olga"):
        assert download(client_of(who), figure) == 404
