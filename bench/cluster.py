"""Cluster capacity: many streaming runs at once through the `/v1` API (SSE, the official
``openai`` SDK) on the `make cluster` layout — 2 web processes and 2 workers on PostgreSQL
+ Redis (RUN_BACKEND=workers), the clients spread over both web processes.

    .venv/bin/python -m bench.cluster [--levels 1,50,200] [--rounds 1] [--port N] [--database-prefix P]
                                      [--compare /path/to/older/checkout]

Reported per level: streamed deltas delivered per second in total, first delta after the
request (p50/p99), errors, lost or out-of-order events (as in bench.capacity), and the
most PostgreSQL connections the cluster's database had open at once. Per-chunk latency
needs the executing process's stamps (bench.hooked_serve) and is not measured here.
Needs PostgreSQL and Redis on localhost (scripts/start-services starts them); the database
is one of its own, dropped at the end. ``--port``/``--database-prefix`` keep parallel runs
apart (BENCH_REDIS_URL picks the Redis database); ``--compare DIR`` first measures the same
levels on a cluster started from an older checkout ("before").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import httpx2
from openai import AsyncOpenAI

from bench.capacity import SERVER_ENV, one_sse_run
from bench.levels import Stamps, read_stamp_files
from bench.server import HOST, ROOT, free_port, listens, stop_processes
from bench.stats import summary

MS = 1e6
warnings.filterwarnings("ignore", category=DeprecationWarning)
PG = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")


class Cluster:
    def __init__(self, threads: int, webs: int = 2, workers: int = 2, *, root: Path = ROOT,
                 port: int | None = None, database_prefix: str = "assistants_bench", hooked: bool = False) -> None:
        self.database = f"{database_prefix}_{os.getpid()}"
        self.root, self.first_port = root, port
        # hooked: every process runs under bench.hooked_serve, the workers stamping each
        # delta they publish into a file of their own (stamps()).
        self.hooked = hooked
        self.data_dir = Path(tempfile.mkdtemp(prefix="chat-bench-cluster-"))
        self.n_threads, self.n_webs, self.n_workers = threads, webs, workers
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
        env.update(
            SERVER_ENV, DATA_DIR=str(self.data_dir), DATABASE_URL=f"{PG}/{self.database}", REDIS_URL=REDIS,
            RUN_BACKEND="workers", TASK_QUEUE=f"assistants:bench:{os.getpid()}", OFFLINE_MODEL_DELAY="0",
            DEBUG="false", PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="project.settings",
        )
        if self.hooked:
            env["BENCH_DELTA_STAMPS"] = str(self.data_dir / "stamps-{pid}.tsv")
        return env

    def stamps(self) -> Stamps:
        return read_stamp_files(sorted(self.data_dir.glob("stamps-*.tsv")))

    def _run(self, *args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"{args} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _admin(self, sql: str):
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            return conn.execute(sql).fetchall() if sql.lstrip().upper().startswith("SELECT") else conn.execute(sql)

    def connections(self) -> int:
        return self._admin(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{self.database}'")[0][0]

    def __enter__(self) -> Cluster:
        subprocess.run([str(self.root / "scripts" / "start-services")], check=True)
        self._admin(f'CREATE DATABASE "{self.database}"')
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        import json

        entry = ["-m", "bench.hooked_serve"] if self.hooked else ["manage.py"]
        self._run("manage.py", "migrate", "--noinput", "-v0")
        self.fixtures = json.loads(self._run("-m", "bench.fixtures", "--threads", str(self.n_threads)).splitlines()[-1])
        self.fixtures["api_key"] = self._run("manage.py", "createapikey", self.fixtures["username"]).strip()
        log = open(self.data_dir / "cluster.log", "ab")  # noqa: SIM115
        for _ in range(self.n_workers):
            self.procs.append(subprocess.Popen([sys.executable, *entry, "worker"], cwd=self.root, env=self.env(),
                                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        for i in range(self.n_webs):
            port = self.first_port + i if self.first_port else free_port()
            self.ports.append(port)
            self.procs.append(subprocess.Popen([sys.executable, *entry, "serve", "--host", HOST, "--port", str(port)],
                                               cwd=self.root, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))
        deadline = time.monotonic() + 180
        while (self.data_dir / "cluster.log").read_text().count("runs at once") < self.n_workers or not all(
            listens(p) for p in self.ports
        ):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise RuntimeError("the cluster did not start:\n" + (self.data_dir / "cluster.log").read_text()[-3000:])
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        stop_processes(self.procs, timeout=40)
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        shutil.rmtree(self.data_dir, ignore_errors=True)


async def level(cluster: Cluster, threads: list[str], n: int) -> dict:
    http = httpx2.AsyncClient(trust_env=False, timeout=httpx2.Timeout(600),
                              limits=httpx2.Limits(max_connections=n + 10, max_keepalive_connections=n + 10))
    clients = [AsyncOpenAI(api_key=cluster.fixtures["api_key"], base_url=f"http://{HOST}:{p}/v1", http_client=http,
                           max_retries=0) for p in cluster.ports]
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], cluster.connections())
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        started = time.monotonic()
        runs = await asyncio.gather(*(
            one_sse_run(clients[i % len(clients)], t, cluster.fixtures["assistant"]) for i, t in enumerate(threads[:n])
        ))
        wall = time.monotonic() - started
    finally:
        stop.set()
        sampler.join()
        await http.aclose()
    del threads[:n]
    first, deltas, errors, lost, disorder = [], 0, 0, 0, 0
    for run in runs:
        if run.error or run.status != "completed":
            errors += 1
            continue
        lost += run.final_text is None or run.text != run.final_text
        disorder += run.out_of_order
        deltas += len(run.deltas)
        if run.first_ns:
            first.append((run.first_ns - run.sent_ns) / MS)
    return {"runs": n, "seconds": wall, "deltas_per_s": deltas / wall if wall else 0, "first": summary(first),
            "errors": errors, "lost": lost, "out_of_order": disorder, "peak_connections": peak[0],
            "samples": [r.error for r in runs if r.error][:3]}


def table(results: list[dict]) -> str:
    rows = ["| runs at once | deltas/s | first delta p50 / p99 | errors | lost | out of order | DB connections at peak |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rows.append(f"| {r['runs']} | {r['deltas_per_s']:,.0f} | {r['first']['p50']:,.0f} / {r['first']['p99']:,.0f} ms "
                    f"| {r['errors']} | {r['lost']} | {r['out_of_order']} | {r['peak_connections']} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,50,200")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--port", type=int, help="web processes on PORT and PORT+1 (default: free ports)")
    parser.add_argument("--database-prefix", default="assistants_bench", help="the database is PREFIX_<pid>")
    parser.add_argument("--compare", type=Path, help="an older checkout to measure first, as 'before'")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    for label, root in ([("before", args.compare)] if args.compare else []) + [("after" if args.compare else "", ROOT)]:
        results = []
        with Cluster(threads=10 + sum(levels) * args.rounds, root=root.resolve(), port=args.port,
                     database_prefix=args.database_prefix) as cluster:
            threads = list(cluster.fixtures["threads"])
            asyncio.run(level(cluster, threads, 10))  # warm-up
            for n in levels:
                for _ in range(args.rounds):
                    results.append(asyncio.run(level(cluster, threads, n)))
                    print(label, table(results[-1:]).splitlines()[-1], f"{(r := results[-1])['seconds']:.1f} s",
                          r["samples"] or "", flush=True)
        print(f"{label} ({root})" if label else "", table(results), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
