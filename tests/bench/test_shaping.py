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
