"""Two checkouts' servers up at once, rounds alternated ABBA, with each server's CPU per round.

    .venv/bin/python -m bench.side_by_side --base /path/to/older/checkout [--runs 200]
        [--rounds 4] [--transports sse,ws,seq] [--ports 8600,8601] [--json out.json]

Both servers are `bench.hooked_serve serve` (embedded default: SQLite, in-memory layer, one
process, offline model at zero delay, no rate limits), "old" from ``--base`` and "new" from
this checkout, each with its own data directory. Per transport the rounds go old, new, new,
old (repeated), each ``--runs`` runs at once: ``sse`` through the official SDK, ``ws`` the
browser's socket and htmx POST, ``seq`` ``--runs`` SSE runs one after another (CPU per run
without contention). Server CPU is utime+stime of the server process from /proc around the
round, so the other server and the client do not count. Prints one JSON line per round and
the medians per side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from pathlib import Path

from bench.capacity import SERVER_ENV, sse_level, ws_level
from bench.client import Browser
from bench.server import ROOT, Server

TICK = os.sysconf("SC_CLK_TCK")
ORDER = ("old", "new", "new", "old")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


async def one_round(transport: str, server: Server, browser: Browser, threads: list[str], n: int) -> dict:
    if transport == "sse":
        return await sse_level(server, threads, n)
    if transport == "ws":
        return await ws_level(server, browser, threads, n)
    runs = [await sse_level(server, threads, 1) for _ in range(n)]
    return {
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in runs),
        "first": {
            "p50": statistics.median(r["first"]["p50"] for r in runs),
            "p99": max(r["first"]["p99"] for r in runs),
        },
        "chunk": {
            "p50": statistics.median(r["chunk"]["p50"] for r in runs),
            "p99": max(r["chunk"]["p99"] for r in runs),
        },
        **{k: sum(r[k] for r in runs) for k in ("errors", "lost", "out_of_order")},
    }


async def measure(base: Path, n: int, rounds: int, transports: list[str], ports: list[int]) -> list[dict]:
    need = 1 + 20 + n * rounds * len(transports) + 10
    rows = []
    old = Server(threads=need, hooked=True, root=base, env=SERVER_ENV, api_key=True, port=ports[0])
    new = Server(threads=need, hooked=True, root=ROOT, env=SERVER_ENV, api_key=True, port=ports[1])
    with old, new:
        servers = {"old": old, "new": new}
        threads = {side: list(s.fixtures["threads"]) for side, s in servers.items()}
        async with Browser(old, connections=n + 10) as old_browser, Browser(new, connections=n + 10) as new_browser:
            browsers = {"old": old_browser, "new": new_browser}
            for side, server in servers.items():  # warm-up: imports, templates, caches
                await browsers[side].login(server.fixtures["username"], server.fixtures["password"])
                await sse_level(server, threads[side], 10)
                await ws_level(server, browsers[side], threads[side], 10)
            for transport in transports:
                for i in range(2 * rounds):
                    side = ORDER[i % 4]
                    server = servers[side]
                    load, before = os.getloadavg()[0], cpu_seconds(server.proc.pid)
                    got = await one_round(transport, server, browsers[side], threads[side], n)
                    row = {
                        "transport": transport,
                        "side": side,
                        "round": i,
                        "load": round(load, 2),
                        "cpu_s": round(cpu_seconds(server.proc.pid) - before, 2),
                        "tokens_per_s": got["tokens_per_s"],
                        "first_p50": got["first"]["p50"],
                        "first_p99": got["first"]["p99"],
                        "chunk_p50": got["chunk"]["p50"],
                        "chunk_p99": got["chunk"]["p99"],
                        "errors": got["errors"],
                        "lost": got["lost"],
                        "out_of_order": got["out_of_order"],
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    return rows


def summary(rows: list[dict]) -> list[str]:
    lines = []
    for transport in dict.fromkeys(r["transport"] for r in rows):
        for side in ("old", "new"):
            mine = [r for r in rows if r["transport"] == transport and r["side"] == side]

            def median(key: str, mine: list[dict] = mine) -> float:
                return statistics.median(r[key] for r in mine)

            lines.append(
                f"{transport} {side}: tokens/s {median('tokens_per_s'):.0f} {[round(r['tokens_per_s']) for r in mine]}"
                f" · CPU per round {median('cpu_s'):.2f} s {[r['cpu_s'] for r in mine]}"
                f" · first token p50 {median('first_p50'):.0f} p99 {median('first_p99'):.0f} ms"
                f" · per-chunk p50 {median('chunk_p50'):.0f} p99 {median('chunk_p99'):.0f} ms"
                f" · errors {sum(r['errors'] for r in mine)} lost {sum(r['lost'] for r in mine)}"
                f" out of order {sum(r['out_of_order'] for r in mine)} · load {[r['load'] for r in mine]}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.side_by_side", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base", type=Path, required=True, help="the older checkout (with .venv or not: this venv runs it)"
    )
    parser.add_argument("--runs", type=int, default=200, help="runs at once per round (in sequence for seq)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per side and transport (even: ABBA)")
    parser.add_argument("--transports", default="sse,ws", help="of sse, ws, seq (default %(default)s)")
    parser.add_argument("--ports", default="8600,8601", help="old,new (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the rounds here")
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]
    rows = asyncio.run(measure(args.base, args.runs, args.rounds, args.transports.split(","), ports))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print("\n".join(summary(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
