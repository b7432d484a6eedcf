"""The serve command's Daphne leaves request bodies to the app: Twisted parsed every POST's
Content-Type with the ``email`` package and its form body into ``args``, unread by Daphne."""

from __future__ import annotations

from daphne.http_protocol import HTTPFactory, WebRequest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web import http

from chat.management.commands.serve import GracefulServer

FORM = b"name=ada&role=teacher"


def _received(monkeypatch, body: bytes, content_type: bytes) -> list[tuple[bytes, dict]]:
    """Feed one raw POST to the protocol the server's factory builds; what reached Daphne."""
    parsed: list[bytes] = []
    parse = http._parseContentType
    monkeypatch.setattr(http, "_parseContentType", lambda line: parsed.append(line) or parse(line))
    got: list[tuple[bytes, dict]] = []
    monkeypatch.setattr(WebRequest, "process", lambda request: got.append((request.content.read(), dict(request.args))))
    server = GracefulServer(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])
    server.connections = {}
    server.http_factory = HTTPFactory(server)  # as Daphne's run() makes it
    protocol = server.http_factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1234))
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(
        b"POST /v1/threads HTTP/1.1\r\nHost: localhost\r\nContent-Type: " + content_type
        + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    return got, parsed


def test_a_form_post_reaches_daphne_as_sent_without_twisted_parsing_it(monkeypatch):
    got, parsed = _received(monkeypatch, FORM, b"application/x-www-form-urlencoded; charset=utf-8")
    assert got == [(FORM, {})]  # the body as sent; Twisted's args were {b"name": [b"ada"], ...}
    assert parsed == []


def test_a_json_post_reaches_daphne_as_sent(monkeypatch):
    got, parsed = _received(monkeypatch, b'{"role": "user"}', b"application/json")
    assert got == [(b'{"role": "user"}', {})]
    assert parsed == []
