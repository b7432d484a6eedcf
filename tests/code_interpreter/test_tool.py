"""code_interpreter through the engine: the offline model writes real programs, the step
has the Assistants shape, images and files reach the message and the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from chat.engine import executor
from chat.files import store_file
from chat.models import File, Message, Run, RunStep
from chat.services.messages import post_message

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coder(tutor):
    tutor.tools = [{"type": "code_interpreter"}]
    tutor.save()
    return tutor


@sync_to_async
def _post(thread, assistant, text):
    return post_message(thread, text, assistant, start=False)[1]


@sync_to_async
def _outcome(run):
    run = Run.objects.get(pk=run.pk)
    steps = list(RunStep.objects.filter(run=run, type="tool_calls").order_by("created_at"))
    answer = Message.objects.filter(run=run, role="assistant").order_by("seq").last()
    return run, steps, answer


async def ask(thread, assistant, text):
    run = await _post(thread, assistant, text)
    await executor.execute(run.id)
    return await _outcome(run)


def calls_of(steps):
    return [call for step in steps for call in step.step_details["tool_calls"]]


async def test_the_tutor_generates_fibonacci_numbers_by_running_code(thread, coder):
    run, steps, answer = await ask(thread, coder, "Generate the first 20 fibonacci numbers with code")
    assert run.status == "completed"
    (call,) = calls_of(steps)
    assert call["type"] == "code_interpreter" and set(call["code_interpreter"]) == {"input", "outputs"}
    assert "fib.append" in call["code_interpreter"]["input"]
    assert call["code_interpreter"]["outputs"][0]["type"] == "logs"
    assert "2584, 4181" in call["code_interpreter"]["outputs"][0]["logs"]
    assert "0, 1, 1, 2, 3, 5, 8" in answer.text and "4181" in answer.text
    assert steps[0].status == "completed"


async def test_the_answer_comes_from_the_actual_output(thread, coder, monkeypatch):
    # Tamper with the program: the reported numbers follow what really ran.
    from chat.code_interpreter import skill

    monkeypatch.setattr(skill, "RECIPES", [(re.compile("fibonacci"), lambda m: "print('computed', 6 * 7)")])
    run, steps, answer = await ask(thread, coder, "Generate the first 20 fibonacci numbers with code")
    assert "computed 42" in answer.text and "4181" not in answer.text


@pytest.mark.parametrize(("request_text", "expected"), [
    ("What are the primes below 30?", "2, 3, 5, 7, 11, 13, 17, 19, 23, 29"),
    ("Compute the factorial of 25 with Python", "15511210043330985984000000"),
    ("What is the sum of the first 100 squares?", "338350"),
    ("Show a table of squares up to 5", "25"),
    ("Print the multiplication table of 7", "10 × 7 = 70"),
])
async def test_the_offline_model_writes_programs_for_requests_it_recognizes(thread, coder, request_text, expected):
    run, steps, answer = await ask(thread, coder, request_text)
    assert run.status == "completed" and calls_of(steps)
    assert expected in calls_of(steps)[0]["code_interpreter"]["outputs"][0]["logs"]
    assert expected in answer.text


async def test_a_plot_becomes_an_image_in_the_step_and_in_the_message(thread, coder, alice_client):
    run, steps, answer = await ask(thread, coder, "plot y = x^2 from -5 to 5")
    outputs = calls_of(steps)[0]["code_interpreter"]["outputs"]
    images = [o for o in outputs if o["type"] == "image"]
    assert len(images) == 1
    file_id = images[0]["image"]["file_id"]
    record = await sync_to_async(File.objects.get)(pk=file_id)
    assert record.purpose == "assistants_output" and record.content_type == "image/png"
    assert answer.content[0] == {"type": "image_file", "image_file": {"file_id": file_id}}
    assert "y ranges from" in answer.text
    page = await sync_to_async(alice_client.get)(reverse("chat:thread", args=[thread.id]))
    html = page.content.decode()
    # Shown once, in the message; its step (under the message and in the Steps panel) links to it.
    assert html.count(f'{reverse("chat:file_content", args=[file_id])}?inline=1') == 1
    assert html.count(f'<a href="{reverse("chat:file_content", args=[file_id])}">Figure</a>') == 2
    image = await sync_to_async(alice_client.get)(reverse("chat:file_content", args=[file_id]) + "?inline=1")
    assert image["Content-Type"] == "image/png" and b"".join(image.streaming_content).startswith(b"\x89PNG")


@pytest.mark.parametrize(("request_text", "title", "span"), [
    ("plot sin x", "y = sin(x)", "x from -6.28319 to 6.28319"),  # periodic: two periods each side
    ("plot x^2", "y = x^2", "x from -10 to 10"),
    ("graph cos(x)", "y = cos(x)", "x from -6.28319 to 6.28319"),
    ("draw log(t) over [1, 2pi]", "y = log(t)", "t from 1 to 6.28319"),
])
async def test_a_plot_with_or_without_a_range_draws_the_function(thread, coder, request_text, title, span):
    run, steps, answer = await ask(thread, coder, request_text)
    (call,) = calls_of(steps)
    assert f"ax.set_title({title!r})" in call["code_interpreter"]["input"]
    assert sorted(o["type"] for o in call["code_interpreter"]["outputs"]) == ["image", "logs"]
    assert span in answer.text


@pytest.mark.parametrize(("request_text", "summary"), [
    ("graph y = x^2 from -3 to 3", "y ranges from 0 to 9."),  # 0 is sampled, and shown as 0
    ("plot x^3 - 3x from -1.7 to 1.9", "y ranges from -2 to 2."),  # the turning points -1 and 1
])
async def test_a_plots_summary_gives_the_true_range_of_y_readably(thread, coder, request_text, summary):
    run, steps, answer = await ask(thread, coder, request_text)
    assert summary in answer.text and "e-" not in answer.text


@pytest.mark.parametrize("request_text", [
    "plot the results", "graph theory: prove a tree with n vertices has n-1 edges", "graph G with 5 vertices",
    "plot __import__('os').system('true')",
])
def test_words_after_plot_that_are_no_function_give_no_program(request_text):
    from chat.code_interpreter import skill

    assert skill.program_for(request_text) is None


@pytest.mark.parametrize(("request_text", "expected"), [
    ("plot sin x", "Plotted y = sin(x)"),
    ("mean of 3, 5, 10, 22, use python", "The mean of [3, 5, 10, 22] is 10"),
    ("What is the median of 1, 2, 3 and 10?", "The median of [1, 2, 3, 10] is 2.5"),
])
async def test_plots_and_statistics_run_code_even_with_file_search_on(thread, coder, request_text, expected):
    coder.tools = [{"type": "file_search"}, {"type": "code_interpreter"}]
    await sync_to_async(coder.save)()
    run, steps, answer = await ask(thread, coder, request_text)
    assert [call["type"] for call in calls_of(steps)] == ["code_interpreter"]
    assert expected in answer.text


async def test_asked_for_code_it_has_no_program_for_it_says_so_rather_than_search_the_files(thread, coder):
    coder.tools = [{"type": "file_search"}, {"type": "code_interpreter"}]
    await sync_to_async(coder.save)()
    run, steps, answer = await ask(thread, coder, "Sort my shopping list with python")
    assert run.status == "completed" and not calls_of(steps)
    assert "no program of my own for this request" in answer.text


async def test_a_pasted_python_block_runs_and_its_files_become_download_links(thread, coder, alice_client, bob_client):
    code = "import csv\nwith open('/mnt/data/squares.csv', 'w') as f:\n    csv.writer(f).writerows((n, n * n) for n in range(4))\nprint('saved sandbox:/mnt/data/squares.csv')"
    run, steps, answer = await ask(thread, coder, f"Run this:\n```python\n{code}\n```")
    assert calls_of(steps)[0]["code_interpreter"]["input"].strip() == code
    (annotation, *_) = answer.content[-1]["text"]["annotations"]
    assert annotation["type"] == "file_path" and annotation["text"] == "sandbox:/mnt/data/squares.csv"
    file_id = annotation["file_path"]["file_id"]
    url = reverse("chat:file_content", args=[file_id])
    page = (await sync_to_async(alice_client.get)(reverse("chat:thread", args=[thread.id]))).content.decode()
    page = re.sub(r' data-copy="[^"]*"', "", page)  # the Copy buttons carry the raw Markdown; check what is shown
    articles = page.split('id="messages"')[1].split("<article")
    question, reply = articles[1], articles[-1]
    assert re.search(rf'<a href="{url}"[^>]*>Download squares.csv</a>', reply)
    assert "[Download" not in reply  # not raw markdown
    assert "sandbox:/mnt/data/squares.csv" in question  # the user's code stays as written
    download = await sync_to_async(alice_client.get)(url)
    assert b"".join(download.streaming_content) == b"0,0\r\n1,1\r\n2,4\r\n3,9\r\n"
    assert (await sync_to_async(bob_client.get)(url)).status_code == 404


async def test_state_persists_across_runs_and_an_idle_session_is_replaced_with_a_note(thread, coder, settings):
    await ask(thread, coder, "```python\nsecret_number = 1234\nopen('/mnt/data/keep.txt', 'w').write('x')\n```")
    run, steps, answer = await ask(thread, coder, "```python\nimport os\nprint(secret_number, os.listdir('/mnt/data'))\n```")
    assert "1234 ['keep.txt']" in calls_of(steps)[0]["code_interpreter"]["outputs"][0]["logs"]

    from chat.code_interpreter.sessions import service

    settings.CODE_INTERPRETER_IDLE_TIMEOUT = 0.001
    await service().call(_reap())
    settings.CODE_INTERPRETER_IDLE_TIMEOUT = 1800
    run, steps, answer = await ask(thread, coder, "```python\nprint('secret_number' in globals())\n```")
    logs = "".join(o["logs"] for o in calls_of(steps)[0]["code_interpreter"]["outputs"] if o["type"] == "logs")
    assert "New Python session" in logs and "idle" in logs
    assert "False" in logs


async def test_after_a_restart_the_next_call_says_the_session_was_reset(thread, coder, monkeypatch):
    await ask(thread, coder, "```python\nx = 41\n```")
    # A new server process: its own id, and no session in memory (nor a note of how it ended).
    await service_call_forget(thread.id)
    monkeypatch.setattr("chat.code_interpreter.tool.WORKER_ID", "another-host:4242:0badcafe")
    run, steps, answer = await ask(thread, coder, "```python\nprint(x)\n```")
    logs = "".join(o["logs"] for o in calls_of(steps)[0]["code_interpreter"]["outputs"] if o["type"] == "logs")
    assert "New Python session" in logs and "the server was restarted" in logs
    assert "NameError" in logs
    # The new process holds the session now: the call after that has no note.
    run, steps, answer = await ask(thread, coder, "```python\nx = 42\nprint(x)\n```")
    logs = "".join(o["logs"] for o in calls_of(steps)[0]["code_interpreter"]["outputs"] if o["type"] == "logs")
    assert "New Python session" not in logs and "42" in logs


async def service_call_forget(thread_id):
    from chat.code_interpreter.sessions import service

    async def forget():
        session = service().sessions.pop(thread_id)
        session.kernel.stop()

    await service().call(forget())


async def _reap():
    from chat.code_interpreter.sessions import service

    service().reap()


async def test_files_attached_for_code_interpreter_are_in_mnt_data(thread, coder, alice):
    upload = await sync_to_async(store_file)(alice, "data.csv", b"x,y\n1,2\n")
    coder.tool_resources = {"code_interpreter": {"file_ids": [upload.id]}}
    await sync_to_async(coder.save)()
    run, steps, answer = await ask(thread, coder, "```python\nprint(open('/mnt/data/data.csv').read())\n```")
    assert "x,y\n1,2" in calls_of(steps)[0]["code_interpreter"]["outputs"][0]["logs"]


async def test_a_traceback_is_shown_readably(thread, coder):
    run, steps, answer = await ask(thread, coder, "```python\ndef f():\n    return 1 / 0\nf()\n```")
    logs = calls_of(steps)[0]["code_interpreter"]["outputs"][-1]["logs"]
    assert "ZeroDivisionError: division by zero" in logs and "\x1b[" not in logs
    assert "return 1 / 0" in logs
    assert "ZeroDivisionError" in answer.text


async def test_a_timeout_is_a_clear_error_in_the_step(thread, coder, settings):
    settings.CODE_INTERPRETER_TIMEOUT = 1.0
    run, steps, answer = await ask(thread, coder, "```python\nimport time\nwhile True: time.sleep(0.1)\n```")
    logs = calls_of(steps)[0]["code_interpreter"]["outputs"][-1]["logs"]
    assert "TimeoutError: the code ran for more than 1 seconds" in logs
    assert run.status == "completed"


async def test_without_a_sandbox_the_tool_refuses_and_the_run_fails_cleanly(thread, coder, monkeypatch):
    from chat.code_interpreter import sandbox

    monkeypatch.setattr(sandbox, "probe", lambda: "bubblewrap (bwrap) is not installed")
    run, steps, answer = await ask(thread, coder, "```python\nprint('should not run')\n```")
    assert run.status == "failed"
    assert "Code Interpreter is unavailable: bubblewrap (bwrap) is not installed" in run.last_error["message"]
    assert steps[0].status == "failed"


async def test_without_the_tool_enabled_the_offline_model_does_not_run_code(thread, tutor):
    run, steps, answer = await ask(thread, tutor, "Generate the first 20 fibonacci numbers with code")
    assert not steps and run.status == "completed"


async def test_the_walkthroughs_misspelt_request_runs_and_its_explanation_walks_through_the_code(thread, coder):
    run, steps, answer = await ask(thread, coder, "Generate the first 20 fibbonaci numbers with code.")
    assert run.status == "completed" and "4181" in answer.text
    run, steps, explanation = await ask(thread, coder, "Could you explain this to me?")
    assert run.status == "completed" and not steps  # explained, not run again
    text = explanation.text
    assert "`fib.append(fib[-1] + fib[-2])` — Append `fib[-1] + fib[-2]` to the end of `fib`." in text
    assert "as long as `len(fib) < n` is true" in text
    assert "**The idea:** Each Fibonacci number is the sum of the two before it" in text
    assert "4181" in text  # what it printed


@pytest.mark.parametrize(("request_text", "expected", "wrong"), [
    ("What is the 50th Fibonacci number?", "is 12586269025", None),
    ("What is the 10th fibonacci number?", "is 55", None),
    ("Is 97 prime?", "97 is prime", "not prime"),
    ("Is 91 a prime number?", "91 is not prime: 91 = 7 × 13", None),
    ("What is 12 factorial?", "12! = 479001600", None),
])
async def test_single_number_questions_run_code_even_with_file_search_on(thread, coder, request_text, expected, wrong):
    # With file_search on too, these used to be searched for in the files and answered with
    # unrelated quotes: they are computations, so they go to code.
    coder.tools = [{"type": "file_search"}, {"type": "code_interpreter"}]
    await sync_to_async(coder.save)()
    run, steps, answer = await ask(thread, coder, request_text)
    assert run.status == "completed"
    assert [call["type"] for call in calls_of(steps)] == ["code_interpreter"]
    assert expected in calls_of(steps)[0]["code_interpreter"]["outputs"][0]["logs"]
    assert expected in answer.text
    assert wrong is None or wrong not in answer.text


def test_a_short_output_reaches_markdown_exactly_as_printed():
    from markdown_it import MarkdownIt

    from chat.code_interpreter import skill

    html = MarkdownIt("commonmark").render(skill.report("Plotted y = x^2*sin(x) + 2x*cos(x)\nmy_total = 3"))
    assert "<em>" not in html and "x^2*sin(x) + 2x*cos(x)" in html and "my_total = 3" in html



def test_a_csv_sent_to_an_assistant_with_code_interpreter_is_put_in_mnt_data_too(thread, coder, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from chat.retrieval import ingest

    monkeypatch.setattr(ingest, "runner", lambda ids, thread_id: None)  # reading them is not this test's
    uploads = [SimpleUploadedFile("scores.csv", b"name,score\nAnn,81\n"), SimpleUploadedFile("notes.md", b"# Notes")]
    message, _run = post_message(thread, "what is the average score?", coder, uploads=uploads, start=False)
    tools = {File.objects.get(pk=a["file_id"]).filename: [t["type"] for t in a["tools"]] for a in message.attachments}
    # services.files.tools_for_file: Code Interpreter takes any file when it is on.
    assert tools == {"scores.csv": ["file_search", "code_interpreter"], "notes.md": ["file_search", "code_interpreter"]}
    thread.refresh_from_db()
    in_the_sandbox = thread.tool_resources["code_interpreter"]["file_ids"]
    assert sorted(File.objects.get(pk=pk).filename for pk in in_the_sandbox) == ["notes.md", "scores.csv"]


async def test_a_csv_attached_for_code_interpreter_is_read_in_python_even_with_file_search_on(thread, coder, alice):
    upload = await sync_to_async(store_file)(alice, 'scores <b>&"q".csv', b"name,score,age\nAnn,81,20\nBob,67.5,22\nCy,90,21\n")
    coder.tools = [{"type": "file_search"}, {"type": "code_interpreter"}]
    await sync_to_async(coder.save)()
    thread.tool_resources = {"code_interpreter": {"file_ids": [upload.id]}}
    await sync_to_async(thread.save)()
    run, steps, answer = await ask(thread, coder, "what is the average score in this csv? plot it too")
    assert [call["type"] for call in calls_of(steps)] == ["code_interpreter"]
    outputs = calls_of(steps)[0]["code_interpreter"]["outputs"]
    assert sorted(o["type"] for o in outputs) == ["image", "logs"]
    assert "columns: name (" in answer.text and "score (float64)" in answer.text
    assert "The mean of score is 79.5" in answer.text and "The mean of age" not in answer.text


async def test_a_file_attached_after_the_session_started_reaches_mnt_data_on_the_next_call(thread, coder, alice):
    await ask(thread, coder, "```python\nprint('warm', 1 + 1)\n```")  # the session starts with no files
    upload = await sync_to_async(store_file)(alice, "later.csv", b"x,y\n3,4\n")
    thread.tool_resources = {"code_interpreter": {"file_ids": [upload.id]}}
    await sync_to_async(thread.save)()
    run, steps, answer = await ask(thread, coder, "```python\nprint(open('/mnt/data/later.csv').read())\n```")
    logs = calls_of(steps)[0]["code_interpreter"]["outputs"][0]["logs"]
    assert "x,y\n3,4" in logs and "Download later.csv" not in answer.text  # an input, not an output


@sync_to_async
def _attach_two_tables(thread, alice):
    """Two CSVs, the one with the larger id attached first, so that id order (what an
    unordered query tends to give) is the wrong order."""
    first, second = (
        store_file(alice, name, body)
        for name, body in (
            ("walk-scores.csv", b"name,score\nAnn,10\nBob,20\n"),
            ("Walk-Scores2.csv", b"name,score\nAnn,70\nBob,90\n"),
        )
    )
    older, newer = sorted((first, second), key=lambda f: f.id, reverse=True)
    File.objects.filter(pk=older.pk).update(created_at=newer.created_at - timedelta(minutes=5))
    thread.tool_resources = {"code_interpreter": {"file_ids": [newer.id, older.id]}}
    thread.save()
    return older, newer


async def test_a_data_question_reads_the_table_it_names_else_the_newest(thread, coder, alice):
    older, newer = await _attach_two_tables(thread, alice)
    run, steps, answer = await ask(thread, coder, "what is the average score in this csv?")
    assert f"{newer.filename}: 2 rows" in answer.text
    for table in (older, newer):
        run, steps, answer = await ask(thread, coder, f"what is the average score in {table.filename.lower()}?")
        assert f"{table.filename}: 2 rows" in answer.text
        assert (
            "The mean of score is 15" if table.filename == "walk-scores.csv" else "The mean of score is 80"
        ) in answer.text
