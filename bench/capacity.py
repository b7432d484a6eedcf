"""Capacity: many streaming runs at once, through the `/v1` API (SSE, the official
``openai`` SDK) and through the browser's WebSocket, on one embedded server.

    .venv/bin/python -m bench.capacity [--levels 1,50,200] [--compare /path/to/older/checkout]

For each level N, N runs start at once (each on its own thread) and every client reads
its run to the end. Reported per level: streamed tokens (text deltas) delivered per second
in total, first token after the request was sent (p50/p99), per-chunk added latency
(engine publish → client arrival, the hooked server's stamps, as in part 2 of the
streaming benchmark), errors and lost or out-of-order events (the deltas a client got,
joined, must equal the message's final text; SSE events must be in the API's order).

``--compare DIR`` runs the same levels, alternating, against a server started from DIR
(e.g. ``git archive <commit> | tar -x -C DIR``), so before/after share the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import httpx2
from openai import AsyncOpenAI

from bench import report
from bench.client import Browser
from bench.levels import EXPECTED_ORDER, SseRun, merge, one_sse_run  # noqa: F401 - used by bench.cluster
from bench.levels import fmt_ms as _ms
from bench.levels import sse_level as _sse_level
from bench.levels import ws_level as _ws_level
from bench.server import ROOT, Server
from bench.streaming import RUN_TIMEOUT, read_stamps

warnings.filterwarnings("ignore", category=DeprecationWarning, module="bench.capacity")  # the Assistants API is ours
SERVER_ENV = {"API_RATE_LIMIT": "0", "API_READ_RATE_LIMIT": "0"}


async def sse_level(server: Server, threads: list[str], n: int) -> dict:
    http = httpx2.AsyncClient(
        trust_env=False, timeout=httpx2.Timeout(RUN_TIMEOUT * 4),
        limits=httpx2.Limits(max_connections=n + 10, max_keepalive_connections=n + 10),
    )
    client = AsyncOpenAI(api_key=server.fixtures["api_key"], base_url=f"{server.base}/v1", http_client=http, max_retries=0)
    try:
        return await _sse_level([client], server.fixtures["assistant"], threads, n, lambda: read_stamps(server))
    finally:
        await http.aclose()


async def ws_level(server: Server, browser: Browser, threads: list[str], n: int) -> dict:
    return await _ws_level([browser], server.fixtures["assistant"], threads, n, lambda: read_stamps(server))


async def measure(root: Path, levels: list[int], rounds: int) -> dict:
    """Every level on one server: warm-up, then `rounds` rounds per level and transport."""
    need = 1 + 2 * (10 + sum(levels) * rounds)
    results: dict = {"sse": {}, "ws": {}}
    with Server(threads=need, hooked=True, root=root, env=SERVER_ENV, api_key=True) as server:
        threads = list(server.fixtures["threads"])
        async with Browser(server, connections=max(levels) + 10) as browser:
            await browser.login(server.fixtures["username"], server.fixtures["password"])
            await sse_level(server, threads, 10)  # warm-up: imports, templates, sympy caches
            await ws_level(server, browser, threads, 10)
            for n in levels:
                for transport in ("sse", "ws"):
                    for _ in range(rounds):
                        got = await (sse_level(server, threads, n) if transport == "sse" else ws_level(server, browser, threads, n))
                        results[transport].setdefault(n, []).append(got)
    return results


def table(after: dict, before: dict | None, levels: list[int]) -> list[str]:
    head = "| transport | runs at once | version | tokens/s (each round) | first token p50 / p99 (ms) | per-chunk p50 / p99 (ms) | errors | lost / out of order |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for transport in ("sse", "ws"):
        for n in levels:
            versions = [("after", after)] + ([("before", before)] if before else [])
            for label, res in versions:
                r = merge(res[transport][n])
                lines.append(
                    f"| {'SSE (SDK)' if transport == 'sse' else 'WebSocket'} | {n} | {label} | {r['tokens_per_s']:.0f}"
                    + (f" ({', '.join(f'{x:.0f}' for x in r['each_round'])})" if len(r["each_round"]) > 1 else "")
                    + " | "
                    f"{_ms(r['first']['p50'])} / {_ms(r['first']['p99'])} | {_ms(r['chunk']['p50'])} / {_ms(r['chunk']['p99'])} | "
                    f"{r['errors']} of {r['runs']} | {r['lost']} / {r['out_of_order']} |"
                )
            if before:
                a, b = merge(after[transport][n]), merge(before[transport][n])
                ratio = lambda x, y: f"{x / y:.2f}×" if y and x == x and y == y else "—"  # noqa: E731
                lines.append(
                    f"| | {n} | **after/before** | **{ratio(a['tokens_per_s'], b['tokens_per_s'])}** | "
                    f"{ratio(a['first']['p50'], b['first']['p50'])} / {ratio(a['first']['p99'], b['first']['p99'])} | "
                    f"{ratio(a['chunk']['p50'], b['chunk']['p50'])} / {ratio(a['chunk']['p99'], b['chunk']['p99'])} | | |"
                )
    return lines


def markdown(after: dict, before: dict | None, levels: list[int], facts: dict, rounds: int) -> str:
    lines = [
        "## Streaming capacity: many runs at once, SSE and WebSocket",
        "",
        f"- **Command:** `{facts['command']}`",
        f"- **Date:** {facts['date']} (took {facts['seconds']:.0f} s)",
        f"- **Machine:** nproc {facts['nproc']}, CPU `{facts['cpu']}`, Python {facts['python']}; load average "
        f"{facts['load']} before, {facts['load_after']} after — shared with other jobs: read medians, p99 and the "
        "after/before ratios, measured in the same invocation, not absolute numbers.",
        "- **Server:** `bench.hooked_serve serve` (the real `serve` command plus the delta time stamps of part 2 "
        "above), embedded default: SQLite, in-memory channel layer, one process, offline model at "
        "`OFFLINE_MODEL_DELAY=0`, `API_RATE_LIMIT=0`. "
        + ("“before” is the same bench against a server started from an older checkout (`--compare`), run first; "
           "“after” is this checkout. " if before else "")
        + f"{rounds} round(s) per level and transport; each level's runs start at once, each on its own thread.",
        "- **SSE:** the official `openai` SDK (`AsyncOpenAI`, no retries): `messages.create`, then "
        "`runs.create(stream=True)`, read to the end. **WebSocket:** the browser client of part 2 (socket "
        "opened first, then the htmx POST).",
        "- Per level the table shows the round with the lower median throughput (its percentiles) and every "
        "round's tokens/s in brackets; errors and lost events are summed over all rounds. "
        "**tokens/s** = streamed chunks (text deltas published by the engine) that reached their client, over "
        "the level's wall time. **First token** = from sending the request that starts the run to the first "
        "text. **Per-chunk** = from the engine publishing a chunk to its arrival at the client (same clock). "
        "**Errors** = runs that did not end `completed` for their client (timeouts: 60 s SSE, 15 s WebSocket). "
        "**Lost / out of order** = SSE runs whose joined deltas differ from the completed message, or whose "
        "events were not in the API's order; WebSocket chunks that never reached the page.",
        "",
        *table(after, before, levels),
    ]
    return "\n".join(lines)


def _levels_back(results: dict | None) -> dict | None:
    """JSON turned the level keys into strings."""
    if results is None:
        return None
    return {transport: {int(n): rounds for n, rounds in by_level.items()} for transport, by_level in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,50,200", help="concurrent runs per level (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per level and transport (default %(default)s)")
    parser.add_argument("--compare", type=Path, help="an older checkout to measure alternately as 'before'")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--from-json", type=Path, help="render results saved with --json instead of measuring")
    parser.add_argument("--write", action="store_true", help="write the capacity section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    if args.from_json:  # render (and --write) a saved run without measuring again
        saved = json.loads(args.from_json.read_text())
        after, before, facts = _levels_back(saved["after"]), _levels_back(saved["before"]), saved["facts"]
        facts.setdefault("command", ".venv/bin/python -m bench.capacity " + " ".join(
            f"--{k} {v}" for k, v in (("levels", args.levels), ("rounds", args.rounds))) + " --compare <older checkout>")
        section = markdown(after, before, levels, facts, args.rounds)
        print(section)
        if args.write:
            report.write_section("capacity", section)
        return 0
    command = shlex.join([".venv/bin/python", "-m", "bench.capacity", *(argv if argv is not None else sys.argv[1:])])
    facts = {**report.machine(), "date": report.now_utc(), "command": command,
             "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    started = time.monotonic()
    before = asyncio.run(measure(args.compare, levels, args.rounds)) if args.compare else None
    after = asyncio.run(measure(ROOT, levels, args.rounds))
    facts["seconds"] = time.monotonic() - started
    facts["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps({"after": after, "before": before, "facts": facts}, default=str, indent=1))
    section = markdown(after, before, levels, facts, args.rounds)
    print(section)
    if args.write:
        report.write_section("capacity", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
