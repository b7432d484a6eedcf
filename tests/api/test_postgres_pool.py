"""On PostgreSQL, a burst of streams shares a small pool of connections, and a request that
cannot get one in time is told to come back (503), never given a 500.

A real server (`manage.py serve`) on a database of its own, next to TEST_POSTGRES_URL's
(the same server, the database name suffixed `_pool_<pid>`), driven by the official SDK.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import httpx2
import pytest

from tests.api.conftest import start_api_server
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.postgres]

POOL_SIZE = 4
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/assistants")


def _admin_connect():
    import psycopg

    base, _, name = PG_URL.rpartition("/")
    try:
        return psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3), base, name
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL at {base} is not reachable: {exc}")


@pytest.fixture(scope="module")
def pool_database():
    admin, base, name = _admin_connect()
    database = f"{name}_pool_{os.getpid()}"  # its own, even beside another test run on the same server
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
        try:
            yield f"{base}/{database}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _server(tmp_path_factory, url: str, **settings: str):
    settings.setdefault("OFFLINE_MODEL_DELAY", "0")
    return start_api_server(
        "PostgreSQL pool", tmp_path_factory.mktemp("pg-pool"), DATABASE_URL=url, API_RATE_LIMIT="0",
        API_READ_RATE_LIMIT="0", **settings,
    )


def _server_connections(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        database = url.rpartition("/")[2]
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
        ).fetchone()[0]


async def _stream_one(client, assistant_id: str) -> tuple[str, str, str]:
    text, final = [], ""
    status = None
    stream = await client.beta.threads.create_and_run(
        assistant_id=assistant_id, thread={"messages": [{"role": "user", "content": "Solve 2x + 3 = 7"}]}, stream=True
    )
    async for event in stream:
        if event.event == "thread.message.delta":
            text.append(event.data.delta.content[0].text.value)
        elif event.event == "thread.message.completed":
            final = event.data.content[0].text.value
        elif event.event == "thread.run.completed":
            status = "completed"
    return status, "".join(text), final


async def _burst(server, n: int) -> list:
    from openai import AsyncOpenAI

    http = httpx2.AsyncClient(timeout=60, limits=httpx2.Limits(max_connections=n + 5))
    client = AsyncOpenAI(api_key=server.keys["alice"], base_url=server.base_url + "/v1", http_client=http, max_retries=0)
    try:
        assistant = (await client.beta.assistants.list()).data[0].id
        return await asyncio.gather(*(_stream_one(client, assistant) for _ in range(n)), return_exceptions=True)
    finally:
        await http.aclose()


def test_a_burst_of_streams_larger_than_the_pool_completes_and_gives_its_connections_back(
    pool_database, tmp_path_factory
):
    # Each answer streams for seconds, longer than a request may wait for a connection: a
    # stream that kept its request's connection would leave the later ones none (503).
    server = _server(
        tmp_path_factory, pool_database, DATABASE_POOL_SIZE=str(POOL_SIZE), DATABASE_POOL_TIMEOUT="3",
        OFFLINE_MODEL_DELAY="0.1",
    )
    try:
        for _ in range(2):  # the second burst finds the pool as the first left it
            results = asyncio.run(asyncio.wait_for(_burst(server, 6 * POOL_SIZE), 240))
            failures = [r for r in results if isinstance(r, BaseException)]
            assert not failures, f"{failures[:3]}\n{server.log_tail()}"
            assert all(status == "completed" and text == final and final for status, text, final in results)
            # One process, one pool: never more connections than its size.
            assert _server_connections(pool_database) <= POOL_SIZE
    finally:
        server.stop()


def test_a_request_that_gets_no_connection_in_time_is_told_to_retry_with_a_503(pool_database, tmp_path_factory):
    import psycopg

    # Two connections: the engine's thread keeps one; requests share the other.
    server = _server(tmp_path_factory, pool_database, DATABASE_POOL_SIZE="2", DATABASE_POOL_TIMEOUT="1")
    blocker = psycopg.connect(pool_database)
    browser = httpx2.Client(base_url=server.base_url, timeout=30)
    try:
        login = browser.get("/accounts/login/")
        browser.post("/accounts/login/", data={
            "username": "alice", "password": "alice-api-pw-1", "csrfmiddlewaretoken": login.cookies["csrftoken"]
        }, headers={"Referer": server.url("/accounts/login/")})
        assert "sessionid" in browser.cookies
        time.sleep(1.0)  # start-up recovery has taken the engine's connection
        # A stuck query holds the last free connection: another session locks the table
        # every API request reads first (its key), so the first request waits on it.
        blocker.execute("LOCK TABLE api_apikey IN ACCESS EXCLUSIVE MODE")
        headers = {"Authorization": f"Bearer {server.keys['alice']}"}
        statuses: list[httpx2.Response] = []

        def get(path: str, **kwargs) -> None:
            statuses.append(httpx2.get(server.url(path), timeout=30, **kwargs))

        stuck = threading.Thread(target=get, args=("/v1/assistants",), kwargs={"headers": headers})
        stuck.start()
        time.sleep(0.5)
        api = httpx2.get(server.url("/v1/assistants"), headers=headers, timeout=30)
        page = browser.get("/threads/")  # reading the session needs a connection
        blocker.rollback()  # the stuck request now completes
        stuck.join(30)
    finally:
        browser.close()
        blocker.close()
        server.stop()
    assert api.status_code == 503, api.text
    assert api.json() == {
        "error": {"message": api.json()["error"]["message"], "type": "server_error", "param": None, "code": "server_busy"}
    }
    assert "busy" in api.json()["error"]["message"] and int(api.headers["Retry-After"]) >= 1
    assert "x-should-retry" not in api.headers  # the SDK's own retry of a 503 is what it should do
    assert page.status_code == 503 and "The server is busy" in page.text and page.headers["Retry-After"]
    assert [r.status_code for r in statuses] == [200]
