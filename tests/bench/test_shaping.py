"""The benchmark's pure parts: merging the stamp files of several processes, the floor's
result shaping, and the engine ÷ floor table. No timing is asserted."""

import re

import pytest

from bench import floor, levels, scale
from bench.client import socket_path
from bench.levels import SseRun


def test_stamps_of_several_processes_merge_by_message_and_offset():
    worker_a = ["msg_1\t3\t100\n", "msg_1\t6\t110\n", "msg_2\t2\t120\n"]
    worker_b = ["msg_3\t4\t105\n", "msg_1\t6\t90\n", "\n"]  # a retried run: the earlier publish counts
    stamps = levels.parse_stamps(worker_b, levels.parse_stamps(worker_a))
    assert stamps == {"msg_1": [(3, 100), (6, 90)], "msg_2": [(2, 120)], "msg_3": [(4, 105)]}


def test_stamp_files_missing_from_a_process_are_skipped(tmp_path):
    (tmp_path / "stamps-1.tsv").write_text("msg_1\t5\t7\n")
    stamps = levels.read_stamp_files([tmp_path / "stamps-1.tsv", tmp_path / "stamps-2.tsv"])
    assert stamps == {"msg_1": [(5, 7)]}


def test_pieces_follow_the_published_offsets():
    assert levels.pieces_from([(2, 0), (5, 0), (5, 0), (8, 0)], "x = 2 ok") == ["x ", "= 2", " ok"]


def test_an_sse_delta_carrying_several_tokens_counts_each_as_late_as_it():
    run = SseRun(sent_ns=0, first_ns=10_000_000, deltas=[(10_000_000, 4), (20_000_000, 6)], message_id="msg_1",
                 text="abcdef", final_text="abcdef", status="completed")
    stamps = {"msg_1": [(2, 1_000_000), (4, 2_000_000), (6, 3_000_000)]}
    got = levels.sse_results([run], stamps, wall_s=1.0)
    assert got["tokens"] == 3
    assert (got["chunk"]["p50"], got["chunk"]["max"]) == (9.0, 17.0)  # 9, 8 and 17 ms
    assert (got["errors"], got["lost"], got["out_of_order"]) == (0, 0, 0)


def test_websocket_runs_that_failed_are_errors_with_their_reason():
    got = levels.ws_results(["socket: InvalidStatus: HTTP 503"], {}, wall_s=2.0)
    assert (got["runs"], got["errors"], got["tokens"]) == (1, 1, 0)
    assert got["error_samples"] == ["socket: InvalidStatus: HTTP 503"]


def _floor_run(sent, events, ended=True, error=None):
    return floor.FloorRun(sent_ns=sent, got=list(events), ended=ended, error=error)


def test_floor_results_count_tokens_loss_disorder_and_errors():
    ms = 1_000_000
    whole = _floor_run(0, [(5 * ms, 1 * ms, 2, "ab"), (6 * ms, 2 * ms, 3, "c")])
    missing = _floor_run(0, [(5 * ms, 1 * ms, 2, "ab")])
    swapped = _floor_run(0, [(5 * ms, 1 * ms, 3, "c"), (6 * ms, 2 * ms, 2, "ab")])
    timed_out = _floor_run(0, [], ended=False, error="TimeoutError: ")
    got = floor.results([whole, missing, swapped, timed_out], "abc", wall_s=2.0)
    assert (got["runs"], got["errors"], got["lost"], got["out_of_order"]) == (4, 1, 1, 1)
    assert got["tokens"] == 5 and got["tokens_per_s"] == 2.5
    assert got["first"]["p50"] == 5.0
    assert got["error_samples"] == ["TimeoutError: "]


def test_run_timeout_grows_above_250_runs_at_once():
    assert scale.run_timeout(1, 60) == 60 and scale.run_timeout(200, 60) == 60
    assert scale.run_timeout(500, 60) == 120


def _level(tokens_per_s, first, chunk, peak=None):
    row = levels.level_result(10, 1.0, int(tokens_per_s), [first], [chunk], 0, 0, 0, [])
    row["tokens_per_s"] = tokens_per_s
    return row | ({"peak_db": peak} if peak is not None else {})


def test_table_gives_engine_floor_and_ratio_rows_and_marks_skipped_levels():
    results = {
        "engine": {"sse": {1: _level(500, 40.0, 8.0, peak=12)}, "ws": {1: _level(300, 60.0, 4.0, peak=12)}},
        "floor": {"sse": {1: _level(2000, 5.0, 2.0)}, "ws": {1: _level(1000, 6.0, 2.0)}},
    }
    lines = scale.table(results, [1, 500], "connections")
    sse = [line for line in lines if line.startswith("| SSE | 1 |") or line.startswith("| | 1 |")]
    assert "| engine | 500 |" in sse[0] and sse[0].endswith("| 12 |")
    assert "| floor | 2,000 |" in sse[1] and sse[1].endswith("| 0 (none) |")
    assert "**0.25×**" in sse[2] and "8.00× / 8.00×" in sse[2] and "4.00× / 4.00×" in sse[2]
    assert "| SSE | 500 | skipped (budget spent) |" in "\n".join(lines)


@pytest.mark.django_db
def test_the_bench_opens_a_threads_socket_at_the_url_its_page_uses(client, alice, thread):
    """The page says which messages it shows (``?after=``); a socket without it makes the
    consumer read what the page would have told it."""
    client.force_login(alice)
    page = client.get(f"/threads/{thread.id}/").content.decode()
    assert re.search(r'ws-connect="([^"]+)"', page).group(1) == socket_path(thread.id)


def test_table_puts_the_django_floors_between_engine_and_floor_with_their_ratios():
    results = {
        "engine": {"sse": {50: _level(500, 400.0, 80.0, peak=50)}, "ws": {}},
        "django": {"sse": {50: _level(1000, 100.0, 20.0)}, "ws": {}},
        "django_db": {"sse": {50: _level(800, 200.0, 40.0, peak=51)}, "ws": {}},
        "floor": {"sse": {50: _level(2000, 50.0, 10.0)}, "ws": {}},
    }
    lines = [line for line in scale.table(results, [50], "connections") if line.startswith(("| SSE | 50", "| | 50"))]
    assert [line.split(" | ")[2] for line in lines] == [
        "engine", "Django floor", "Django floor + SQLite", "floor",
        "**engine ÷ floor**", "**Django floor ÷ floor**", "**Django floor + SQLite ÷ floor**",
    ]
    assert lines[1].endswith("| 0 (none) |") and lines[2].endswith("| 51 |")
    assert "**0.50×**" in lines[5] and "2.00× / 2.00×" in lines[5]


async def test_the_django_floors_run_view_streams_the_pieces_in_order_then_done(tmp_path, monkeypatch):
    """Its message view answers JSON as the SDK expects; its run view answers the floor's
    events for that stream from the channel layer, pushed by the in-process producer."""
    from django.test import AsyncRequestFactory

    from bench.djfloor import views

    (tmp_path / "pieces.json").write_text('["x = ", "2", " ok"]')
    monkeypatch.setenv("BENCH_FLOOR_PIECES", str(tmp_path / "pieces.json"))
    views.pieces.cache_clear()
    factory = AsyncRequestFactory()
    message = await views.message(factory.post("/", b'{"content": "hi"}', content_type="application/json"), "s1")
    assert message.status_code == 200 and b'"object": "thread.message"' in message.content
    response = await views.run(factory.post("/", b'{"stream": true}', content_type="application/json"), "s1")
    assert response["Content-Type"] == "text/event-stream"
    body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    data = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    got = [floor.json.loads(d) for d in data[:-1]]
    assert [(g["o"], g["text"]) for g in got] == [(4, "x = "), (5, "2"), (8, " ok")]
    views.pieces.cache_clear()


async def test_server_cpu_per_run_is_the_cpu_the_processes_used_over_the_runs(monkeypatch):
    used = iter([1.0, 1.5, 2.0, 2.0])
    monkeypatch.setattr(scale, "cpu_seconds", lambda pids: next(used))

    async def level():
        return {"runs": 50}

    assert (await scale.with_cpu([123], level()))["server_cpu_ms_per_run"] == 10.0
    assert (await scale.with_cpu([], level()))["server_cpu_ms_per_run"] is None
    monkeypatch.undo()
    assert scale.cpu_seconds([2**22 + 1]) == 0  # a process that is gone counts nothing
