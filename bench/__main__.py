"""python -m bench [options] — run the benchmarks and write docs/benchmarks.md.

Parts, in order: retrieval, streaming, capacity against the floor on the embedded default
and on the cluster layout (bench.scale), Code Interpreter. --skip-PART leaves a part (and
its section of docs/benchmarks.md) alone, e.g. only the cluster part:

    python -m bench --skip-retrieval --skip-streaming --skip-embedded --skip-code-interpreter

The cluster part needs PostgreSQL and Redis on localhost (started by scripts/start-services
when installed); when they cannot be reached it says so and is skipped.
"""

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
    from bench import scale, streaming

    defaults = streaming.Config()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
                        help="seconds the streaming part may take before it stops with an error (default %(default)s)")
    parser.add_argument("--capacity-levels", default=scale.LEVELS,
                        help="concurrent runs per level, embedded and cluster, engine and floor (default %(default)s)")
    parser.add_argument("--cluster-levels", help="levels for the cluster part only (default: --capacity-levels)")
    parser.add_argument("--run-timeout", type=float, default=60.0,
                        help="seconds one capacity run may take up to 250 at once, scaled up above "
                        "(120 s at 500; default %(default)s)")
    parser.add_argument("--capacity-budget", type=float, default=900.0,
                        help="seconds per capacity part (embedded, cluster) after which its remaining levels are "
                        "skipped (default %(default)s)")
    parser.add_argument("--port-base", type=int, help="capacity servers listen on PORT_BASE..+3 (default: free ports)")
    parser.add_argument("--database-prefix", default=scale.DATABASE_PREFIX,
                        help="the cluster part's PostgreSQL database is PREFIX_<pid>, dropped at the end "
                        "(default %(default)s)")
    for part in ("retrieval", "streaming", "embedded", "cluster", "code-interpreter"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"do not run the {part} part")
    parser.add_argument("--dry-run", action="store_true", help="print the section instead of writing docs/benchmarks.md")
    args = parser.parse_args(argv)
    for name in ("samples", "c1_runs", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    # Retrieval runs in its own process: it sets Django up on a throw-away database.
    if not args.skip_retrieval and subprocess.call([sys.executable, "-m", "bench.retrieval", *(["--dry-run"] if args.dry_run else [])], cwd=report.ROOT):
        print("bench: the retrieval benchmark failed (see above)", file=sys.stderr)
    config = streaming.Config(
        samples=args.samples, warmup=max(0, args.warmup), c1_runs=args.c1_runs, concurrency=args.concurrency,
        c50_rounds=args.rounds, budget=args.budget,
    )
    if not args.skip_streaming and streaming_part(args, config):
        return 1
    # Many runs at once against the floor, embedded then cluster (alone: python -m bench.scale).
    for layout in ("embedded", "cluster"):
        if getattr(args, f"skip_{layout}"):
            continue
        levels = (args.cluster_levels if layout == "cluster" else None) or args.capacity_levels
        print(f"bench: capacity against the floor, {layout}, levels {levels}…", file=sys.stderr)
        try:
            if scale.write(layout, [int(x) for x in levels.split(",")], args.run_timeout, args.capacity_budget,
                           args.port_base, report.command_line(), not args.dry_run, database_prefix=args.database_prefix):
                return 1  # interrupted (Ctrl+C): stop here
        except Exception as exc:  # one part failing leaves the others (and their sections) alone
            print(f"bench: the {layout} capacity part failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    if args.skip_code_interpreter:
        return 0
    from bench import code_interpreter

    return code_interpreter.main(dry_run=args.dry_run)


def streaming_part(args, config) -> int:
    from bench import streaming

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
