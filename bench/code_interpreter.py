"""Code Interpreter benchmark: what the sandbox costs.

Three figures, each p50/p99, for the bubblewrap-sandboxed kernel and, in the same run on
the same machine, for a bare unsandboxed Jupyter kernel (ipykernel started directly):

1. kernel cold start: spawn until the kernel answers kernel_info;
2. first call in a new thread with the warm pool: ``1+1`` in a thread with no session,
   a pre-started kernel waiting (time to take it, and run the code);
3. ``1+1`` in a warm session.

Samples are interleaved (sandboxed, bare, sandboxed, …) so drifting machine load hits both.
It runs in-process against the real session service, with a temporary DATA_DIR.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

from bench import stats


@dataclass
class Config:
    cold: int = 15
    first: int = 15
    trivial: int = 200
    warmup: int = 3


@dataclass
class Results:
    config: Config
    figures: dict = field(default_factory=dict)  # (figure, mode) -> samples in ms
    seconds: float = 0.0
    limits: str = ""


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bench-ci-"))
    import django

    django.setup()


async def _run(config: Config) -> Results:
    from django.conf import settings

    from chat.code_interpreter import sandbox
    from chat.code_interpreter.kernel import Kernel
    from chat.code_interpreter.sessions import service
    from chat.code_interpreter.tool import _execute

    problem = sandbox.probe()
    if problem:
        raise RuntimeError(problem)
    results = Results(config)
    limits = sandbox.Limits.from_settings()
    results.limits = (f"memory {limits.memory >> 20} MiB (RLIMIT_AS), {limits.processes} processes, "
                      f"{limits.file_size >> 20} MiB per file, /mnt/data {limits.disk >> 20} MiB")
    svc = service()
    settings.CODE_INTERPRETER_POOL_SIZE = 1  # one warm kernel is all a first call needs
    import logging

    logging.getLogger("chat.code_interpreter").setLevel(logging.ERROR)  # the bare mode's warning, each start
    ids = itertools.count()
    modes = {"sandboxed": False, "bare": True}  # mode -> CODE_INTERPRETER_UNSANDBOXED
    add = lambda figure, mode, seconds: results.figures.setdefault((figure, mode), []).append(seconds * 1000)  # noqa: E731

    async def cold(sandboxed: bool) -> float:
        kernel = Kernel(sandboxed=sandboxed)
        started = time.perf_counter()
        await kernel.start()
        elapsed = time.perf_counter() - started
        kernel.stop()
        return elapsed

    async def first_call(unsandboxed: bool) -> float:
        settings.CODE_INTERPRETER_UNSANDBOXED = unsandboxed
        if svc._filling is not None:
            await asyncio.gather(svc._filling, return_exceptions=True)  # the last sample's refill, done
        svc.shutdown()
        await svc._fill()  # a warm pool of the right kind, as a server between calls
        await asyncio.sleep(0.05)  # and idle, as it is by the time a user's first call arrives
        thread_id = f"thread_bench{next(ids)}"
        started = time.perf_counter()
        result, *_ = await _execute(thread_id, "1+1", [], None)
        elapsed = time.perf_counter() - started
        assert result.outputs and result.outputs[0]["logs"].strip() == "2", result
        return elapsed

    started_all = time.perf_counter()
    for n in range(config.warmup + config.cold):
        for mode, unsandboxed in modes.items():
            seconds = await cold(not unsandboxed)
            if n >= config.warmup:
                add("cold", mode, seconds)
    for n in range(config.warmup + config.first):
        for mode, unsandboxed in modes.items():
            seconds = await first_call(unsandboxed)
            if n >= config.warmup:
                add("first", mode, seconds)
    sessions = {}
    for mode, unsandboxed in modes.items():
        settings.CODE_INTERPRETER_UNSANDBOXED = unsandboxed
        sessions[mode] = f"thread_benchwarm_{mode}"
        await _execute(sessions[mode], "x = 0", [], None)
    for n in range(config.warmup + config.trivial):
        for mode in modes:
            kernel = svc.sessions[sessions[mode]].kernel
            started = time.perf_counter()
            result = await kernel.execute("1+1", timeout=10, max_output=1000)
            elapsed = time.perf_counter() - started
            assert result.outputs[0]["logs"].strip() == "2"
            if n >= config.warmup:
                add("trivial", mode, elapsed)
    settings.CODE_INTERPRETER_UNSANDBOXED = False
    svc.shutdown()
    results.seconds = time.perf_counter() - started_all
    return results


def run(config: Config) -> Results:
    _setup_django()
    from chat.code_interpreter.sessions import service

    svc = service()
    return asyncio.run_coroutine_threadsafe(_run(config), svc.loop).result(timeout=1800)


LABELS = {
    "cold": "Kernel cold start (spawn → kernel_info reply)",
    "first": "First call in a new thread, warm pool (`1+1`, end to end)",
    "trivial": "`1+1` in a warm session",
}


def markdown(results: Results, facts: dict) -> str:
    c = results.config
    lines = [
        "## Code Interpreter: what the sandbox costs",
        "",
        f"- **Command:** `{facts['command']}`",
        f"- **Date:** {facts['date']} (took {results.seconds:.0f} s)",
        f"- **Machine:** nproc {facts['nproc']}, CPU `{facts['cpu']}`, Python {facts['python']}, "
        f"Linux {facts['kernel']}; load average {facts['load_before']} before, {facts['load_after']} after.",
        f"- **Versions:** {facts['versions']}",
        "- **Sandboxed:** ipykernel under bubblewrap (all namespaces unshared, no network, read-only system and "
        f"venv, tmpfs /tmp, /dev/shm and /mnt/data; {results.limits}), ZMQ over unix sockets. "
        "**Bare:** the same ipykernel started directly by the same code, no bubblewrap, no limits.",
        f"- **Samples:** {c.cold} cold starts, {c.first} first calls and {c.trivial} warm executions per mode, "
        f"interleaved sandboxed/bare, after {c.warmup} discarded warm-ups each. Nearest-rank percentiles.",
        "",
        "| figure | sandboxed p50 | sandboxed p99 | bare p50 | bare p99 | sandbox / bare (p50) |",
        "|---|---|---|---|---|---|",
    ]
    for figure, label in LABELS.items():
        boxed = stats.summary(results.figures[(figure, "sandboxed")])
        bare = stats.summary(results.figures[(figure, "bare")])
        lines.append(
            f"| {label} | {boxed['p50']:.1f} ms | {boxed['p99']:.1f} ms | {bare['p50']:.1f} ms | "
            f"{bare['p99']:.1f} ms | {stats.ratio(boxed['p50'], bare['p50']):.2f}× |"
        )
    first = stats.summary(results.figures[("first", "sandboxed")])
    cold_ratio = stats.ratio(stats.summary(results.figures[("cold", "sandboxed")])["p50"],
                             stats.summary(results.figures[("cold", "bare")])["p50"])
    warm_ratio = stats.ratio(stats.summary(results.figures[("trivial", "sandboxed")])["p50"],
                             stats.summary(results.figures[("trivial", "bare")])["p50"])
    lines += [
        "",
        f"Aims: the sandbox adds under 10% — cold start {100 * (cold_ratio - 1):+.0f}%, warm `1+1` "
        f"{100 * (warm_ratio - 1):+.0f}% at p50; the first call in a thread under 100 ms — "
        f"{first['p50']:.0f} ms p50, {first['p99']:.0f} ms p99 "
        f"({'met' if first['p99'] < 100 else 'met at p50, not p99' if first['p50'] < 100 else 'not met'}).",
    ]
    return "\n".join(lines)


def main(dry_run: bool = False, *, standalone: bool = False) -> int:
    from bench import report

    command = report.command_line()
    if standalone:  # python -m bench.code_interpreter: this benchmark only
        command = command.replace(" -m bench", " -m bench.code_interpreter", 1)
    facts = {**report.machine(), "command": command, "date": report.now_utc(),
             "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
             "versions": report.versions("ipykernel", "jupyter_client", "pyzmq", "numpy", "matplotlib")}
    facts["versions"] += f", bubblewrap {_bwrap_version()}"
    print("bench: code_interpreter (sandboxed vs bare kernels)…", file=sys.stderr)
    try:
        results = run(Config())
    except Exception as exc:  # noqa: BLE001 - reported, the doc is left alone
        print(f"bench: code_interpreter could not be measured: {exc}", file=sys.stderr)
        return 1
    facts["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    section = markdown(results, facts)
    print(section)
    if not dry_run:
        report.write_section("code_interpreter", section)
        print(f"\nbench: wrote the code_interpreter section of {report.DOC.relative_to(report.ROOT)}", file=sys.stderr)
    return 0


def _bwrap_version() -> str:
    import subprocess

    try:
        return subprocess.run(["bwrap", "--version"], capture_output=True, text=True, timeout=5).stdout.split()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main("--dry-run" in sys.argv, standalone=True))
