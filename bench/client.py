"""The browser's side: an HTTP session (login, htmx posts) and thread WebSockets whose
frames carry the moment their bytes reached the client process."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections import deque
from dataclasses import dataclass, field

import httpx2
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

from bench.server import Server

# <span id="stream-msg_…">text</span> inside a streaming message (snapshot, message.created,
# or a re-render), and <span id="stream-msg_…" hx-swap-oob="beforeend">text</span> for a delta.
# Its text may hold formulas, each shown whole as a math element (chat/streaming_math.py).
SPAN = re.compile(
    r'<span id="stream-(msg_\w+)"( hx-swap-oob="beforeend")?>((?:[^<]+|<span class="math-(?:inline|display)">[^<]*</span>)*)</span>',
    re.S,
)
# An assistant message rendered in its final form (completed, incomplete): all its text is in.
DONE_ARTICLE = re.compile(
    r'<article id="message-(msg_\w+)"[^>]*?class="message message--assistant message--(?!in_progress)\w+"', re.S
)
RUN_STATUS = re.compile(r'id="run-status"[^>]*><span class="chip chip--(\w+)"')
ENDED = {"completed", "failed", "cancelled", "incomplete", "expired", "requires_action"}
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class StampedConnection(ClientConnection):
    """Stamps each text message with ``time.monotonic_ns()`` taken when the event loop
    handed its bytes to the WebSocket parser — not when our code got round to ``recv()``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rx_ns: deque[int] = deque()
        self._now = 0

    def data_received(self, data: bytes) -> None:
        self._now = time.monotonic_ns()
        super().data_received(data)

    def process_event(self, event) -> None:
        if (
            self.response is not None
            and isinstance(event, Frame)
            and event.fin
            and event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
        ):
            self.rx_ns.append(self._now)
        super().process_event(event)


@dataclass
class Received:
    frames: list[tuple[int, str]] = field(default_factory=list)  # (monotonic ns, text)
    status: str | None = None  # the run's last status seen


class ThreadSocket:
    def __init__(self, ws: StampedConnection) -> None:
        self.ws = ws

    async def recv(self, timeout: float) -> tuple[int, str]:
        text = await asyncio.wait_for(self.ws.recv(), timeout)
        return self.ws.rx_ns.popleft(), text

    async def until_run_ends(self, timeout: float) -> Received:
        """Collect frames until the run-status chip shows an ending status and, for a
        completed run, the answer has been rendered in its final form. (The consumer renders
        rows as they are when it handles an event, so at zero pacing the chip can say
        "Completed" in a frame that arrives before the one carrying the answer.)"""
        got = Received()
        answered = False
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the run did not end within {timeout}s (last status {got.status})")
            try:
                stamp, text = await self.recv(left)
            except TimeoutError:
                raise TimeoutError(f"the run did not end within {timeout}s (last status {got.status})") from None
            got.frames.append((stamp, text))
            answered = answered or bool(DONE_ARTICLE.search(text))
            for match in RUN_STATUS.finditer(text):
                got.status = match.group(1)
            if got.status in ENDED and (answered or got.status != "completed"):
                return got

    async def close(self) -> None:
        await self.ws.close()


def socket_path(thread_id: str, shown_through: int = 0) -> str:
    """The thread page's socket URL (templates/chat/thread.html), for a page whose newest
    message has ``seq`` ``shown_through`` (0: none)."""
    return f"/ws/threads/{thread_id}/?after={shown_through}"


class Browser:
    """One logged-in user: an HTTP client with the session cookie, and its sockets."""

    def __init__(self, server: Server, connections: int = 100, timeout: float = 30.0) -> None:
        """``timeout``: seconds a request may take (a browser's htmx post waits as long as
        the server takes; a level gives it as long as one of its runs may take)."""
        self.server = server
        self.http = httpx2.AsyncClient(
            base_url=server.base,
            trust_env=False,  # no proxies: loopback only
            timeout=httpx2.Timeout(timeout),
            limits=httpx2.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.aclose()

    async def login(self, username: str, password: str) -> None:
        page = await self.http.get("/accounts/login/")
        page.raise_for_status()
        token = CSRF_INPUT.search(page.text).group(1)
        resp = await self.http.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        )
        if resp.status_code != 302 or "sessionid" not in self.http.cookies:
            raise RuntimeError(f"login failed: HTTP {resp.status_code}")

    async def open_thread_socket(self, thread_id: str, timeout: float = 10.0, shown_through: int = 0) -> ThreadSocket:
        """Connect and wait for the snapshot frame (sent once the socket has joined the
        thread's group), so nothing published afterwards can be missed. The URL is the
        page's own: the benches' threads are fresh, so their pages show no message."""
        cookie = f"sessionid={self.http.cookies['sessionid']}"
        ws = await asyncio.wait_for(
            connect(
                f"ws://{self.server.base.removeprefix('http://')}{socket_path(thread_id, shown_through)}",
                origin=self.server.base,
                additional_headers={"Cookie": cookie},
                create_connection=StampedConnection,
                ping_interval=None,
                proxy=None,
                open_timeout=timeout,
            ),
            timeout,
        )
        sock = ThreadSocket(ws)
        _, snapshot = await sock.recv(timeout)
        if 'id="run-status"' not in snapshot:
            raise RuntimeError("the socket's first frame was not the thread snapshot")
        return sock

    async def post_message(self, thread_id: str, assistant_id: str, text: str) -> tuple[int, int, str]:
        """POST the composer form as htmx does; returns (sent ns, response ns, body)."""
        headers = {"HX-Request": "true", "X-CSRFToken": self.http.cookies["csrftoken"]}
        sent = time.monotonic_ns()
        resp = await self.http.post(
            f"/threads/{thread_id}/messages/", data={"text": text, "assistant": assistant_id}, headers=headers
        )
        done = time.monotonic_ns()
        if resp.status_code != 200 or 'class="message message--user' not in resp.text:
            raise RuntimeError(f"posting a message failed: HTTP {resp.status_code}: {resp.text[:300]}")
        return sent, done, resp.text


def first_text_ns(frames: list[tuple[int, str]]) -> int | None:
    """When the first frame holding any of the answer's text arrived (see README)."""
    for stamp, text in frames:
        if DONE_ARTICLE.search(text):
            return stamp
        for match in SPAN.finditer(text):
            if match.group(3):
                return stamp
    return None


def text_timeline(frames: list[tuple[int, str]]) -> dict[str, list[tuple[int, float, bool]]]:
    """Per message: (arrival ns, characters of its text the page now has, by a delta frame?)
    after each frame that changed it. A final render counts as all of the text."""
    have: dict[str, float] = {}
    timeline: dict[str, list[tuple[int, float, bool]]] = {}
    for stamp, text in frames:
        for match in SPAN.finditer(text):
            message_id, is_delta, body = match.group(1), bool(match.group(2)), html.unescape(match.group(3))
            before = have.get(message_id, 0)
            now = before + len(body) if is_delta else max(before, len(body))
            if now > before:
                have[message_id] = now
                timeline.setdefault(message_id, []).append((stamp, now, is_delta))
        for match in DONE_ARTICLE.finditer(text):
            message_id = match.group(1)
            if have.get(message_id) != float("inf"):
                have[message_id] = float("inf")
                timeline.setdefault(message_id, []).append((stamp, float("inf"), False))
    return timeline
