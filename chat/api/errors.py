"""Errors in the hosted API's shape: {"error": {"message", "type", "param", "code"}}.

The official SDK retries every 408, 409, 429 and 5xx answer (twice by default) unless the
response says ``x-should-retry: false``. Retrying is right only when waiting can change
the answer: a rate limit (429) and "the server is busy" (503), both with Retry-After; they
are made with ``retry=True``. Every other error says ``x-should-retry: false``: retrying a
refusal or a bug only repeats it (or, for a rule that a moment later no longer holds, does
silently what the caller was told could not be done)."""

from __future__ import annotations

from django.http import JsonResponse


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        retry: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retry = retry
        self.headers: dict[str, str] = {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status)
        if not self.retry:
            response["x-should-retry"] = "false"
        for name, value in self.headers.items():
            response[name] = value
        return response


def invalid(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def out_of_range(param: str, got, bound, *, above: bool, decimal: bool) -> ApiError:
    """A number beyond a bound, worded and coded as the hosted API did: by the field's kind
    (an integer field, or a decimal one whatever the number sent: temperature=5 is a
    decimal above its maximum) and the side it is out on."""
    kind = "decimal" if decimal else "integer"
    side = "above maximum" if above else "below minimum"
    sign = "<=" if above else ">="
    code = f"{kind}_{'above_max' if above else 'below_min'}_value"
    return invalid(
        f"Invalid '{param}': {kind} {side} value. Expected a value {sign} {_number(bound)}, but got {_number(got)} instead.",
        param=param,
        code=code,
    )


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 else str(value)


def not_found(message: str) -> ApiError:
    return ApiError(404, message, code=None)
