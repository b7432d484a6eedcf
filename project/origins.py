"""The WebSocket origin check: a socket is accepted only from the site's own pages.

Browsers send a thread socket the user's session cookie whatever page opened it, so the
Origin header is the only thing telling our page from another site's (cross-site WebSocket
hijacking). Accepted: the origin the socket was opened on — exactly the same scheme
(``ws`` ↔ ``http``, ``wss`` ↔ ``https``), host and port as the request's Host header, that
host being one of ALLOWED_HOSTS — and the origins in CSRF_TRUSTED_ORIGINS, read the way
Django's CSRF check reads them. No Origin, ``null``, or several Origin headers: refused
(every browser sends exactly one; a client that does not is not a browser page of ours).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host
from django.middleware.csrf import CsrfViewMiddleware

logger = logging.getLogger("chat.security")

DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port; None unless it is
    a plain http(s) origin (no path, credentials, query or fragment)."""
    _, separator, netloc = value.strip().partition("://")
    if not separator or any(char in netloc for char in "/?#@\\ "):
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, DEFAULT_PORTS[parts.scheme]) else "")


def header(scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope.get("headers", []) if key == name]


def is_secure(scope) -> bool:
    if scope.get("scheme") == "wss":
        return True
    # Behind a TLS-terminating proxy, as Django's request.is_secure() does for HTTP.
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        wanted = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        values = header(scope, wanted)
        return bool(values) and values[0].split(",")[0].strip() == secure_value
    return False


def own_origin(scope) -> str | None:
    """The origin of the page that may open this socket: the Host it was opened on."""
    hosts = header(scope, b"host")
    if len(hosts) != 1:
        return None
    domain, _ = split_domain_port(hosts[0])
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return canonical_origin(f"{'https' if is_secure(scope) else 'http'}://{hosts[0]}")


def is_trusted(origin: str) -> bool:
    """CSRF_TRUSTED_ORIGINS, exact or ``https://*.example.com``, as Django's CSRF check reads them."""
    csrf = CsrfViewMiddleware(get_response=lambda request: None)  # its reading of the setting, not ours
    if origin in csrf.allowed_origins_exact:
        return True
    parts = urlsplit(origin)
    return any(is_same_domain(parts.netloc, host) for host in csrf.allowed_origin_subdomains.get(parts.scheme, ()))


def origin_allowed(scope) -> bool:
    origins = header(scope, b"origin")
    if len(origins) != 1:
        return False
    origin = canonical_origin(origins[0])
    if origin is None:  # "null" (sandboxed frames, file: pages), garbage
        return False
    return origin == own_origin(scope) or is_trusted(origin)


class SameOriginValidator:
    """ASGI middleware for WebSockets: refuses the handshake (HTTP 403) unless the Origin
    is the site's own (see the module docstring)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator only guards WebSocket connections.")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        logger.warning(
            "Refused a WebSocket to %s from origin %r (host %r).",
            scope.get("path"),
            header(scope, b"origin"),
            header(scope, b"host"),
        )
        return await WebsocketDenier()(scope, receive, send)
