"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright (sync API)
against a real Daphne server (`manage.py serve`) running in a subprocess.

Each server gets its own DATA_DIR (its own SQLite file and secret key), is migrated and
seeded with `seed_demo` before it starts, and is stopped at the end of the session. The
tests never touch the ORM in this process: everything goes through the browser.

A missing Chromium or Playwright driver skips these tests on a laptop and fails them
under CI=true (see ``skip_or_fail`` in tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.live_server import LiveServer, manage, server_env

try:  # the import itself must not break collection on a machine without Playwright
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None
else:
    expect.set_options(timeout=10_000)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ALICE = ("alice", "alice-browser-pw-1")
BOB = ("bob", "bob-browser-pw-1")

# Recorded in every page (before the page's own scripts run): each change of the run
# status and of every streaming span, so a test can tell text that streamed in from
# text that appeared at once, without racing a polling loop against the stream.
RECORDER_JS = r"""
(() => {
  const log = (window.__chatLog = []);
  window.__wsOpen = 0;
  let last = "";
  const record = () => {
    const status = document.getElementById("run-status");
    const streams = Array.from(document.querySelectorAll('[id^="stream-"]'), (s) => [s.id, s.textContent]);
    const entry = { t: performance.now(), status: status ? status.textContent.trim() : null, streams };
    const key = JSON.stringify([entry.status, streams]);
    if (key !== last) { last = key; log.push(entry); }
  };
  new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true });
  document.addEventListener("htmx:wsOpen", () => { window.__wsOpen += 1; });
  window.__wsMessages = 0;
  document.addEventListener("htmx:wsAfterMessage", () => { window.__wsMessages += 1; });
})();
"""

# Every Content-Security-Policy violation, reported on the console with a marker the
# fixture looks for (Chromium's own "Refused to …" console message is caught as well).
CSP_VIOLATION_MARK = "CSP violation:"
CSP_REPORTER_JS = """
document.addEventListener("securitypolicyviolation", (e) => {
  const on = e.target && e.target.tagName ? `<${e.target.tagName.toLowerCase()} id="${e.target.id}" class="${e.target.className}">` : "";
  console.error(`%s ${e.violatedDirective} blocked ${e.blockedURI || "inline"} on ${on} at ${e.sourceFile}:${e.lineNumber} ${e.sample || ""}`);
});
""" % CSP_VIOLATION_MARK


# --- the server ------------------------------------------------------------------------


@dataclass
class ChatServer(LiveServer):
    users: dict[str, str] = field(default_factory=lambda: dict([ALICE, BOB]))


def _server_env(data_dir: Path, delay: float) -> dict[str, str]:
    return server_env(data_dir, OFFLINE_MODEL_DELAY=str(delay))


def _prepare_database(data_dir: Path) -> None:
    """Migrate a fresh DATA_DIR and create alice and bob (each with a Math Tutor)."""
    env = _server_env(data_dir, 0)
    manage(env, "migrate", "--noinput")
    for username, password in (ALICE, BOB):
        manage(env, "seed_demo", "--username", username, "--password", password)


# Two servers: the usual pace (a token every 20 ms), and a slower one for the tests that
# must act in the middle of a run (reload, cancel). Each has its own DATA_DIR (SQLite file,
# secret key); the second starts from a copy of the first's freshly seeded database.
SERVER_DELAYS = {"fast": 0.02, "slow": 0.05}


@pytest.fixture(scope="session")
def _servers(tmp_path_factory):
    data_dirs = {name: tmp_path_factory.mktemp(f"{name}-server") for name in SERVER_DELAYS}
    first, *others = data_dirs.values()
    _prepare_database(first)
    for other in others:
        for db_file in first.glob("db.sqlite3*"):
            shutil.copy2(db_file, other / db_file.name)
    servers = {}
    try:
        for name, delay in SERVER_DELAYS.items():
            servers[name] = ChatServer.start(name, data_dirs[name], _server_env(data_dirs[name], delay))
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def chat_server(_servers) -> ChatServer:
    """The app served by Daphne, the offline model streaming a token every 20 ms."""
    _servers["fast"].assert_alive()
    return _servers["fast"]


@pytest.fixture
def slow_chat_server(_servers) -> ChatServer:
    """The same app in another server whose offline model streams a token every 50 ms."""
    _servers["slow"].assert_alive()
    return _servers["slow"]


# --- the browser -----------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def browser():
    """Chromium, headless, once per test module; checked before any server is started.

    Module scope, not session: while Playwright's sync API is started, it leaves its own
    event loop marked as running in this thread between calls, and every async test run
    after it (pytest-asyncio) would fail with "Runner.run() cannot be called from a
    running event loop". pytest-django runs the database tests first and the others after,
    so async tests do come after these. Stopping Playwright clears the mark.
    """
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (run scripts/install-browser-deps)")
    if sync_playwright is None:
        skip_or_fail("The playwright Python package is not installed")
    try:
        playwright = sync_playwright().start()
    except Exception as exc:  # the driver (node) missing or broken
        skip_or_fail(f"Playwright's driver is unavailable: {exc}")
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
        )
    except Exception as exc:
        playwright.stop()
        skip_or_fail(f"Chromium would not start under Playwright: {exc}")
    yield browser
    browser.close()
    playwright.stop()


class Browsing:
    """Opens pages in fresh browser contexts (separate cookies: one per user) and keeps
    what they printed, for the failure report."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts = []
        self.console: list[str] = []
        self.page_errors: list[str] = []
        self.csp_violations: list[str] = []
        self.failed_requests: list[str] = []

    def new_page(self, server: ChatServer, **context_options) -> Page:
        """A page in a fresh context; ``context_options`` as Playwright's (timezone_id, locale…)."""
        options = {"viewport": {"width": 1280, "height": 800}, **context_options}
        context = self.browser.new_context(base_url=server.base_url, **options)
        context.set_default_timeout(10_000)
        context.add_init_script(RECORDER_JS)
        context.add_init_script(CSP_REPORTER_JS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.page_errors.append(f"{e}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        return page

    def _on_request_failed(self, request) -> None:
        if "ERR_ABORTED" not in (request.failure or ""):  # a navigation cut it short
            self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _on_response(self, response) -> None:
        if response.status >= 400:
            self.failed_requests.append(f"{response.request.method} {response.url}: {response.status}")

    def assert_quiet(self) -> None:
        """No console error and no failed request so far (for pages that expect none)."""
        errors = [line for line in self.console if line.startswith("[error]")]
        assert not errors, "Console errors:\n" + "\n".join(errors)
        assert not self.failed_requests, "Failed requests:\n" + "\n".join(self.failed_requests)

    def _on_console(self, message) -> None:
        line = f"[{message.type}] {message.text} {message.location.get('url', '')}"
        self.console.append(line)
        if CSP_VIOLATION_MARK in message.text or "Content Security Policy" in message.text:
            self.csp_violations.append(line)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser):
    session = Browsing(browser)
    yield session
    session.close()
    assert not session.page_errors, "Uncaught JavaScript errors in the page:\n" + "\n".join(session.page_errors)
    assert not session.csp_violations, "Content-Security-Policy violations:\n" + "\n".join(session.csp_violations)


# --- screenshots -----------------------------------------------------------------------

# Kept after the run, for a person to look at: the pages at a phone's and a desktop's width.
SCREENSHOT_DIR = Path(os.environ.get("BROWSER_SCREENSHOTS", "/tmp/browser-screenshots"))
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1440, "height": 900}}


def screenshots(page: Page, name: str) -> list[Path]:
    """The page at both sizes (full length), saved as <name>-phone.png and <name>-desktop.png."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    saved = []
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        path = SCREENSHOT_DIR / f"{name}-{size}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    return saved


# --- failure reports -------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    reported: set[int] = set()
    for value in getattr(item, "funcargs", {}).values():
        if id(value) in reported:
            continue
        reported.add(id(value))
        if isinstance(value, ChatServer):
            report.sections.append((f"{value.name} server log (tail)", value.log_tail()))
        elif isinstance(value, Browsing) and value.console:
            report.sections.append(("browser console", "\n".join(value.console[-60:])))
