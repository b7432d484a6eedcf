"""One level of concurrent streaming runs: N runs start at once, through the `/v1` API
(SSE, the official ``openai`` SDK) or the browser's WebSocket, and what they got is turned
into the figures every capacity table shows. Shared by bench.capacity (embedded, before
and after) and bench.scale (embedded and cluster, against the floor).

Tokens are the engine's ``Publisher.message_delta`` calls, stamped by bench.hooked_serve
in whichever process executes the run (the server, or a cluster's workers); a delta
event a client gets may carry several of them, and each counts as late as that event.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from openai import AsyncOpenAI

from bench.client import Browser, first_text_ns, text_timeline
from bench.stats import summary
from bench.streaming import QUESTION, RUN_TIMEOUT, Run, one_run

MS = 1e6
warnings.filterwarnings("ignore", category=DeprecationWarning, module="bench.levels")  # the Assistants API is ours
SSE_TIMEOUT = RUN_TIMEOUT * 4  # seconds a run may take at a level unless the caller says otherwise

Stamps = dict[str, list[tuple[int, int]]]  # message id -> [(end offset, produced ns)], by offset


@dataclass
class SseRun:
    sent_ns: int
    first_ns: int | None = None
    deltas: list[tuple[int, int]] = field(default_factory=list)  # (arrival ns, end offset)
    message_id: str | None = None
    text: str = ""
    final_text: str | None = None
    status: str | None = None
    out_of_order: bool = False
    error: str | None = None


# The order the hosted API sends a simple run's events in (each at most once, deltas aside).
EXPECTED_ORDER = [
    "thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
    "thread.run.step.in_progress", "thread.message.created", "thread.message.in_progress",
    "thread.message.delta", "thread.message.completed", "thread.run.step.completed", "thread.run.completed",
]


async def one_sse_run(client: AsyncOpenAI, thread: str, assistant: str, timeout: float = SSE_TIMEOUT) -> SseRun:
    run = SseRun(sent_ns=time.monotonic_ns())
    seen: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            await client.beta.threads.messages.create(thread_id=thread, role="user", content=QUESTION)
            run.sent_ns = time.monotonic_ns()
            stream = await client.beta.threads.runs.create(thread_id=thread, assistant_id=assistant, stream=True)
            async for event in stream:
                now = time.monotonic_ns()
                if not seen or seen[-1] != event.event:
                    seen.append(event.event)
                if event.event == "thread.message.delta":
                    piece = event.data.delta.content[0].text.value
                    run.message_id = event.data.id
                    run.text += piece
                    run.deltas.append((now, len(run.text)))
                    run.first_ns = run.first_ns or now
                elif event.event == "thread.message.completed":
                    run.final_text = event.data.content[0].text.value if event.data.content else ""
                elif event.event.startswith("thread.run.") and not event.event.startswith("thread.run.step"):
                    run.status = event.data.status
    except Exception as exc:  # counted, not raised: errors are a result
        run.error = f"{type(exc).__name__}: {exc}"[:200]
    order = [e for e in seen if e in EXPECTED_ORDER]
    run.out_of_order = order != [e for e in EXPECTED_ORDER if e in order] or len(order) != len(set(order))
    return run


def sse_results(runs: list[SseRun], stamps: Stamps, wall_s: float) -> dict:
    first, chunks, tokens = [], [], 0
    errors = lost = disorder = 0
    for run in runs:
        if run.error or run.status != "completed":
            errors += 1
            continue
        if run.final_text is None or run.text != run.final_text:
            lost += 1
        disorder += run.out_of_order
        if run.first_ns:
            first.append((run.first_ns - run.sent_ns) / MS)
        produced = dict((end, ns) for end, ns in stamps.get(run.message_id, []))
        for arrival, end in run.deltas:
            # A delta may carry several published chunks (a stream catching up): each is as late as it.
            for stamp_end, ns in list(produced.items()):
                if stamp_end <= end:
                    chunks.append((arrival - ns) / MS)
                    tokens += 1
                    del produced[stamp_end]
    return level_result(len(runs), wall_s, tokens, first, chunks, errors, lost, disorder,
                        [r.error for r in runs if r.error][:3])


def level_result(runs, wall_s, tokens, first, chunks, errors, lost, disorder, samples) -> dict:
    return {
        "runs": runs, "seconds": wall_s, "tokens": tokens, "tokens_per_s": tokens / wall_s if wall_s else 0.0,
        "first": summary(first), "chunk": summary(chunks), "errors": errors, "lost": lost,
        "out_of_order": disorder, "error_samples": samples,
    }


async def sse_level(clients: list[AsyncOpenAI], assistant: str, threads: list[str], n: int,
                    stamps: Callable[[], Stamps], timeout: float = SSE_TIMEOUT) -> dict:
    """The first n of ``threads`` (taken off the list) at once, run i through clients[i % len]."""
    started = time.monotonic()
    runs = await asyncio.gather(*(
        one_sse_run(clients[i % len(clients)], t, assistant, timeout) for i, t in enumerate(threads[:n])
    ))
    wall = time.monotonic() - started
    del threads[:n]
    return sse_results(list(runs), stamps(), wall)


async def ws_round(browsers: list[Browser], threads: list[str], assistant: str, timeout: float) -> list[Run | str]:
    """Open every thread's socket (thread i on browsers[i % len]), then post to every
    thread at once. Each entry is the run, or why it failed (socket refused, POST failed,
    not ended in time)."""
    async def open_one(i: int, thread: str):
        return await browsers[i % len(browsers)].open_thread_socket(thread, timeout=timeout)

    socks = await asyncio.gather(*(open_one(i, t) for i, t in enumerate(threads)), return_exceptions=True)

    async def one(i: int, sock, thread: str) -> Run | str:
        if isinstance(sock, BaseException):
            return f"socket: {type(sock).__name__}: {sock}"[:200]
        try:
            return await one_run(browsers[i % len(browsers)], sock, thread, assistant, timeout=timeout)
        except Exception as exc:  # counted, not raised
            return f"{type(exc).__name__}: {exc}"[:200]

    try:
        return list(await asyncio.gather(*(one(i, s, t) for i, (s, t) in enumerate(zip(socks, threads, strict=True)))))
    finally:
        await asyncio.gather(*(s.close() for s in socks if not isinstance(s, BaseException)), return_exceptions=True)


def ws_results(runs: list[Run | str], stamps: Stamps, wall_s: float) -> dict:
    first, chunks, tokens, errors, lost = [], [], 0, 0, 0
    for run in runs:
        if isinstance(run, str) or run.status != "completed":
            errors += 1
            continue
        stamp = first_text_ns(run.frames)
        if stamp:
            first.append((stamp - run.sent_ns) / MS)
        for message_id, timeline in text_timeline(run.frames).items():
            for end, produced_ns in stamps.get(message_id, []):
                arrival = next((t for t, have, _ in timeline if have >= end), None)
                if arrival is None:
                    lost += 1
                    continue
                tokens += 1
                chunks.append((arrival - produced_ns) / MS)
    samples = [r for r in runs if isinstance(r, str)][:3]
    return level_result(len(runs), wall_s, tokens, first, chunks, errors, lost, 0, samples)


async def ws_level(browsers: list[Browser], assistant: str, threads: list[str], n: int,
                   stamps: Callable[[], Stamps], timeout: float = SSE_TIMEOUT) -> dict:
    started = time.monotonic()
    runs = await ws_round(browsers, threads[:n], assistant, timeout)
    wall = time.monotonic() - started
    del threads[:n]
    return ws_results(runs, stamps(), wall)


def parse_stamps(lines: Iterable[str], into: Stamps | None = None) -> Stamps:
    """Lines ``message_id<TAB>end offset<TAB>ns`` (bench.hooked_serve), from one process or
    several (a cluster's workers): per message, by end offset; an offset stamped twice
    (a run retried elsewhere) keeps its first publish."""
    found: dict[str, dict[int, int]] = defaultdict(dict)
    for message_id, pairs in (into or {}).items():
        found[message_id].update(pairs)
    for line in lines:
        if not line.strip():
            continue
        message_id, end, produced = line.rstrip("\n").split("\t")
        end_i, ns = int(end), int(produced)
        have = found[message_id].get(end_i)
        if have is None or ns < have:
            found[message_id][end_i] = ns
    return {m: sorted(pairs.items()) for m, pairs in found.items()}


def read_stamp_files(paths: Iterable[Path]) -> Stamps:
    stamps: Stamps = {}
    for path in paths:
        try:
            text = path.read_text()
        except FileNotFoundError:  # a process that has not finished a message yet
            continue
        stamps = parse_stamps(text.splitlines(), stamps)
    return stamps


def pieces_from(stamps: list[tuple[int, int]], text: str) -> list[str]:
    """The chunks one message was published in, from its stamps' end offsets and its text."""
    pieces, start = [], 0
    for end, _ in stamps:
        if end > start:
            pieces.append(text[start:end])
            start = end
    return pieces


def merge(rounds: list[dict]) -> dict:
    """Rounds of one level: the round with the (lower) median throughput gives the
    percentiles, the counters are summed over all rounds."""
    ordered = sorted(rounds, key=lambda r: r["tokens_per_s"])
    mid = dict(ordered[(len(ordered) - 1) // 2])  # the lower median: an even count never flatters
    mid["each_round"] = [r["tokens_per_s"] for r in rounds]
    for name in ("errors", "lost", "out_of_order", "runs"):
        mid[name] = sum(r[name] for r in rounds)
    mid["error_samples"] = [s for r in rounds for s in r["error_samples"]][:3]
    return mid


def fmt_ms(v: float) -> str:
    return "—" if v != v else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")


class PeakSampler:
    """The highest value ``count()`` returned while the block ran, sampled every ``every``
    seconds on a thread of its own (so a busy event loop does not skip samples)."""

    def __init__(self, count: Callable[[], int | None], every: float = 0.25) -> None:
        self.count, self.every = count, every
        self.peak: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                got = self.count()
            except Exception:  # a sample that fails (a process gone) is not a count
                got = None
            if got is not None:
                self.peak = got if self.peak is None else max(self.peak, got)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
