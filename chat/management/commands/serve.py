"""Serve the app with Daphne and start the run engine as soon as it listens.

SIGTERM and SIGINT stop it gracefully (``chat.shutdown``): it stops listening, ends its
runs and streams with their final events, then exits. A second signal exits at once.
"""

import asyncio
import logging
import signal
import sys

from daphne.access import AccessLogGenerator
from daphne.endpoints import build_endpoint_description_strings
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server, twisted_loop
from django.conf import settings
from django.core.management.base import BaseCommand

from chat.engine.supervisor import start_engine
from chat.shutdown import shut_down
from project.event_loop import loop_name

logger = logging.getLogger("chat.engine")


class BodyAsIsRequest(WebRequest):
    """Daphne's request without Twisted's form parsing. Twisted parses every POST's
    Content-Type with the ``email`` package and then an urlencoded or multipart body into
    ``request.args``, which Daphne never reads: it hands the raw body to the app, and
    Django parses it again (1 to 2 % of the server's CPU at 200 streaming runs at once,
    docs/benchmarks.md, eleventh pass)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)


class BodyAsIsHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BodyAsIsRequest
        return protocol


class GracefulServer(Server):
    """Daphne, keeping its listening ports so that a graceful stop can close them first,
    with requests whose bodies Twisted leaves unparsed (``BodyAsIsRequest``)."""

    @property
    def http_factory(self) -> HTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        # Daphne's run() makes its factory with no seam to choose the class: ours instead.
        self._http_factory = BodyAsIsHTTPFactory(factory.server)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, signal_handlers=False, **kwargs)
        self.ports: list = []
        self.stopping = False

    def listen_success(self, port) -> None:
        self.ports.append(port)
        super().listen_success(port)

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            twisted_loop.add_signal_handler(signum, self.on_signal, signum)

    def on_signal(self, signum: int) -> None:
        if self.stopping:  # asked twice: do not wait any longer
            self.stop()
            return
        self.stopping = True
        logger.warning("%s: stopping (runs end now, streams get their final event)", signal.Signals(signum).name)
        for port in self.ports:
            port.stopListening()
        task = twisted_loop.create_task(shut_down(settings.SHUTDOWN_TIMEOUT), name="graceful shutdown")
        task.add_done_callback(self._shut_down)

    def _shut_down(self, task) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("graceful shutdown failed", exc_info=task.exception())
        self.stop()


LISTEN_BACKLOG = 1024
# Seconds from a socket's TCP connect until the consumer accepts it. Daphne's Server
# default is 5 (its `daphne` command uses its connect timeout, 20): 250 pages of a class
# opening at once on one web process of the 2-core cluster had the later ones dropped
# without an answer while the consumer still checked who they were.
WEBSOCKET_HANDSHAKE_TIMEOUT = 20


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets (Daphne), recovering runs left behind by a previous process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        from project.asgi import application

        # Twisted listens with a backlog of 50: a class opening its pages at once (200
        # connections in a burst) had handshakes reset before Daphne could accept them.
        endpoints = [f"{e}:backlog={LISTEN_BACKLOG}" for e in build_endpoint_description_strings(host=host, port=port)]
        self.stdout.write(f"Serving on http://{host}:{port}/ (Ctrl+C to stop)")
        server = GracefulServer(
            application=application,
            endpoints=endpoints,
            action_logger=AccessLogGenerator(sys.stdout) if settings.DEBUG else None,
            websocket_handshake_timeout=WEBSOCKET_HANDSHAKE_TIMEOUT,
            ready_callable=lambda: twisted_loop.call_soon(self.ready, server),
            **proxy_headers(),
        )
        server.run()

    def ready(self, server: GracefulServer) -> None:
        start_engine(twisted_loop)
        server.install_signal_handlers()
        # The loop Twisted's reactor really runs on (manage.py chose its kind: project/event_loop.py).
        self.stdout.write(f"Listening, event loop {loop_name(asyncio.get_running_loop())}")


def proxy_headers() -> dict:
    """Behind a reverse proxy (PROXY_HEADERS), the client's address and scheme come from the
    proxy's X-Forwarded-* headers; otherwise every user would share the proxy's address,
    and one address's failed log-ins would lock everyone out."""
    if not settings.PROXY_HEADERS:
        return {}
    return {
        "proxy_forwarded_address_header": "X-Forwarded-For",
        "proxy_forwarded_port_header": "X-Forwarded-Port",
        "proxy_forwarded_proto_header": "X-Forwarded-Proto",
    }
