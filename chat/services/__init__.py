"""The domain's actions, one function each, called by every surface: the browser views,
the /v1 API views and the management commands. A surface parses its input, checks who
may act (``chat.access``), calls one of these, and renders what it returns or the
``Refused`` it raises (a form error in the browser, the API's error body on /v1, a
``CommandError`` in manage.py), so a rule is written once and holds on every surface.

Layers: models <- engine <- tools/providers <- services <- views/API/commands. Starting,
cancelling and resuming runs are ``chat.engine.runs`` (the engine's own operations, which
services build on); lifecycle rules (a run's legal moves, closing its open steps, marking
its messages incomplete) are methods of the models.
"""

from __future__ import annotations


class Refused(Exception):
    """An action the rules refuse, with a message for the person who asked. ``code`` is
    the API's error code and ``status`` its HTTP status; ``param`` names the input."""

    status = 400
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
