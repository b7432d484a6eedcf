"""Capacity against the floor: many streaming runs at once on a layout — the embedded
default, or the `make cluster` layout — and, in the same invocation, level by level, the
same number of text events pushed to the same number of clients through a minimal
Channels app on the same Daphne and the same kind of channel layer (bench/floor.py).

    .venv/bin/python -m bench.scale --layout embedded [--levels 1,50,200,500] [--write]
    .venv/bin/python -m bench.scale --layout cluster  [--levels 1,50,200,500] [--write]

Per level N (each level's runs start at once): the engine through the `/v1` API (SSE,
official SDK) and through the browser's WebSocket (bench.client), then the floor's SSE and
WebSocket with N streams each. Reported: tokens/s delivered in total, first token p50/p99,
per-chunk p50/p99, errors, lost / out-of-order events, database connections at peak, and
the engine's figures as a ratio to the floor's.

* **embedded:** ``bench.hooked_serve serve`` (SQLite, in-memory layer, one process); the
  floor: one ``bench.floor serve`` process with the in-memory layer, producing in-process.
* **cluster:** 2 web (``serve``) and 2 worker processes under ``bench.hooked_serve`` on a
  PostgreSQL database of its own and Redis (bench.cluster.Cluster), clients spread over
  both web processes, per-chunk stamps from the workers' files; the floor: 2 ``bench.floor
  serve`` processes and 2 ``bench.floor produce`` processes on the same Redis. Skipped,
  saying so, when PostgreSQL or Redis cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

import httpx2
from openai import AsyncOpenAI

from bench import floor, levels, report
from bench.capacity import SERVER_ENV
from bench.client import Browser
from bench.levels import PeakSampler, fmt_ms, one_sse_run, pieces_from
from bench.server import HOST, ROOT, Server, free_port, listens, stop_processes
from bench.streaming import read_stamps

warnings.filterwarnings("ignore", category=DeprecationWarning)  # the Assistants API is ours
LEVELS = "1,50,200,500"
WARMUP = 10
TRANSPORTS = ("sse", "ws")
DATABASE_PREFIX = "assistants_bench_scale"


def run_timeout(n: int, base: float) -> float:
    """Seconds one run may take at level n: ``base`` up to 250 runs at once, more above."""
    return max(base, base * n / 250)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used (/proc/<pid>/stat); less sensitive
    to a shared machine's load than wall time."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


async def with_cpu(pids: list[int], coro) -> dict:
    """A level's result plus the servers' CPU per run (``server_cpu_ms_per_run``)."""
    before = cpu_seconds(pids)
    got = await coro
    got["server_cpu_ms_per_run"] = (cpu_seconds(pids) - before) * 1000 / got["runs"] if pids and got["runs"] else None
    return got


def sqlite_connections(pid: int, database: Path) -> int:
    """Open SQLite connections of a process: its file descriptors on the database file
    (each connection holds one; the -wal and -shm files are not counted)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd) == str(database)
        except OSError:  # closed meanwhile
            pass
    return count


# The Django floors (embedded only): bench/djfloor without and with its one INSERT per view.
DJANGO_FLOORS = {"django": {}, "django_db": {"BENCH_FLOOR_DB": "1"}}
SIDES = ("engine", "django", "django_db", "floor")
SIDE_NAMES = {"engine": "engine", "django": "Django floor", "django_db": "Django floor + SQLite", "floor": "floor"}


class Floor:
    """``webs`` floor servers (and ``producers`` producer processes) in subprocesses;
    ``django``: the Django floor's servers (``serve-django``, bench/djfloor) instead."""

    def __init__(self, env: dict[str, str], pieces: list[str], webs: int, producers: int, ports: list[int],
                 django: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="chat-bench-floor-"))
        (self.dir / "pieces.json").write_text(json.dumps(pieces))
        self.env = {**env, "DATA_DIR": str(self.dir), "BENCH_FLOOR_PIECES": str(self.dir / "pieces.json")}
        self.env.pop("BENCH_DELTA_STAMPS", None)
        self.serve = "serve"
        if django is not None:
            self.serve = "serve-django"
            self.env.update(django, DJANGO_SETTINGS_MODULE="bench.djfloor.settings")
        if producers:
            self.env["BENCH_FLOOR_QUEUE"] = f"bench:floor:{os.getpid()}:{self.dir.name}"
        self.ports, self.n_producers = ports[:webs], producers
        self.bases = [f"http://{HOST}:{p}" for p in self.ports]
        self.procs: list[subprocess.Popen] = []
        self.log = self.dir / "floor.log"

    def __enter__(self) -> Floor:
        try:
            with open(self.log, "ab") as log:
                for _ in range(self.n_producers):
                    self._spawn(["produce"], log)
                for port in self.ports:
                    self._spawn([self.serve, "--host", HOST, "--port", str(port)], log)
            deadline = time.monotonic() + 60
            while self.log.read_text().count("producer ready") < self.n_producers or not all(
                listens(p) for p in self.ports
            ):
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                    raise RuntimeError("the floor did not start:\n" + self.log.read_text()[-3000:])
                time.sleep(0.1)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _spawn(self, args: list[str], log) -> None:
        self.procs.append(subprocess.Popen([sys.executable, "-m", "bench.floor", *args], cwd=ROOT, env=self.env,
                                           stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True))

    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def connections(self) -> int:
        """The Django floor + SQLite's open connections on its database (0 for the others)."""
        return sqlite_connections(self.procs[-1].pid, self.dir / "djfloor.sqlite3")

    def __exit__(self, *exc) -> None:
        stop_processes(self.procs, timeout=15)
        shutil.rmtree(self.dir, ignore_errors=True)


def ports_from(base: int | None, count: int) -> list[int]:
    return [base + i for i in range(count)] if base else [free_port() for _ in range(count)]


class Embedded:
    name = "embedded"

    def __init__(self, threads: int, ports: list[int], fixed_ports: bool, database_prefix: str) -> None:
        self.server = Server(threads=threads, hooked=True, env=SERVER_ENV, api_key=True, port=ports[0])
        self.floor_ports = ports[1:2]
        self.django_ports = dict(zip(DJANGO_FLOORS, ports[2:4], strict=True))

    def __enter__(self) -> Embedded:
        self.server.__enter__()
        self.fixtures, self.bases = self.server.fixtures, [self.server.base]
        self.database = self.server.data_dir / "db.sqlite3"
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    def stamps(self):
        return read_stamps(self.server)

    def connections(self) -> int:
        return sqlite_connections(self.server.proc.pid, self.database)

    def pids(self) -> list[int]:
        return [self.server.proc.pid]

    def floor(self, pieces: list[str]) -> Floor:
        return Floor(self.server.env(), pieces, webs=1, producers=0, ports=self.floor_ports)

    def django_floors(self, pieces: list[str]) -> dict[str, Floor]:
        return {name: Floor(self.server.env(), pieces, webs=1, producers=0, ports=[self.django_ports[name]],
                            django=extra) for name, extra in DJANGO_FLOORS.items()}


class ClusterLayout:
    name = "cluster"

    def __init__(self, threads: int, ports: list[int], fixed_ports: bool, database_prefix: str) -> None:
        from bench.cluster import Cluster

        self.cluster = Cluster(threads=threads, port=ports[0] if fixed_ports else None, hooked=True,
                               database_prefix=database_prefix)
        self.floor_ports = ports[2:4]

    def __enter__(self) -> ClusterLayout:
        self.cluster.__enter__()
        self.fixtures = self.cluster.fixtures
        self.bases = [f"http://{HOST}:{p}" for p in self.cluster.ports]
        return self

    def __exit__(self, *exc) -> None:
        self.cluster.__exit__(*exc)

    def stamps(self):
        return self.cluster.stamps()

    def connections(self) -> int:
        return self.cluster.connections()

    def pids(self) -> list[int]:
        return []  # several processes on two queues: CPU per run is not the embedded question

    def floor(self, pieces: list[str]) -> Floor:
        return Floor(self.cluster.env(), pieces, webs=2, producers=2, ports=self.floor_ports)

    def django_floors(self, pieces: list[str]) -> dict[str, Floor]:
        return {}  # the Django floor answers issue 11's embedded aims only


def services_missing() -> str | None:
    """Why the cluster cannot run here, or None (scripts/start-services starts what it can)."""
    done = subprocess.run([str(ROOT / "scripts" / "start-services")], capture_output=True, text=True)
    if done.returncode:
        return (done.stderr or done.stdout).strip() or "PostgreSQL or Redis not reachable"
    return None


async def measure(layout, level_list: list[int], base_timeout: float, budget: float, rounds: int = 1,
                  with_engine: bool = True) -> dict:
    """Warm-up, the floor's text from it, then per level: engine SSE, engine WS, floor SSE,
    floor WS. Levels left when the budget is spent are listed as skipped. ``rounds`` > 1:
    each level that many times, the sides interleaved, merged as bench.levels.merge does
    (the lower-median round's figures); ``with_engine=False``: the floors only."""
    started = time.monotonic()
    out: dict = {"engine": {"sse": {}, "ws": {}}, "floor": {"sse": {}, "ws": {}}, "skipped": [], "peak_db": {},
                 "interrupted": False}
    # Ctrl+C: finish the level under way (each run has its time limit), then stop and clean
    # up (servers, database) without writing the section.
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, lambda: (out.update(interrupted=True),
                                                    print("bench.scale: stopping after this level", file=sys.stderr)))
    threads = list(layout.fixtures["threads"])
    assistant = layout.fixtures["assistant"]
    biggest = max(level_list + [WARMUP])
    http = httpx2.AsyncClient(trust_env=False, timeout=httpx2.Timeout(run_timeout(biggest, base_timeout) + 30),
                              limits=httpx2.Limits(max_connections=biggest + 20, max_keepalive_connections=biggest + 20))
    clients = [AsyncOpenAI(api_key=layout.fixtures["api_key"], base_url=f"{b}/v1", http_client=http, max_retries=0)
               for b in layout.bases]
    browsers = [Browser(SimpleNamespace(base=b), connections=biggest + 20, timeout=run_timeout(biggest, base_timeout))
                for b in layout.bases]
    try:
        for browser in browsers:
            await browser.login(layout.fixtures["username"], layout.fixtures["password"])
        # One run alone gives the answer's chunks as the engine published them: the floor's text.
        probe = await one_sse_run(clients[0], threads.pop(0), assistant, base_timeout)
        stamps = layout.stamps().get(probe.message_id or "", [])
        if probe.status != "completed" or not stamps or probe.final_text is None:
            raise RuntimeError(f"the probe run did not complete with stamps: {probe.status} {probe.error}")
        pieces = pieces_from(stamps, probe.final_text)
        expected = "".join(pieces)
        out["pieces"] = {"count": len(pieces), "chars": len(expected)}
        await levels.sse_level(clients, assistant, threads, WARMUP, layout.stamps, base_timeout)
        await levels.ws_level(browsers, assistant, threads, WARMUP, layout.stamps, base_timeout)
        floor_http = httpx2.AsyncClient(trust_env=False, timeout=httpx2.Timeout(run_timeout(biggest, base_timeout) + 30),
                                        limits=httpx2.Limits(max_connections=biggest + 20,
                                                             max_keepalive_connections=biggest + 20))
        with layout.floor(pieces) as fl, ExitStack() as django_stack:
            djs = {name: django_stack.enter_context(d) for name, d in layout.django_floors(pieces).items()}
            for name in djs:
                out[name] = {"sse": {}, "ws": {}}
            try:
                await floor.sse_level(floor_http, fl.bases, WARMUP, expected, base_timeout, "warm-sse")
                await floor.ws_level(fl.bases, WARMUP, expected, base_timeout, "warm-ws")
                for name, d in djs.items():
                    await floor.sse_level(floor_http, d.bases, WARMUP, expected, base_timeout, f"warm-{name}-sse", True)
                    await floor.ws_level(d.bases, WARMUP, expected, base_timeout, f"warm-{name}-ws", floor_http)
                for n in level_list:
                    if out["interrupted"] or time.monotonic() - started > budget:
                        out["skipped"].append(n)
                        continue
                    timeout = run_timeout(n, base_timeout)
                    got_rounds: dict[tuple[str, str], list[dict]] = defaultdict(list)
                    for rnd in range(rounds):  # interleaved: engine, Django floors, floor, again
                        tag = f"{n}-{rnd}"
                        for transport in TRANSPORTS if with_engine else ():
                            with PeakSampler(layout.connections) as peak:
                                if transport == "sse":
                                    got = await with_cpu(layout.pids(), levels.sse_level(
                                        clients, assistant, threads, n, layout.stamps, timeout))
                                else:
                                    got = await with_cpu(layout.pids(), levels.ws_level(
                                        browsers, assistant, threads, n, layout.stamps, timeout))
                            got_rounds["engine", transport].append({**got, "peak_db": peak.peak})
                            _progress(layout.name, "engine", transport, n, got)
                        for name, d in djs.items():
                            with PeakSampler(d.connections) as peak:
                                got = await with_cpu(d.pids(), floor.sse_level(
                                    floor_http, d.bases, n, expected, timeout, f"{name}-sse-{tag}", django=True))
                            got_rounds[name, "sse"].append({**got, "peak_db": peak.peak})
                            _progress(layout.name, name, "sse", n, got)
                            with PeakSampler(d.connections) as peak:
                                got = await with_cpu(d.pids(), floor.ws_level(
                                    d.bases, n, expected, timeout, f"{name}-ws-{tag}", floor_http))
                            got_rounds[name, "ws"].append({**got, "peak_db": peak.peak})
                            _progress(layout.name, name, "ws", n, got)
                        got = await with_cpu(fl.pids(), floor.sse_level(
                            floor_http, fl.bases, n, expected, timeout, f"sse-{tag}"))
                        got_rounds["floor", "sse"].append(got)
                        _progress(layout.name, "floor", "sse", n, got)
                        got = await with_cpu(fl.pids(), floor.ws_level(fl.bases, n, expected, timeout, f"ws-{tag}"))
                        got_rounds["floor", "ws"].append(got)
                        _progress(layout.name, "floor", "ws", n, got)
                    for (side, transport), got in got_rounds.items():
                        out[side][transport][n] = got[0] if len(got) == 1 else levels.merge(got)
            finally:
                await floor_http.aclose()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await http.aclose()
        for browser in browsers:
            await browser.__aexit__()
    out["seconds"] = time.monotonic() - started
    return out


def _progress(layout: str, side: str, transport: str, n: int, r: dict) -> None:
    print(f"bench.scale: {layout} {side} {transport} {n}: {r['tokens_per_s']:.0f} tokens/s, first "
          f"{fmt_ms(r['first']['p50'])}/{fmt_ms(r['first']['p99'])} ms, chunk {fmt_ms(r['chunk']['p50'])}/"
          f"{fmt_ms(r['chunk']['p99'])} ms, errors {r['errors']}/{r['runs']}, lost {r['lost']}"
          + (f", server CPU {r['server_cpu_ms_per_run']:.2f} ms/run" if r.get("server_cpu_ms_per_run") else "")
          + (f" {r['error_samples'][:1]}" if r["error_samples"] else ""), file=sys.stderr, flush=True)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b and a == a and b == b else "—"


def table(results: dict, level_list: list[int], db_label: str) -> list[str]:
    lines = [
        f"| transport | runs at once | pushed by | tokens/s | first token p50 / p99 (ms) | per-chunk p50 / p99 (ms) "
        f"| errors | lost / out of order | {db_label} |",
        "|---|---:|---|---:|---|---|---:|---|---:|",
    ]
    names = {"sse": "SSE", "ws": "WebSocket"}
    for transport in TRANSPORTS:
        for n in level_list:
            fl = results["floor"][transport].get(n)
            if fl is None:
                lines.append(f"| {names[transport]} | {n} | skipped (budget spent) | | | | | | |")
                continue
            rows = [(side, results[side][transport][n]) for side in SIDES
                    if results.get(side, {}).get(transport, {}).get(n) is not None]
            for side, r in rows:
                peak = r.get("peak_db")
                lines.append(
                    f"| {names[transport]} | {n} | {SIDE_NAMES[side]} | {r['tokens_per_s']:,.0f} | "
                    f"{fmt_ms(r['first']['p50'])} / "
                    f"{fmt_ms(r['first']['p99'])} | {fmt_ms(r['chunk']['p50'])} / {fmt_ms(r['chunk']['p99'])} | "
                    f"{r['errors']} of {r['runs']} | {r['lost']} / {r['out_of_order']} | "
                    f"{'0 (none)' if side in ('floor', 'django') else ('—' if peak is None else peak)} |"
                )
            for side, r in rows:
                if side == "floor":
                    continue
                lines.append(
                    f"| | {n} | **{SIDE_NAMES[side]} ÷ floor** | **{_ratio(r['tokens_per_s'], fl['tokens_per_s'])}** | "
                    f"{_ratio(r['first']['p50'], fl['first']['p50'])} / {_ratio(r['first']['p99'], fl['first']['p99'])} | "
                    f"{_ratio(r['chunk']['p50'], fl['chunk']['p50'])} / {_ratio(r['chunk']['p99'], fl['chunk']['p99'])} "
                    "| | | |"
                )
    return lines


LAYOUT_TEXT = {
    "embedded": (
        "## Capacity against the floor: embedded default",
        "- **Engine:** `python -m bench.hooked_serve serve` — the real `serve` command (Daphne) plus the delta "
        "time stamps of the streaming section — with SQLite, the in-memory channel layer, one process, offline "
        "model at `OFFLINE_MODEL_DELAY=0`, `API_RATE_LIMIT=0`.",
        "- **Floor:** `python -m bench.floor serve` — the same Daphne (same version, same listen backlog) and the "
        "same in-memory channel layer class, serving only a Channels `AsyncWebsocketConsumer` and an SSE ASGI "
        "handler (bench/floor.py); a task in the same process pushes the events.",
        "SQLite connections open at peak",
        "- **SQLite connections at peak:** the server process's file descriptors on the database file "
        "(`/proc/<pid>/fd`; one per open connection, the -wal/-shm files not counted), sampled every 0.25 s.",
    ),
    "cluster": (
        "## Capacity against the floor: the `make cluster` layout",
        "- **Engine:** the `make cluster` layout started by the bench (bench/cluster.py): 2 web processes "
        "(`serve`) and 2 workers (`worker`, `RUN_BACKEND=workers`), every process under "
        "`python -m bench.hooked_serve` so the workers stamp each delta they publish (one file per process, "
        "merged; CLOCK_MONOTONIC is one clock for every process), on a PostgreSQL database of its own and "
        "Redis (channel layer and task queue), offline model at `OFFLINE_MODEL_DELAY=0`, `API_RATE_LIMIT=0`. "
        "Run i of a level goes to web process i mod 2, for SSE and WebSocket alike.",
        "- **Floor:** 2 `python -m bench.floor serve` processes (the same Daphne, the Redis channel layer "
        "with the project's settings) and 2 `python -m bench.floor produce` processes that take a start "
        "message from a Redis channel and push the events (web → Redis → producer → Redis → web → client, "
        "as a run's events go); the clients spread over both floor web processes the same way. Floor and "
        "engine use the project's layer as configured (Redis pub/sub, 500 messages waiting per socket or "
        "stream).",
        "PostgreSQL connections at peak",
        "- **PostgreSQL connections at peak:** `pg_stat_activity` rows for the bench's database (all 4 "
        "processes' pools), sampled every 0.25 s during each engine level.",
    ),
}


DJANGO_FLOOR_TEXT = (
    "- **Django floor:** `python -m bench.floor serve-django` — the floor's Daphne, in-memory layer class, "
    "chunks, frames and in-process producer task, but HTTP through Django's own ASGI handler (Django "
    "`get_asgi_application`, settings of its own: `MIDDLEWARE = []`, no apps, no database; uvloop, as "
    "`manage.py` installs it) and two async views shaped like the API a run needs (bench/djfloor): per run "
    "a JSON `POST /v1/threads/<id>/messages`, then `POST /v1/threads/<id>/runs` answered by a "
    "`StreamingHttpResponse` of the run's events from the channel layer, read with `httpx2` as the floor's "
    "SSE (first token from the second POST, as for the engine). WebSocket: the floor's bare consumer, each "
    "stream started by a form POST through a Django view (as the composer's htmx POST starts a run). "
    "**Django floor + SQLite:** the same with one small ORM INSERT per view (`sync_to_async`, Django's "
    "thread-sensitive executor) into a SQLite file of its own (WAL): the least database work a run could do."
)


def markdown(name: str, results: dict, level_list: list[int], facts: dict) -> str:
    title, engine, floor_text, db_label, db_text = LAYOUT_TEXT[name]
    pieces = results["pieces"]
    lines = [
        title,
        "",
        f"- **Command:** `{facts['command']}`",
        f"- **Date:** {facts['date']} (this part took {results['seconds']:.0f} s)",
        f"- **Machine:** nproc {facts['nproc']}, CPU `{facts['cpu']}`, Python {facts['python']}; load average "
        f"{facts['load_before']} before, {facts['load_after']} after. **The machine is shared** with other jobs "
        "(the client runs on the same 2 cores too): read the engine ÷ floor ratios, measured level by level in "
        "the same invocation, rather than absolute numbers.",
        engine,
        floor_text,
        *([DJANGO_FLOOR_TEXT] if "django" in results else []),
        "- **Clients:** SSE: the official `openai` SDK (`AsyncOpenAI`, no retries) — `messages.create`, then "
        "`runs.create(stream=True)` read to the end; the floor's SSE is read with `httpx2` (`aiter_lines`). "
        "WebSocket: the browser client (bench/client.py: log in, open the thread's socket, htmx POST); the floor's "
        "WebSocket sends `start` on an open socket. All runs of a level start at once, each on its own thread or "
        f"stream; {WARMUP} warm-up runs per transport first.",
        f"- **Workload:** “Solve 2x + 3 = 7” to the offline Math Tutor: {pieces['count']} chunks, "
        f"{pieces['chars']} characters per answer. The floor pushes exactly those chunks (taken from a probe run "
        "of the engine in this invocation), one channel-layer event and one client frame per chunk.",
        "- **tokens/s** = chunks delivered to their clients over the level's wall time; a token is one engine "
        "`Publisher.message_delta` call (bench/hooked_serve.py stamps it) — a delta event may carry several, each "
        "counted — and one floor event. **First token** = from sending the request that starts the run to the "
        "first text. **Per-chunk** = from the publish stamp to the client's arrival stamp. **Errors** = runs that "
        "did not end completed in time (per-run limit "
        f"{facts['timeouts']}). **Lost / out of order:** engine SSE: runs whose joined deltas differ from the "
        "completed message / events not in the API's order; engine WebSocket: stamped chunks that never reached "
        "the page; floor: runs whose text differs / offsets not rising.",
        db_text,
        "- **engine ÷ floor** (and **Django floor ÷ floor**): tokens/s as a share of the floor's (1.00× = at the "
        "limit), latencies as a multiple of the floor's (1.00× = at the limit).",
        "",
        *table(results, level_list, db_label),
    ]
    if results.get("rounds", 1) > 1:
        lines += ["", f"Each level ran {results['rounds']} times, the sides interleaved; each row is the round with "
                  "the lower-median tokens/s (its latencies with it); errors, lost and runs are summed over rounds."]
    if results["skipped"]:
        lines += ["", f"Skipped (the part's {facts['budget']:.0f} s budget was spent): "
                  f"{', '.join(map(str, results['skipped']))} runs at once."]
    return "\n".join(lines)


def run_layout(name: str, level_list: list[int], base_timeout: float, budget: float, port_base: int | None,
               command: str, database_prefix: str = DATABASE_PREFIX, rounds: int = 1,
               with_engine: bool = True) -> tuple[dict, str] | None:
    """Measure one layout; None (and why, on stderr) when it cannot run here."""
    if name == "cluster":
        missing = services_missing()
        if missing:
            print(f"bench.scale: cluster part skipped: {missing}", file=sys.stderr)
            return None
    facts = {**report.machine(), "command": command, "date": report.now_utc(), "budget": budget,
             "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
             "timeouts": ", ".join(f"{run_timeout(n, base_timeout):.0f} s at {n}" for n in level_list)}
    need = 1 + 2 * WARMUP + 2 * sum(level_list) * rounds
    ports = ports_from(port_base, 4)  # embedded: engine, floor, 2 Django floors; cluster: 2 web, 2 floor
    with ExitStack() as stack:
        layout = stack.enter_context((Embedded if name == "embedded" else ClusterLayout)(
            need, ports, port_base is not None, database_prefix))
        results = asyncio.run(measure(layout, level_list, base_timeout, budget, rounds, with_engine))
    results["rounds"] = rounds
    facts["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return results, markdown(name, results, level_list, facts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=("embedded", "cluster"), required=True)
    parser.add_argument("--levels", default=LEVELS, help="concurrent runs per level (default %(default)s)")
    parser.add_argument("--run-timeout", type=float, default=60.0,
                        help="seconds one run may take, up to 250 at once; scaled up above (default %(default)s)")
    parser.add_argument("--budget", type=float, default=900.0,
                        help="seconds after which the remaining levels are skipped (default %(default)s)")
    parser.add_argument("--port-base", type=int, help="listen on PORT_BASE.. (default: free ports)")
    parser.add_argument("--database-prefix", default=DATABASE_PREFIX,
                        help="the cluster's PostgreSQL database is PREFIX_<pid>, dropped at the end (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="each level this many times, sides interleaved; the lower-median round reported "
                        "(default %(default)s)")
    parser.add_argument("--floors-only", action="store_true",
                        help="measure the floors (and Django floors) only, not the engine; not with --write")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--write", action="store_true", help="write this layout's section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.floors_only and args.write:
        parser.error("--floors-only leaves the engine's rows out: print it, do not --write it")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    level_list = [int(x) for x in args.levels.split(",")]
    command = shlex.join([".venv/bin/python", "-m", "bench.scale", *(argv if argv is not None else sys.argv[1:])])
    return write(args.layout, level_list, args.run_timeout, args.budget, args.port_base, command, args.write,
                 args.json, args.database_prefix, args.rounds, not args.floors_only)


def write(name: str, level_list: list[int], base_timeout: float, budget: float, port_base: int | None,
          command: str, to_doc: bool, json_path: Path | None = None, database_prefix: str = "", rounds: int = 1,
          with_engine: bool = True) -> int:
    got = run_layout(name, level_list, base_timeout, budget, port_base, command, database_prefix or DATABASE_PREFIX,
                     rounds, with_engine)
    if got is None:
        return 0
    results, section = got
    if results["interrupted"]:
        print(f"bench.scale: interrupted; the {name} section was not written", file=sys.stderr)
        return 1
    if json_path:
        json_path.write_text(json.dumps(results, default=str, indent=1))
    print(section)
    if to_doc:
        report.write_section(f"scale-{name}", section)
        print(f"bench: wrote the scale-{name} section of {report.DOC.relative_to(report.ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
