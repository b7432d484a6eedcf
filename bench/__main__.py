"""python -m bench [options] — run the benchmarks and write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys

from bench import report


def main(argv: list[str] | None = None) -> int:
    try:
        import websockets  # noqa: F401 - the benchmark's WebSocket client
    except ModuleNotFoundError:
        print("bench: needs the development packages: make bench, or .venv/bin/pip install -r requirements-dev.txt", file=sys.stderr)
        return 2
    from bench import streaming

    defaults = streaming.Config()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--samples", type=int, default=defaults.samples,
                        help="runs measured for first-text latency (default %(default)s)")
    parser.add_argument("--c1-runs", type=int, default=defaults.c1_runs,
                        help="sequential runs for per-chunk latency at concurrency 1 (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency,
                        help="simultaneous runs, each on its own thread and socket (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=defaults.c50_rounds,
                        help="rounds of --concurrency simultaneous runs (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=defaults.warmup, help="discarded runs per server (default %(default)s)")
    parser.add_argument("--budget", type=float, default=defaults.budget,
                        help="seconds the whole benchmark may take before it stops with an error (default %(default)s)")
    parser.add_argument("--capacity-levels", default="1,50,200",
                        help="concurrent runs per level of the capacity benchmark (default %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="print the section instead of writing docs/benchmarks.md")
    args = parser.parse_args(argv)
    for name in ("samples", "c1_runs", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    # Retrieval runs in its own process: it sets Django up on a throw-away database.
    if subprocess.call([sys.executable, "-m", "bench.retrieval", *(["--dry-run"] if args.dry_run else [])], cwd=report.ROOT):
        print("bench: the retrieval benchmark failed (see above)", file=sys.stderr)
    config = streaming.Config(
        samples=args.samples, warmup=max(0, args.warmup), c1_runs=args.c1_runs, concurrency=args.concurrency,
        c50_rounds=args.rounds, budget=args.budget,
    )
    facts = {**report.machine(), "command": report.command_line(), "date": report.now_utc(),
             "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
             "versions": report.versions("Django", "channels", "daphne", "Twisted", "asgiref", "httpx2", "websockets")}
    print(f"bench: streaming ({config.samples} + {config.c1_runs} + {config.concurrency}×{config.c50_rounds} runs)…",
          file=sys.stderr)
    try:
        results = asyncio.run(streaming.run(config))
    except streaming.BenchError as exc:
        print(f"bench: streaming could not be measured: {exc}", file=sys.stderr)
        return 1
    facts["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    section = streaming.markdown(results, facts)
    if args.dry_run:
        print(section)
    else:
        report.write_section("streaming", section)
        print(section)
        print(f"\nbench: wrote the streaming section of {report.DOC.relative_to(report.ROOT)}", file=sys.stderr)
    from bench import capacity, code_interpreter

    # Many runs at once, SSE and WebSocket (its own section; alone: python -m bench.capacity).
    if capacity.main(["--levels", args.capacity_levels, "--rounds", "1", *([] if args.dry_run else ["--write"])]):
        print("bench: the capacity benchmark failed (see above)", file=sys.stderr)
    return code_interpreter.main(dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
