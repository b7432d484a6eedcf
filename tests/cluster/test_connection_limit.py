"""A burst of streaming runs several times larger than the database's connection slots,
through two web processes and a worker on PostgreSQL + Redis: every run completes, no
5xx, and the cluster never holds more connections than its pools allow.

The database has a per-database CONNECTION LIMIT (no server restart needed) and belongs
to a role of its own: PostgreSQL does not apply that limit to superusers.
"""

from __future__ import annotations

import asyncio
import os
import threading
from urllib.parse import urlsplit, urlunsplit

import httpx2
import psycopg
import psycopg.sql
import pytest

from tests.cluster.conftest import _services, running_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

POOL = 3  # DATABASE_POOL_SIZE of each of the three processes
LIMIT = 3 * POOL + 1  # the database's slots: the pools fit, with one to spare for nothing
BURST = 4 * LIMIT  # streaming runs at once, half through each web process


@pytest.fixture(scope="module")
def limited_cluster(tmp_path_factory):
    admin, base, name = _services()
    database = role = f"{name}_limit_{os.getpid()}"
    server = urlsplit(base)
    password = server.password or ""
    login = f"{role}:{password}" if password else role
    url = urlunsplit(server._replace(netloc=f"{login}@{server.netloc.rpartition('@')[2]}", path=f"/{database}"))
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.execute(
            f'CREATE ROLE "{role}" LOGIN NOSUPERUSER' + (" PASSWORD " + psycopg.sql.quote(password) if password else "")
        )
        admin.execute(f'CREATE DATABASE "{database}" OWNER "{role}" CONNECTION LIMIT {LIMIT}')
        try:
            _the_limit_holds(url)
            with running_cluster(
                tmp_path_factory.mktemp("limit"), url, DATABASE_POOL_SIZE=str(POOL),
                # A burst queues for the pools' connections; waiting is what is tested, not how long.
                DATABASE_POOL_TIMEOUT="30", OFFLINE_MODEL_DELAY="0.02",
            ) as cluster:
                yield cluster, admin, database
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _the_limit_holds(url: str) -> None:
    """The database refuses connection LIMIT + 1 (else this test could not fail)."""
    held = [psycopg.connect(url) for _ in range(LIMIT)]
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            psycopg.connect(url)
    finally:
        for conn in held:
            conn.close()


async def _stream_one(client, assistant_id: str, n: int) -> tuple[str | None, str, str]:
    text, final, status = [], "", None
    stream = await client.beta.threads.create_and_run(
        assistant_id=assistant_id, thread={"messages": [{"role": "user", "content": f"Solve {n}x + 3 = 7"}]},
        stream=True,
    )
    async for event in stream:
        if event.event == "thread.message.delta":
            text.append(event.data.delta.content[0].text.value)
        elif event.event == "thread.message.completed":
            final = event.data.content[0].text.value
        elif event.event.startswith("thread.run.") and not event.event.startswith("thread.run.step"):
            status = event.data.status
    return status, "".join(text), final


async def _burst(cluster) -> list:
    from openai import AsyncOpenAI

    http = httpx2.AsyncClient(timeout=180, limits=httpx2.Limits(max_connections=BURST + 5))
    clients = [
        AsyncOpenAI(api_key=cluster.keys["alice"], base_url=web.base_url + "/v1", http_client=http, max_retries=0)
        for web in (cluster.web_a, cluster.web_b)
    ]
    try:
        assistant = next(a for a in (await clients[0].beta.assistants.list()).data if a.model == "offline").id
        return await asyncio.gather(
            *(_stream_one(clients[i % 2], assistant, i + 2) for i in range(BURST)), return_exceptions=True
        )
    finally:
        await http.aclose()


def test_a_burst_of_streams_larger_than_the_database_s_connection_limit_completes(limited_cluster):
    cluster, admin, database = limited_cluster
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            count = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]).fetchone()[0]
            peak[0] = max(peak[0], count)
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        results = asyncio.run(asyncio.wait_for(_burst(cluster), 600))
    finally:
        stop.set()
        sampler.join()
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of {BURST} failed, e.g. {failures[:3]}\n{cluster.logs()}"
    assert all(status == "completed" and final and text == final for status, text, final in results), results
    # Each process's pool caps it: the three together stay within the database's slots.
    assert 0 < peak[0] <= 3 * POOL < LIMIT, peak[0]
    assert "too many connections" not in cluster.logs()
