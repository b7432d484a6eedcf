"""The run panel a thread's socket keeps up to date (chat.live.RunPanel): each event is
taken from its payload (the rows it carries), rows are read only for a run the panel does
not know yet and for an event without payload, and what it renders is exactly what
render_run_panel() renders from the latest run — or nothing, when nothing the panel shows
changed."""

import json
from html.parser import HTMLParser

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import live
from chat.engine import events, states
from chat.engine.runs import cancel_run
from chat.files import store_file
from chat.models import Message, Run, RunStep

pytestmark = pytest.mark.django_db


def new_run(thread, tutor, status=states.IN_PROGRESS) -> Run:
    return Run.objects.create(thread=thread, assistant=tutor, model="offline", status=status)


def message_step(run, status=RunStep.IN_PROGRESS) -> RunStep:
    details = {"type": "message_creation", "message_creation": {"message_id": "msg_1"}}
    return RunStep.objects.create(run=run, type=RunStep.MESSAGE_CREATION, status=status, step_details=details)


def status_event(run: Run, seq: int | None) -> dict:
    """What the engine publishes (numbered) or a cancel / recovery (unnumbered, no payload)."""
    if seq is None:
        return {"type": "run.status", "run_id": run.id}
    return {"type": "run.status", "run_id": run.id, "seq": seq, "run": events.fields_of(run, events.RUN_FIELDS)}


def step_event(step: RunStep, seq: int) -> dict:
    data = events.fields_of(step, events.STEP_FIELDS, limit=events.PAYLOAD_LIMIT)
    return {"type": "run.step", "run_id": step.run_id, "seq": seq, "step_id": step.id, "step": data}


def update(panel, *taken) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as captured:
        html = panel.update(taken)
    return html, len(captured)


class _TopLevel(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=False)
        self.html, self.depth, self.starts, self.parts = html, 0, [0], {}
        for line in html.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.feed(html)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if self.depth == 0:
            self.open = (dict(attrs).get("id"), self._offset())
        if tag not in VOID:
            self.depth += 1

    def handle_endtag(self, tag):
        self.depth -= 1
        if self.depth == 0:
            element_id, start = self.open
            self.parts[element_id] = self.html[start : self.html.index(">", self._offset()) + 1]


VOID = {"br", "img", "input", "hr", "meta", "link"}


def oob_parts(html: str) -> dict[str, str]:
    """A panel's fragment as the page takes it: its top-level elements (each an
    out-of-band swap) by id."""
    return _TopLevel(html).parts


def shows(page: dict[str, str], html: str) -> dict[str, str]:
    """``page`` (the panel's parts by id) after the fragment ``html`` swapped its parts in."""
    page.update(oob_parts(html))
    return page


def test_each_event_is_taken_from_its_payload_and_renders_the_whole_panel(thread, tutor):
    earlier = new_run(thread, tutor, states.COMPLETED)
    panel = live.RunPanel(thread)
    page = oob_parts(panel.render())
    assert page == oob_parts(live.render_run_panel(thread))

    run = new_run(thread, tutor)  # a new run: read once; its first event of all, so no steps yet
    html, queries = update(panel, status_event(run, 1))
    assert shows(page, html) == oob_parts(live.render_run_panel(thread)) and "In progress" in html and queries == 1

    step = message_step(run)  # a step: from its payload
    html, queries = update(panel, step_event(step, 2))
    assert shows(page, html) == oob_parts(live.render_run_panel(thread)) and "Wrote a message" in html and queries == 0

    step.status = RunStep.COMPLETED
    step.save()
    html, queries = update(panel, step_event(step, 3))
    assert shows(page, html) == oob_parts(live.render_run_panel(thread)) and queries == 0

    run.status, run.usage = states.COMPLETED, {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    run.save()
    html, queries = update(panel, status_event(run, 4))
    assert shows(page, html) == oob_parts(live.render_run_panel(thread)) and "7 tokens" in html and queries == 0

    assert update(panel, status_event(run, 5)) == ("", 0)  # nothing changed: nothing rendered
    assert update(panel, status_event(earlier, 9)) == ("", 1)  # an older run's late event


def test_an_event_renders_only_the_parts_of_the_panel_it_changed(thread, tutor):
    """The page shows the other parts as they are (the status chip and plug-ins' parts are always sent)."""
    panel = live.RunPanel(thread)
    page = oob_parts(panel.render())
    assert set(page) >= {"run-status", "run-details", "composer-action", "steps"}
    run = new_run(thread, tutor)
    html, _ = update(panel, status_event(run, 1))  # a new run: every part
    assert set(oob_parts(html)) == set(page)
    shows(page, html)
    step = message_step(run)
    html, _ = update(panel, step_event(step, 2))
    assert set(oob_parts(html)) == {"run-status", "run-details", "steps", "pending-action"}  # the buttons stay
    shows(page, html)
    step.status = RunStep.COMPLETED
    step.save()
    shows(page, update(panel, step_event(step, 3))[0])
    run.status = states.COMPLETED
    run.save()
    html, _ = update(panel, status_event(run, 4))
    assert set(oob_parts(html)) == {"run-status", "run-details", "composer-action", "pending-action"}  # the steps stay
    assert shows(page, html) == oob_parts(live.render_run_panel(thread))


def published_status(run: Run) -> dict:
    """The run's first event of all as the engine's publisher sends it (the engine reads
    the run with its assistant)."""
    sent = []
    publisher = events.Publisher(run.thread_id, [sent.append], run_id=run.id)
    async_to_sync(publisher.run_status)(Run.objects.select_related("assistant").get(pk=run.pk))
    publisher.retire()
    return sent[0]


def test_a_runs_first_event_brings_the_run_whole_and_its_assistants_name(thread, tutor):
    new_run(thread, tutor, states.COMPLETED)
    panel = live.RunPanel(thread)
    page = oob_parts(panel.render())
    run = new_run(thread, tutor)
    event = published_status(run)
    assert event["seq"] == 1
    html, queries = update(panel, event)
    assert shows(page, html) == oob_parts(live.render_run_panel(thread)) and "In progress" in html and queries == 0
    with CaptureQueriesContext(connection) as captured:
        assert panel.run.assistant.name == "Math Tutor" and panel.run.model == "offline"
    assert len(captured) == 0
    # Its later events carry what changes, as before.
    run.status = states.COMPLETED
    run.save()
    later = events.Publisher(run.thread_id, [], run_id=run.id, seq=1)
    sent = []
    later.listeners.append(sent.append)
    async_to_sync(later.run_status)(run)
    later.retire()
    assert set(sent[0]["run"]) == set(events.RUN_FIELDS) and "assistant" not in sent[0]


def test_a_whole_run_of_another_thread_is_not_shown(thread, tutor, bob):
    other = thread.__class__.objects.create(owner=bob, assistant=tutor, title="Not alice's")
    panel = live.RunPanel(thread)
    panel.render()
    html, queries = update(panel, published_status(new_run(other, tutor)))
    assert html == "" and queries == 1 and panel.run is None  # read by its thread: not found


def test_a_cancelled_run_shows_the_steps_it_closed(thread, tutor):
    run = new_run(thread, tutor, states.REQUIRES_ACTION)
    step = message_step(run)
    panel = live.RunPanel(thread)
    page = oob_parts(panel.render())
    assert cancel_run(run)  # closes the open step, announces only the run, without payload
    html, queries = update(panel, status_event(run, None))
    assert shows(page, html) == oob_parts(live.render_run_panel(thread)) and queries == 2
    assert f'id="step-{step.id}" class="step step--cancelled"' in html


def test_a_step_of_a_run_not_shown_yet_shows_the_latest_run(thread, tutor):
    new_run(thread, tutor, states.COMPLETED)
    panel = live.RunPanel(thread)
    page = oob_parts(panel.render())
    step = message_step(new_run(thread, tutor))
    html, _ = update(panel, step_event(step, 2))
    assert shows(page, html) == oob_parts(live.render_run_panel(thread)) and "In progress" in html


def test_an_event_older_than_the_rows_read_does_not_take_the_panel_back(thread, tutor):
    """After a gap the rows are read; events still queued may be older than them."""
    run = new_run(thread, tutor)
    step = message_step(run)
    started, step_open = status_event(run, 1), step_event(step, 2)
    step.status = RunStep.COMPLETED
    step.save()
    run.status = states.COMPLETED
    run.save()
    panel = live.RunPanel(thread)
    shown = panel.render()  # the rows, read after the gap: completed
    assert update(panel, started, step_open) == ("", 0)
    assert shown == live.render_run_panel(thread) and "Completed" in shown


def test_a_resumed_run_moves_on_from_requires_action(thread, tutor):
    """requires_action ends an execution; the next one's statuses come after it (event_seq)."""
    run = new_run(thread, tutor, states.REQUIRES_ACTION)
    run.event_seq = 7
    run.save()
    panel = live.RunPanel(thread)
    page = oob_parts(panel.render())
    run.status = states.IN_PROGRESS  # tool outputs submitted, the next execution claimed it
    run.save()
    html, queries = update(panel, status_event(run, 8))
    assert shows(page, html) == oob_parts(live.render_run_panel(thread)) and "In progress" in html and queries == 0


def message_event(message: Message, kind: str, seq: int) -> dict:
    data = events.fields_of(message, events.MESSAGE_FIELDS, limit=events.PAYLOAD_LIMIT)
    return {"type": kind, "run_id": message.run_id, "seq": seq, "message_id": message.id, "message": data}


@pytest.mark.parametrize("read_only", [False, True])
def test_a_message_rendered_from_its_payload_is_the_one_rendered_from_its_row(thread, tutor, alice, read_only):
    """An answer with code's image and a file link above and in it, citations and the
    assistant's name (all untrusted, escaped alike), after an earlier message of its run:
    only the tool work between the two is shown above it, unfolded (the latest run)."""
    tutor.name = "Tutor <b>bold</b>"
    tutor.save()
    cited = store_file(alice, "notes <i>1.md", b"Entropy never decreases.")
    image = store_file(alice, "plot.png", b"\x89PNG fake", purpose="assistants_output")
    run = new_run(thread, tutor)
    panel = live.RunPanel(thread, read_only=read_only)
    panel.render()  # a page open before the run's events (the run is active: its messages are kept)
    searched = RunStep.objects.create(
        run=run, type=RunStep.TOOL_CALLS, status=RunStep.COMPLETED,
        step_details={"type": "tool_calls", "tool_calls": [{"id": "call_0", "type": "file_search", "file_search": {}}]},
    )
    first = Message.objects.create(
        thread=thread, role="assistant", assistant=tutor, run=run, content=Message.text_content("Let me plot it.")
    )
    outputs = [{"type": "logs", "logs": "<done>"}, {"type": "image", "image": {"file_id": image.id}}]
    ran = RunStep.objects.create(
        run=run, type=RunStep.TOOL_CALLS, status=RunStep.COMPLETED,
        step_details={"type": "tool_calls", "tool_calls": [
            {"id": "call_1", "type": "code_interpreter", "code_interpreter": {"input": "plot()", "outputs": outputs}},
        ]},
    )
    text = "Entropy never decreases.【0:0†notes】 See [the data](sandbox:/mnt/data/data.csv) **now**."
    marker, link = text.index("【"), text.index("sandbox:")
    annotations = [
        {"type": "file_citation", "text": "【0:0†notes】", "start_index": marker, "end_index": marker + len("【0:0†notes】"),
         "file_citation": {"file_id": cited.id, "quote": "Entropy <i>never</i>", "page": 1}},
        {"type": "file_path", "text": "sandbox:/mnt/data/data.csv", "start_index": link,
         "end_index": link + len("sandbox:/mnt/data/data.csv"), "file_path": {"file_id": image.id}},
    ]
    answer = Message.objects.create(
        thread=thread, role="assistant", assistant=tutor, run=run,
        content=[{"type": "image_file", "image_file": {"file_id": image.id}}, *Message.text_content(text, annotations)],
    )
    for seq, step in enumerate([searched, ran], start=1):
        panel.update([step_event(step, seq)])
    for seq, message in enumerate([first, answer], start=3):
        taken = panel.message(message_event(message, "message.completed", seq))
        assert taken is not None and taken is not message
        with CaptureQueriesContext(connection) as captured:
            from_payload = panel.render_message(taken)
        row = Message.objects.select_related("assistant", "thread").get(pk=message.pk)
        assert from_payload == live.render_message(row, read_only=read_only)
        # Only the cited file is read (its name and type for the source list).
        assert [q["sql"] for q in captured if "chat_message" in q["sql"] or "chat_runstep" in q["sql"]] == []
    assert "Ran Python" in from_payload and "Searched files" not in from_payload and " open>" in from_payload
    assert "Tutor &lt;b&gt;bold&lt;/b&gt;" in from_payload and "notes &lt;i&gt;1.md" in from_payload
    assert f'<a href="/files/{image.id}/content/" rel="noopener noreferrer nofollow">the data</a>' in from_payload and "<b>" not in from_payload


def test_a_message_event_without_payload_or_of_an_ended_run_reads_its_row(thread, tutor):
    run = new_run(thread, tutor, states.COMPLETED)
    answer = Message.objects.create(thread=thread, role="assistant", assistant=tutor, run=run, content=Message.text_content("4"))
    panel = live.RunPanel(thread)
    panel.render()
    assert panel.message(message_event(answer, "message.completed", 3)) is None  # an ended run's messages are not kept
    live_run = new_run(thread, tutor)
    panel.render()
    later = Message.objects.create(thread=thread, role="assistant", assistant=tutor, run=live_run, status=Message.IN_PROGRESS)
    assert panel.message({**message_event(later, "message.created", 1), "message": None}) is None  # too large to carry
    assert panel.message({**message_event(later, "message.created", 1), "seq": None}) is None  # unnumbered
    assert panel.message(message_event(later, "message.created", 1)).status == Message.IN_PROGRESS


def test_a_question_carried_by_a_runs_first_event_renders_as_its_row_does(thread, tutor):
    """Untrusted text: the question from the event's payload (as it crosses a channel layer)
    is escaped exactly as the question read from its row, for the owner and for a tutor."""
    from chat.services.messages import post_message

    question, run = post_message(thread, 'Is <script>alert("x")</script> & <b>7</b> prime?', tutor, start=False)
    run = Run.objects.select_related("thread").get(pk=run.pk)
    carried = events.questions_of(run, list(thread.messages.order_by("seq")))
    event = json.loads(json.dumps({"type": "run.status", "seq": 1, "questions": carried}))
    for read_only in (False, True):
        [message], title = events.carried_questions(event, 0)
        message.thread = thread
        with CaptureQueriesContext(connection) as captured:
            html = live.render_new_message(message, read_only=read_only)
        assert len(captured) == 0
        assert html == live.render_new_message(Message.objects.get(pk=question.pk), read_only=read_only)
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;7&lt;/b&gt;" in html
    assert title == thread.title
    assert events.carried_questions(event, question.seq) == ([], title)  # the page shows it already


def test_the_panel_writes_token_counts_with_thousands_separators(thread, tutor):
    """As the class pages do (humanize's intcomma): "534,639 tokens", not "534639 tokens"."""
    run = new_run(thread, tutor, status=states.COMPLETED)
    run.usage = {"prompt_tokens": 530_000, "completion_tokens": 4_639, "total_tokens": 534_639}
    run.save()
    step = message_step(run, status=RunStep.COMPLETED)
    step.usage = {"prompt_tokens": 12_000, "completion_tokens": 345, "total_tokens": 12_345}
    step.save()
    html = live.render_run_panel(thread)
    assert "534,639 tokens (530,000 in, 4,639 out)" in html
    assert "12,345 tokens" in html
    assert "534639" not in html and "12345" not in html
