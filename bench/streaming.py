"""The streaming benchmark: how soon an answer's first text reaches the page, and how
much delay the push path adds to every streamed chunk, alone and under 50 concurrent runs.

Everything goes through real parts: a ``manage.py serve`` subprocess (Daphne, Django,
Channels' in-memory layer, the run engine, the offline model at OFFLINE_MODEL_DELAY=0),
HTTP posts as htmx sends them, and one WebSocket per thread page, all over 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

from bench.client import Browser, ThreadSocket, first_text_ns, text_timeline
from bench.server import Server
from bench.stats import summary

QUESTION = "Solve 2x + 3 = 7"
RUN_TIMEOUT = 15.0  # seconds one run may take before the benchmark gives up on it
MS = 1e6  # ns per ms


@dataclass
class Config:
    samples: int = 200  # runs for the first-text latency (part 1)
    warmup: int = 10  # runs before each part's measurements, discarded
    c1_runs: int = 100  # sequential runs for per-chunk latency at concurrency 1
    concurrency: int = 50
    c50_rounds: int = 4  # rounds of `concurrency` simultaneous runs
    budget: float = 170.0  # seconds for the whole benchmark; past it, it stops with an error


class BenchError(Exception):
    """The app did not behave well enough to be measured; the message says why."""




@dataclass
class Run:
    thread: str
    sent_ns: int
    response_ns: int
    frames: list[tuple[int, str]]
    status: str | None


@dataclass
class Results:
    config: Config
    first_text: dict = field(default_factory=dict)
    push: dict = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def check(self, what: str) -> None:
        if time.monotonic() > self.end:
            raise TimeoutError(f"the benchmark exceeded its {self.seconds:.0f}s budget during {what}")


async def one_run(
    browser: Browser, sock: ThreadSocket, thread: str, assistant: str, timeout: float = RUN_TIMEOUT
) -> Run:
    sent, response, _ = await browser.post_message(thread, assistant, QUESTION)
    got = await sock.until_run_ends(timeout)
    return Run(thread, sent, response, got.frames, got.status)


async def probe(server: Server, browser: Browser, thread: str, assistant: str) -> None:
    """One run must complete promptly before anything is measured."""
    sock = await browser.open_thread_socket(thread)
    try:
        run = await one_run(browser, sock, thread, assistant, timeout=5.0)
    except TimeoutError as exc:
        log = server.log_tail()
        hint = ""
        raise BenchError(f"a probe run did not finish within 5 s ({exc}).{hint}\n--- server log ---\n{log}") from None
    finally:
        await sock.close()
    if run.status != "completed":
        raise BenchError(f"a probe run ended {run.status}, not completed.\n--- server log ---\n{server.log_tail()}")


async def sequential_runs(browser: Browser, threads: list[str], assistant: str, deadline: Deadline, what: str) -> list[Run]:
    runs = []
    for thread in threads:
        deadline.check(what)
        sock = await browser.open_thread_socket(thread)
        try:
            runs.append(await one_run(browser, sock, thread, assistant))
        finally:
            await sock.close()
    return runs


async def concurrent_round(browser: Browser, threads: list[str], assistant: str) -> list[Run]:
    """Open every thread's socket first, then post to all threads at once."""
    socks = await asyncio.gather(*(browser.open_thread_socket(t) for t in threads))
    try:
        return list(await asyncio.gather(*(one_run(browser, s, t, assistant) for s, t in zip(socks, threads, strict=True))))
    finally:
        await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)


def first_text_stats(runs: list[Run]) -> dict:
    after_response, after_send, round_trip = [], [], []
    failed = early = 0
    for run in runs:
        first = first_text_ns(run.frames)
        if run.status != "completed" or first is None:
            failed += 1
            continue
        after_response.append((first - run.response_ns) / MS)
        after_send.append((first - run.sent_ns) / MS)
        round_trip.append((run.response_ns - run.sent_ns) / MS)
        early += first < run.response_ns
    return {
        "after_response": summary(after_response),
        "after_send": summary(after_send),
        "post_round_trip": summary(round_trip),
        "before_response": early,
        "failed": failed,
        "runs": len(runs),
    }


def read_stamps(server: Server) -> dict[str, list[tuple[int, int]]]:
    """message id -> [(end offset, produced ns)] from the hooked server."""
    stamps: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for line in server.stamps.read_text().splitlines():
        message_id, end, produced = line.split("\t")
        stamps[message_id].append((int(end), int(produced)))
    return stamps


def push_stats(runs: list[Run], stamps: dict[str, list[tuple[int, int]]]) -> dict:
    """Per chunk: from the engine publishing it to the first frame that gave the page its text."""
    every, by_delta, spans, chunks = [], [], [], []
    missing = failed = 0
    for run in runs:
        if run.status != "completed":
            failed += 1
            continue
        for message_id, timeline in text_timeline(run.frames).items():
            produced = stamps.get(message_id, [])
            if produced:
                spans.append((produced[-1][1] - produced[0][1]) / MS)
                chunks.append(len(produced))
            for end, produced_ns in produced:
                arrival = next(((t, d) for t, have, d in timeline if have >= end), None)
                if arrival is None:
                    missing += 1
                    continue
                latency = (arrival[0] - produced_ns) / MS
                every.append(latency)
                if arrival[1]:
                    by_delta.append(latency)
    return {
        "all": summary(every),
        "delta_frames": summary(by_delta),
        "production_span": summary(spans),
        "chunks_per_run": summary(chunks),
        "missing": missing,
        "failed": failed,
        "runs": len(runs),
    }


async def part_first_text(config: Config, deadline: Deadline, results: Results) -> None:
    with Server(threads=1 + config.warmup + config.samples) as server:
        results.commands.append(" ".join(server.command[1:]))
        threads, assistant = server.fixtures["threads"], server.fixtures["assistant"]
        async with Browser(server) as browser:
            await browser.login(server.fixtures["username"], server.fixtures["password"])
            await probe(server, browser, threads.pop(), assistant)
            await sequential_runs(browser, threads[: config.warmup], assistant, deadline, "warm-up")
            runs = await sequential_runs(browser, threads[config.warmup :], assistant, deadline, "part 1")
    results.first_text = first_text_stats(runs)


async def part_push(config: Config, deadline: Deadline, results: Results) -> None:
    n = config.concurrency
    total = config.warmup + config.c1_runs + n * (config.c50_rounds + 1)
    with Server(threads=total + 1, hooked=True) as server:
        results.commands.append(" ".join(server.command[1:]))
        threads, assistant = server.fixtures["threads"], server.fixtures["assistant"]
        take = iter(threads)
        async with Browser(server, connections=n + 10) as browser:
            await browser.login(server.fixtures["username"], server.fixtures["password"])
            await probe(server, browser, next(take), assistant)
            await sequential_runs(browser, [next(take) for _ in range(config.warmup)], assistant, deadline, "warm-up")
            deadline.check("warm-up")
            await concurrent_round(browser, [next(take) for _ in range(n)], assistant)  # warm-up round
            single = await sequential_runs(
                browser, [next(take) for _ in range(config.c1_runs)], assistant, deadline, "concurrency 1"
            )
            many: list[Run] = []
            for _ in range(config.c50_rounds):
                deadline.check(f"concurrency {n}")
                many += await concurrent_round(browser, [next(take) for _ in range(n)], assistant)
        stamps = read_stamps(server)
    results.push = {
        "c1": push_stats(single, stamps),
        "cN": push_stats(many, stamps),
        "cN_first_text": first_text_stats(many),
        "concurrency": n,
    }


async def run(config: Config) -> Results:
    results = Results(config)
    started = time.monotonic()
    deadline = Deadline(config.budget)
    await part_first_text(config, deadline, results)
    await part_push(config, deadline, results)
    results.seconds = time.monotonic() - started
    return results


# --- the report -----------------------------------------------------------------------------

AIM_MS = 30.0


def _ms(value: float) -> str:
    if value != value:  # NaN
        return "—"
    return f"{value:.1f} ms" if abs(value) >= 10 else f"{value:.2f} ms"


def _x(a: float, b: float) -> str:
    if a != a or b != b or not b:
        return "—"
    return f"{a / b:.2f}×"


def _no_port(command: str) -> str:
    return re.sub(r"--port \d+", "--port <free port>", command)


def _row(label: str, s: dict, *extra: str) -> str:
    cells = [label, str(s["n"]), _ms(s["p50"]), _ms(s["p99"]), _x(s["p99"], s["p50"]), *extra]
    return "| " + " | ".join(cells) + " |"


def markdown(results: Results, facts: dict) -> str:
    c = results.config
    first, push = results.first_text, results.push
    n = push["concurrency"]
    one, many = push["c1"], push["cN"]
    lines = [
        "## Streaming: first text and per-chunk push latency",
        "",
        f"- **Command:** `{facts['command']}`",
        f"- **Date:** {facts['date']} (took {results.seconds:.0f} s)",
        f"- **Machine:** nproc {facts['nproc']}, CPU `{facts['cpu']}` (from /proc/cpuinfo), "
        f"Python {facts['python']}, Linux {facts['kernel']}; load average {facts['load_before']} before, "
        f"{facts['load_after']} after. Shared and noisy: read medians, p99 and ratios, not single runs.",
        f"- **Versions:** {facts['versions']}",
        "- **Server:** the real `serve` management command (Daphne) in a subprocess on 127.0.0.1, a new one "
        "per part, each with its own temporary DATA_DIR (own SQLite database), `OFFLINE_MODEL_DELAY=0`, "
        "`DEBUG=false`, in-memory channel layer. Part 1: "
        + " · part 2: ".join(f"`python {_no_port(cmd)}`" for cmd in results.commands)
        + " (`bench.hooked_serve` = `manage.py` plus the bench hooks described below).",
        "- **Client:** `httpx2` (HTTP, logged in through /accounts/login/ with CSRF) and `websockets` (one socket "
        "per thread page, session cookie and `Origin: http://127.0.0.1:<port>` as a browser sends them), "
        "in one asyncio process on the same 2 cores.",
        f"- **Workload:** every run posts “{QUESTION}” to a fresh thread of the offline Math Tutor "
        f"(answer: {one['chunks_per_run']['p50']:.0f} chunks, i.e. text deltas).",
    ]
    lines += [
        "",
        "Percentiles are nearest-rank (p99 of 200 samples = 198th smallest). All times are `time.monotonic_ns()` "
        "(CLOCK_MONOTONIC, one clock for every process on the machine). A frame's arrival time is taken when the "
        "client's event loop hands its bytes to the WebSocket parser.",
        "",
        "### 1. POST accepted → first answer text on the socket",
        "",
        "**First text** = arrival of the first WebSocket frame, after the POST, that holds any of the answer's "
        "text: a non-empty `<span id=\"stream-msg_…\">` — inside the `message.created` article or a "
        "`hx-swap-oob=\"beforeend\"` delta — or the assistant's article in its final (completed) form. "
        "The clock starts when the client has the whole HTTP 200 response of `POST /threads/<id>/messages/` "
        "(`HX-Request: true`); a negative value means the text arrived before the response.",
        "",
        f"| measure (1 run at a time, {c.warmup} warm-up runs discarded) | samples | p50 | p99 | p99/p50 |",
        "|---|---|---|---|---|",
        _row("**first text − response received**", first["after_response"]),
        _row("first text − request sent", first["after_send"]),
        _row("POST round trip (sent → response)", first["post_round_trip"]),
        "",
        f"- Aim: p50 under {AIM_MS:.0f} ms → p50 is {_x(first['after_response']['p50'], AIM_MS)} the aim "
        f"({'met' if first['after_response']['p50'] < AIM_MS else 'missed'}).",
        f"- First text arrived before the HTTP response in {first['before_response']} of "
        f"{first['runs'] - first['failed']} runs; runs that failed or showed no text: {first['failed']}.",
        f"- At {n} concurrent runs (part 2's runs): first text − response p50 "
        f"{_ms(push['cN_first_text']['after_response']['p50'])}, p99 {_ms(push['cN_first_text']['after_response']['p99'])}; "
        f"POST round trip p50 {_ms(push['cN_first_text']['post_round_trip']['p50'])}, "
        f"p99 {_ms(push['cN_first_text']['post_round_trip']['p99'])}.",
        "",
        "### 2. Latency the push path adds to each chunk",
        "",
        "**Method.** The server is started through `bench/hooked_serve.py`, which wraps "
        "`Publisher.message_delta` to note `monotonic_ns()` as the engine publishes each delta (the event itself is "
        "unchanged), and a chunk's added latency is the time from that note to the arrival of the first frame that "
        "gives the page its text — its own delta frame, or a message render that already holds it — matched by "
        "message id and character offset. "
        "Both ends read the same kernel clock, so this times exactly what the push path adds per chunk "
        "(channel layer → consumer → render → Daphne → loopback TCP → client) instead of inferring it from run "
        "durations, and it counts a chunk that rides in a bigger render as late as that render.",
        "",
        "| concurrent runs | runs | chunks | p50 | p99 | p99/p50 |",
        "|---|---|---|---|---|---|",
        f"| 1 | {one['runs']} | {one['all']['n']} | {_ms(one['all']['p50'])} | {_ms(one['all']['p99'])} | "
        f"{_x(one['all']['p99'], one['all']['p50'])} |",
        f"| {n} ({c.c50_rounds} rounds, all posting at once, each its own socket) | {many['runs']} | {many['all']['n']} | "
        f"{_ms(many['all']['p50'])} | {_ms(many['all']['p99'])} | {_x(many['all']['p99'], many['all']['p50'])} |",
        f"| **ratio {n}/1** | | | **{_x(many['all']['p50'], one['all']['p50'])}** | "
        f"**{_x(many['all']['p99'], one['all']['p99'])}** | |",
        "",
        "Context for the table:",
        "",
        f"- Chunks that reached the page in their own delta frame: {one['delta_frames']['n']} of {one['all']['n']} at 1 "
        f"(p50 {_ms(one['delta_frames']['p50'])}, p99 {_ms(one['delta_frames']['p99'])}), "
        f"{many['delta_frames']['n']} of {many['all']['n']} at {n}"
        + (f" (p50 {_ms(many['delta_frames']['p50'])}, p99 {_ms(many['delta_frames']['p99'])})" if many['delta_frames']['n'] else "")
        + ". The rest arrived inside a message render: at zero pacing the engine publishes the whole answer "
        "before the consumer has rendered `message.created`, which then already holds the text, and the "
        "consumer drops the deltas it covers.",
        f"- Engine time from first to last delta of a run: p50 {_ms(one['production_span']['p50'])}, "
        f"p99 {_ms(one['production_span']['p99'])} at 1; p50 {_ms(many['production_span']['p50'])}, "
        f"p99 {_ms(many['production_span']['p99'])} at {n}.",
        f"- Chunks never matched to a frame: {one['missing'] + many['missing']}; runs that did not complete: "
        f"{one['failed'] + many['failed']}.",
    ]
    return "\n".join(lines)
