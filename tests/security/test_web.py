"""Replays of the web-facing probes of issue 9: log-in guessing (item 6), polling clients
throttled by the server's own hint (item 7) and WebSockets opened from foreign origins (item 8).
"""

from __future__ import annotations

import http.cookiejar
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx2
import openai
import pytest
from axes.models import AccessAttempt
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertRedirects
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from chat.api.models import ApiKey
from project.asgi import application
from project.origins import origin_allowed
from tests.api.conftest import ApiServer, start_api_server
from tests.live_server import server_env
from tests.test_consumers import session_cookie

pytestmark = pytest.mark.django_db

LOCKED_OUT = "Too many failed attempts to log in. Please try again in 15 minutes."


def log_in(client, username, password, *, url=None, address="127.0.0.1"):
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- item 6: log-in throttling ----------------------------------------------------------


def test_sixty_wrong_passwords_then_the_right_one_is_refused_with_the_reason(client, alice):
    for n in range(60):
        log_in(client, "alice", f"guess-{n}")
    response = log_in(client, "alice", "alice-password-1")
    assert response.status_code == 429
    assertContains(response, LOCKED_OUT, status_code=429)
    assertContains(response, '<form method="post"', status_code=429)  # our log-in page, not a bare 403 text
    assert not is_logged_in(client)


def test_the_account_is_locked_whatever_address_the_guesses_come_from(client, alice, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, "alice", f"guess-{n}", address=f"10.0.0.{n + 1}")
    response = log_in(client, "alice", "alice-password-1", address="10.9.9.9")
    assertContains(response, LOCKED_OUT, status_code=429)
    assert not is_logged_in(client)


def test_one_address_guessing_many_accounts_is_locked_out(client, alice, settings):
    for n in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT):
        log_in(client, f"student{n}", "password123", address="203.0.113.7")
    response = log_in(client, "alice", "alice-password-1", address="203.0.113.7")
    assertContains(response, LOCKED_OUT, status_code=429)
    assert not is_logged_in(client)
    assertRedirects(log_in(client, "alice", "alice-password-1", address="198.51.100.1"), reverse("chat:threads"))


def test_a_classroom_behind_one_address_is_not_locked_out_by_a_few_typos_each(client, alice, settings):
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT > settings.LOGIN_FAILURE_LIMIT
    for n in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT - 1):
        log_in(client, f"pupil{n % 10}", "typo", address="203.0.113.8")
    assertRedirects(log_in(client, "alice", "alice-password-1", address="203.0.113.8"), reverse("chat:threads"))


def test_the_admin_log_in_is_throttled_the_same_way(client, django_user_model, settings):
    django_user_model.objects.create_superuser("root", password="root-pass-1")
    admin_login = reverse("admin:login")
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, "root", f"guess-{n}", url=admin_login)
    response = log_in(client, "root", "root-pass-1", url=admin_login)
    assertContains(response, LOCKED_OUT, status_code=429)
    assertContains(response, 'id="login-form"', status_code=429)  # the admin's own log-in page
    assert not is_logged_in(client)


def test_a_few_typos_do_not_lock_anyone_out_and_success_clears_them(client, alice, settings):
    for _ in range(3):
        for n in range(settings.LOGIN_FAILURE_LIMIT - 1):
            log_in(client, "alice", f"typo-{n}")
        assertRedirects(log_in(client, "alice", "alice-password-1"), reverse("chat:threads"))
        client.post(reverse("logout"))


def test_logging_in_to_one_s_own_account_does_not_clear_guesses_at_another(client, alice, bob, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, "alice", f"guess-{n}")
        if n % 3 == 2:  # bob, the guesser, proves his own password now and then
            assertRedirects(log_in(client, "bob", "bob-password-1"), reverse("chat:threads"))
            client.post(reverse("logout"))
    assertContains(log_in(client, "alice", "alice-password-1", address="10.9.9.9"), LOCKED_OUT, status_code=429)


def test_after_the_cool_off_the_right_password_works_again(client, alice, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, "alice", f"guess-{n}")
    assert log_in(client, "alice", "alice-password-1").status_code == 429
    # Let the cool-off pass: the latest failure is now LOGIN_COOLOFF_MINUTES + 1 minutes old.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES + 1)
    )
    assertRedirects(log_in(client, "alice", "alice-password-1"), reverse("chat:threads"))


def test_a_locked_out_address_can_still_sign_up_and_use_api_keys(client, alice, settings):
    key = ApiKey.issue(alice, "tests")[1]
    for n in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT):
        log_in(client, f"student{n}", "password123")
    assert log_in(client, "alice", "alice-password-1").status_code == 429
    api = client.get("/v1/assistants", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.status_code == 200 and api.json()["object"] == "list"
    response = client.post(
        reverse("chat:signup"),
        {"username": "carol", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assertRedirects(response, reverse("chat:threads"))


# --- item 7: polling at the server's own hint ----------------------------------------------

RATE_WINDOW = 10  # seconds: short, so a flooded key recovers within the test
WRITE_LIMIT = 70  # per window: room for 20 runs' writes (3 each), far too few for their polls


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    """A live server whose write budget fits 20 parallel runs but not their polling."""
    server = start_api_server(
        "rate-limited API",
        tmp_path_factory.mktemp("limited-server"),
        OFFLINE_MODEL_DELAY="0.05",  # each run streams for a second or two: several polls each
        API_RATE_WINDOW=str(RATE_WINDOW),
        API_RATE_LIMIT=str(WRITE_LIMIT),
        API_READ_RATE_LIMIT="5000",
        PROXY_HEADERS="true",  # as behind a reverse proxy: the client's address is X-Forwarded-For
    )
    try:
        yield server
    finally:
        server.stop()


def solve_in_a_new_thread(sdk, assistant_id: str, equation: str):
    thread = sdk.beta.threads.create()
    sdk.beta.threads.messages.create(thread_id=thread.id, role="user", content=f"Solve {equation}")
    return sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_twenty_runs_polled_at_once_on_one_key_all_complete(limited_server):
    polls = []

    def count_polls(request):
        if request.method == "GET" and "/runs/" in request.url.path:
            polls.append(request.url.path)

    http = httpx2.Client(event_hooks={"request": [count_polls]})
    with limited_server.client("alice", http_client=http) as sdk:  # max_retries=0: a 429 fails the test
        assistant = sdk.beta.assistants.create(name="Tutor", model="offline")
        with ThreadPoolExecutor(max_workers=20) as pool:
            runs = list(pool.map(lambda n: solve_in_a_new_thread(sdk, assistant.id, f"{n}x + 1 = {n + 1}"), range(1, 21)))
    assert [run.status for run in runs] == ["completed"] * 20
    # The point: all those polls would not have fitted the write budget.
    assert len(polls) + 61 > WRITE_LIMIT, len(polls)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_write_flood_gets_429_with_retry_after_that_the_sdk_honours(limited_server):
    with limited_server.client("bob") as sdk, ThreadPoolExecutor(max_workers=8) as pool:
        attempts = [pool.submit(sdk.beta.threads.create) for _ in range(3 * WRITE_LIMIT)]
        refusals = [a.exception() for a in attempts if isinstance(a.exception(), openai.RateLimitError)]
    assert refusals, "no write was refused"
    headers = refusals[0].response.headers
    assert 0 < int(headers["retry-after-ms"]) <= RATE_WINDOW * 1000
    assert int(headers["Retry-After"]) == math.ceil(int(headers["retry-after-ms"]) / 1000)
    assert refusals[0].body["code"] == "rate_limit_exceeded"

    exchanges = []  # ("sent", None, when) for each request, (status, retry-after-ms, when) for each response
    http = httpx2.Client(
        event_hooks={
            "request": [lambda request: exchanges.append(("sent", None, time.monotonic()))],
            "response": [
                lambda response: exchanges.append((response.status_code, response.headers.get("retry-after-ms"), time.monotonic()))
            ],
        }
    )
    with limited_server.client("bob", http_client=http, max_retries=2) as patient:
        for _ in range(3 * WRITE_LIMIT):  # the flood above used up this window unless it has just turned
            thread = patient.beta.threads.create()  # a refusal is retried by the SDK once the window turns
            assert thread.id.startswith("thread_")
            if any(status == 429 for status, _, _ in exchanges):
                break
    statuses = [status for status, _, _ in exchanges if status != "sent"]
    assert 429 in statuses and statuses[-1] == 200, statuses
    refused_at, wait_ms = next((when, int(ms)) for status, ms, when in exchanges if status == 429)
    retried_at = next(when for status, _, when in exchanges if status == "sent" and when > refused_at)
    assert retried_at - refused_at >= wait_ms / 1000 - 0.05  # the SDK slept as long as it was told


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_two_server_processes_share_one_key_s_budget_through_redis(tmp_path_factory):
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:  # the main run has no Redis on purpose; scripts/test-services sets it
        pytest.skip("needs REDIS_URL (scripts/test-services runs this with Redis)")
    limits = {"REDIS_URL": redis_url, "API_RATE_LIMIT": "4", "API_RATE_WINDOW": "60"}
    first = start_api_server("first", tmp_path_factory.mktemp("first"), **limits)
    try:
        # A second process on the same database and Redis, as in a scale-out deployment.
        database = f"sqlite:///{first.data_dir / 'db.sqlite3'}"
        second_dir = tmp_path_factory.mktemp("second")
        second = ApiServer.start("second", second_dir, server_env(second_dir, DATABASE_URL=database, **limits), keys=first.keys)
        try:
            while time.time() % 60 > 50:  # both counters must fall in one window
                time.sleep(0.5)
            with first.client("alice") as a, second.client("alice") as b:
                for sdk in (a, b, a, b):  # two writes each: within each process's own budget
                    sdk.beta.threads.create()
                with pytest.raises(openai.RateLimitError):
                    b.beta.threads.create()  # the fifth write of the key, whichever process takes it
        finally:
            second.stop()
    finally:
        first.stop()


# --- item 8: WebSockets from foreign origins -----------------------------------------------


async def open_socket(thread, user, *, host="127.0.0.1:8000", origin="http://127.0.0.1:8000", extra=()) -> bool:
    """Whether alice's socket is accepted with her session cookie from that origin."""
    headers = [(b"cookie", (await session_cookie(user)).encode()), *extra]
    if host is not None:
        headers.append((b"host", host.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/threads/{thread.id}/", headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
async def test_a_socket_from_the_page_it_was_opened_on_is_accepted(alice, thread):
    assert await open_socket(thread, alice, host="127.0.0.1:8000", origin="http://127.0.0.1:8000")
    assert await open_socket(thread, alice, host="localhost", origin="http://localhost")
    assert await open_socket(thread, alice, host="localhost:80", origin="http://localhost")  # default port either way


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # another port on the same host: another site
        "http://localhost:3000",  # an allowed host name, another port
        "https://127.0.0.1",  # another scheme (and port)
        "https://127.0.0.1:8000",  # another scheme, same port
        "http://localhost:8000",  # another host name for the same server
        "http://evil.example",
        "http://127.0.0.1:8000.evil.example",
        "null",  # sandboxed iframes, file: pages, data: URLs
        "",
        "http://127.0.0.1:8000/",
        "http://alice@127.0.0.1:8000",
        None,  # no Origin at all
    ],
)
async def test_a_socket_from_any_other_origin_is_refused(alice, thread, origin):
    assert not await open_socket(thread, alice, host="127.0.0.1:8000", origin=origin)


@pytest.mark.django_db(transaction=True)
async def test_a_host_outside_allowed_hosts_is_refused_even_when_the_origin_matches_it(alice, thread):
    # DNS rebinding: evil.example resolved to this server, the page's origin is its own.
    assert not await open_socket(thread, alice, host="evil.example", origin="http://evil.example")
    assert not await open_socket(thread, alice, host=None, origin="http://127.0.0.1:8000")


@pytest.mark.django_db(transaction=True)
async def test_two_origin_headers_are_refused(alice, thread):
    forged = [(b"origin", b"http://evil.example")]
    assert not await open_socket(thread, alice, origin="http://127.0.0.1:8000", extra=forged)


@pytest.mark.django_db(transaction=True)
async def test_csrf_trusted_origins_are_accepted_and_only_they(alice, thread, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://tutor.example.org", "https://*.school.example"]
    assert await open_socket(thread, alice, origin="https://tutor.example.org")
    assert await open_socket(thread, alice, origin="https://class7.school.example")
    assert not await open_socket(thread, alice, origin="http://tutor.example.org")
    assert not await open_socket(thread, alice, origin="https://tutor.example.org:8443")
    assert not await open_socket(thread, alice, origin="https://school.example.evil")


@pytest.mark.django_db(transaction=True)
async def test_behind_a_tls_proxy_the_https_page_is_the_socket_s_origin(alice, thread, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    https = [(b"x-forwarded-proto", b"https")]
    assert await open_socket(thread, alice, host="localhost", origin="https://localhost", extra=https)
    assert not await open_socket(thread, alice, host="localhost", origin="http://localhost", extra=https)
    assert not await open_socket(thread, alice, host="localhost", origin="https://localhost")


def test_a_wss_socket_belongs_to_the_https_page():
    scope = {"type": "websocket", "scheme": "wss", "headers": [(b"host", b"localhost"), (b"origin", b"https://localhost")]}
    assert origin_allowed(scope)
    scope["headers"][1] = (b"origin", b"http://localhost")
    assert not origin_allowed(scope)


# --- the same attacks against a live Daphne server ----------------------------------------


def live_login(server, username: str, password: str, address: str = "127.0.0.1"):
    """Log in through the real log-in form from that client address (as the proxy says);
    returns (status, page, cookies)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("X-Forwarded-For", address)]
    opener.open(server.url("/accounts/login/"), timeout=30).read()
    token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    try:
        with opener.open(server.url("/accounts/login/"), data=form.encode(), timeout=30) as response:
            return response.status, response.read().decode(), jar
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), jar


def live_socket_accepted(server, thread_id: str, cookie: str, origin: str | None) -> bool:
    url = server.base_url.replace("http://", "ws://") + f"/ws/threads/{thread_id}/"
    try:
        with ws_connect(url, origin=origin, additional_headers={"Cookie": cookie}, proxy=None, open_timeout=30):
            return True
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_live_server_refuses_forged_origins_with_the_victim_s_cookies(limited_server):
    with limited_server.client("alice") as sdk:
        thread = sdk.beta.threads.create()
    status, _, jar = live_login(limited_server, "alice", "alice-api-pw-1")
    assert status == 200
    cookie = "sessionid=" + next(c.value for c in jar if c.name == "sessionid")
    own = limited_server.base_url  # http://127.0.0.1:<port>
    port = own.rsplit(":", 1)[1]
    assert live_socket_accepted(limited_server, thread.id, cookie, own)
    for forged in ["http://127.0.0.1:9999", "http://localhost:3000", "https://127.0.0.1", f"https://127.0.0.1:{port}",
                   f"http://localhost:{port}", "http://evil.example", "null", None]:
        assert not live_socket_accepted(limited_server, thread.id, cookie, forged), forged


def test_a_live_server_locks_out_a_guessed_account_with_the_reason_on_its_log_in_page(limited_server):
    for n in range(10):  # LOGIN_FAILURE_LIMIT's default
        status, _, _ = live_login(limited_server, "bob", f"guess-{n}", address="192.0.2.10")
        assert status in (200, 429)
    status, page, jar = live_login(limited_server, "bob", "bob-api-pw-1", address="192.0.2.11")
    assert status == 429 and LOCKED_OUT in page and '<form method="post"' in page
    assert "sessionid" not in {cookie.name for cookie in jar}


def test_behind_its_proxy_a_live_server_locks_out_the_guessing_address_not_everyone(limited_server):
    for n in range(30):  # LOGIN_ADDRESS_FAILURE_LIMIT's default
        live_login(limited_server, f"student{n}", "password123", address="203.0.113.50")
    status, page, _ = live_login(limited_server, "alice", "alice-api-pw-1", address="203.0.113.50")
    assert status == 429 and LOCKED_OUT in page
    status, page, _ = live_login(limited_server, "alice", "alice-api-pw-1", address="203.0.113.51")
    assert status == 200 and LOCKED_OUT not in page
