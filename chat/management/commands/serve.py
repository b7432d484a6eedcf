"""Serve the app with Daphne and start the run engine as soon as it listens."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets (Daphne), recovering runs left behind by a previous process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        from daphne.access import AccessLogGenerator
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server, twisted_loop

        from chat.engine.supervisor import start_engine
        from project.asgi import application

        endpoints = build_endpoint_description_strings(host=host, port=port)
        self.stdout.write(f"Serving on http://{host}:{port}/ (Ctrl+C to stop)")
        Server(
            application=application,
            endpoints=endpoints,
            action_logger=AccessLogGenerator(sys.stdout) if settings.DEBUG else None,
            ready_callable=lambda: twisted_loop.call_soon(start_engine, twisted_loop),
            **proxy_headers(),
        ).run()


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
