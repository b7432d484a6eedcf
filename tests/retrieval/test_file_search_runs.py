"""file_search end to end: the offline model searches, answers extractively and cites."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from chat.engine.executor import execute
from chat.models import Message, RunStep
from chat.retrieval import stores
from chat.retrieval.annotate import MARKER
from chat.retrieval.ingest import ingest_now
from chat.retrieval.models import VectorStoreFile
from chat.services.messages import post_message
from tests.engine.scripted import ScriptedProvider, call_turn, text_turn, use

pytestmark = [pytest.mark.django_db(transaction=True)]

WALKTHROUGH = "What are some cool math concepts behind this ML paper pdf? Explain in two sentences."


@sync_to_async
def attach_to_assistant(tutor, files):
    stores.enable_file_search(tutor)
    entries = stores.add_files(stores.assistant_store(tutor), files)
    ingest_now([e.pk for e in entries])  # add_files' on-commit ingest already ran it; this is a no-op then
    return [VectorStoreFile.objects.get(pk=e.pk).status for e in entries]


@sync_to_async
def ask(thread, tutor, text):
    tutor.refresh_from_db()
    return post_message(thread, text, tutor, start=False)[1]


@sync_to_async
def answer_and_steps(run):
    answer = Message.objects.filter(run=run, role="assistant").order_by("seq").last()
    steps = list(RunStep.objects.filter(run=run, type="tool_calls"))
    return answer, steps


@pytest.fixture(autouse=True)
def _no_background(monkeypatch):
    monkeypatch.setattr("chat.retrieval.ingest.runner", lambda ids, thread_id: ingest_now(ids, thread_id))


async def test_the_walkthrough_question_is_answered_with_citations_to_the_gpt2_paper(thread, tutor, upload, gpt2_bytes):
    paper = await sync_to_async(upload)("language_models_are_unsupervised_multitask_learners.pdf", gpt2_bytes)
    assert await attach_to_assistant(tutor, [paper]) == ["completed"]
    run = await ask(thread, tutor, WALKTHROUGH)
    await execute(run.id)
    answer, steps = await answer_and_steps(run)
    [call] = steps[0].step_details["tool_calls"]
    assert call["type"] == "file_search" and call["file_search"]["query"] == WALKTHROUGH
    results = call["file_search"]["results"]
    assert 0 < len(results) <= 20
    assert {"file_id", "file_name", "score", "content"} <= set(results[0])
    annotations = answer.content[0]["text"]["annotations"]
    assert annotations and all(a["type"] == "file_citation" for a in annotations)
    assert {a["file_citation"]["file_id"] for a in annotations} == {paper.id}
    for a in annotations:
        assert answer.text[a["start_index"] : a["end_index"]] == a["text"]
        assert a["file_citation"]["quote"] and 1 <= a["file_citation"]["page"] <= 24
    # The quote is really in the cited passage.
    quote = annotations[0]["file_citation"]["quote"]
    assert any(quote in r["content"][0]["text"] for r in results)


async def test_a_question_about_attention_heads_cites_the_transformer_paper(thread, tutor, upload, gpt2_bytes, transformer_bytes):
    gpt2 = await sync_to_async(upload)("gpt2.pdf", gpt2_bytes)
    transformer = await sync_to_async(upload)("attention_is_all_you_need.pdf", transformer_bytes)
    await attach_to_assistant(tutor, [gpt2, transformer])
    run = await ask(thread, tutor, "How many attention heads does multi-head attention use?")
    await execute(run.id)
    answer, _ = await answer_and_steps(run)
    cited = [a["file_citation"]["file_id"] for a in answer.content[0]["text"]["annotations"]]
    assert cited and cited[0] == transformer.id


async def test_nothing_relevant_is_said_plainly(thread, tutor, upload):
    notes = await sync_to_async(upload)("notes.md", b"Photosynthesis happens in the chloroplasts of plant cells.")
    await attach_to_assistant(tutor, [notes])
    run = await ask(thread, tutor, "Who won the football world cup?")
    await execute(run.id)
    answer, _ = await answer_and_steps(run)
    assert "found nothing relevant" in answer.text
    assert not answer.content[0]["text"]["annotations"]


async def test_with_no_files_the_answer_says_where_to_attach_one_in_words_every_surface_has(thread, tutor):
    await sync_to_async(stores.enable_file_search)(tutor)
    run = await ask(thread, tutor, "Who won the football world cup?")
    await execute(run.id)
    answer, _ = await answer_and_steps(run)
    # The page's control is "Attach files" (no paper-clip), and /v1 has no page at all.
    assert "Attach a file to the conversation or to the assistant" in answer.text
    assert "paper-clip" not in answer.text


async def test_a_real_models_markers_become_annotations(monkeypatch, thread, tutor, upload):
    notes = await sync_to_async(upload)("optics.md", b"Snell's law relates the angles of incidence and refraction.\n\nLenses focus light.")
    await attach_to_assistant(tutor, [notes])
    provider = ScriptedProvider(
        call_turn(("call_1", "file_search", json.dumps({"query": "Snell's law"}))),
        text_turn("Snell's law relates the angles of incidence and refraction.", "【0:0†optics.md】"),
    )
    use(monkeypatch, provider)
    run = await ask(thread, tutor, "What is Snell's law?")
    await execute(run.id)
    tool_message = provider.requests[1].messages[-1]
    assert tool_message["role"] == "tool" and "【0:0†optics.md】" in tool_message["content"]
    answer, _ = await answer_and_steps(run)
    [annotation] = answer.content[0]["text"]["annotations"]
    assert annotation["text"] == "【0:0†optics.md】"
    assert annotation["file_citation"] == {
        "file_id": notes.id, "quote": "Snell's law relates the angles of incidence and refraction.", "page": 1
    }


async def test_max_num_results_and_the_score_threshold_come_from_the_assistant(thread, tutor, upload, gpt2_bytes):
    paper = await sync_to_async(upload)("gpt2.pdf", gpt2_bytes)
    await attach_to_assistant(tutor, [paper])
    tutor.tools = [{"type": "file_search", "file_search": {"max_num_results": 3}}]
    await sync_to_async(tutor.save)()
    run = await ask(thread, tutor, "zero-shot language modeling perplexity")
    await execute(run.id)
    _, steps = await answer_and_steps(run)
    assert len(steps[0].step_details["tool_calls"][0]["file_search"]["results"]) == 3


async def test_nobody_else_can_search_a_users_files(thread, tutor, bob, upload):
    """A store id pointing at bob's store finds nothing for alice's run."""
    secret = await sync_to_async(upload)("secret.md", b"The launch code is swordfish.", owner=bob)

    @sync_to_async
    def bobs_store():
        from chat.retrieval.models import VectorStore

        store = VectorStore.objects.create(owner=bob)
        entries = stores.add_files(store, [secret])
        ingest_now([e.pk for e in entries])
        tutor.tools = [{"type": "file_search"}]
        tutor.tool_resources = {"file_search": {"vector_store_ids": [store.id]}}
        tutor.save()

    await bobs_store()
    run = await ask(thread, tutor, "What is the launch code?")
    await execute(run.id)
    answer, steps = await answer_and_steps(run)
    assert steps[0].step_details["tool_calls"][0]["file_search"]["results"] == []
    assert "swordfish" not in answer.text


def test_markers_are_well_formed():
    assert MARKER.fullmatch("【3:12†paper.pdf】")


def test_files_left_in_progress_by_a_stopped_server_are_ingested_at_start_up(alice, upload):
    import time

    from chat.retrieval.ingest import resume_unfinished
    from chat.retrieval.models import VectorStore

    file = upload("notes.md", b"Ohm's law: the current through a conductor is proportional to the voltage.")
    entry = VectorStoreFile.objects.create(vector_store=VectorStore.objects.create(owner=alice), file=file)
    resume_unfinished()
    for _ in range(100):
        entry.refresh_from_db()
        if entry.status != "in_progress":
            break
        time.sleep(0.05)
    assert entry.status == "completed"


async def test_in_a_thread_with_files_explain_this_explains_the_previous_answer(thread, tutor, upload):
    """"Could you explain this to me?" after a solution reaches the explain skill; the files
    are not searched for it."""
    notes = await sync_to_async(upload)("notes.md", b"Photosynthesis happens in the chloroplasts of plant cells.")
    await attach_to_assistant(tutor, [notes])
    run = await ask(thread, tutor, "Solve 3x + 11 = 14")
    await execute(run.id)
    solution, steps = await answer_and_steps(run)
    assert not steps and "x = 1" in solution.text
    run = await ask(thread, tutor, "Could you explain this to me?")
    await execute(run.id)
    explanation, steps = await answer_and_steps(run)
    assert not steps  # no file_search call
    assert "Subtract" in explanation.text and "both sides" in explanation.text
    assert "chloroplasts" not in explanation.text


async def test_in_a_thread_with_files_explain_this_as_a_first_message_searches_the_files(thread, tutor, upload):
    notes = await sync_to_async(upload)("notes.md", b"Photosynthesis happens in the chloroplasts of plant cells.")
    await attach_to_assistant(tutor, [notes])
    run = await ask(thread, tutor, "Could you explain this to me?")
    await execute(run.id)
    _, steps = await answer_and_steps(run)
    [call] = steps[0].step_details["tool_calls"]
    assert call["type"] == "file_search"
