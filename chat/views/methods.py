"""Which methods a browser page answers, and what it says to the others.

Django's ``require_http_methods`` answers a wrong method with an empty 405, which a
browser shows as its own error ("This page isn't working"). Here the refusal is the
site's page (templates/405.html). A form's URL that only takes a POST (a failed form's
page stays in the address bar and the history) sends a GET back to the page the form
lives on, once the view's own access check has passed (``form_page``)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

View = Callable[..., HttpResponse]


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> HttpResponse:
    response = render(request, "405.html", {"method": request.method}, status=405)
    response["Allow"] = ", ".join(allowed)
    return response


def require_http_methods(allowed: list[str]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in allowed:
                return method_not_allowed(request, allowed)
            return view(request, *args, **kwargs)

        return checked

    return decorator


require_GET = require_http_methods(["GET"])
require_POST = require_http_methods(["POST"])


def posted_from(form_page: Callable[..., str]) -> Callable[[View], View]:
    """A POST-only form URL: a GET from a signed-in user goes to ``form_page(request,
    **url_kwargs)``, the URL of the page the form lives on, which checks access as the view
    does (a thread not theirs is a 404 either way, and so reveals nothing). A GET from a
    visitor not signed in goes to the log-in page, back to this URL after it, as every
    other page a user must be signed in for does. Any other method: the 405 page."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                return view(request, *args, **kwargs)
            if request.method == "GET" and request.user.is_authenticated:
                return redirect(form_page(request, *args, **kwargs))
            if request.method == "GET":
                return redirect_to_login(request.get_full_path())
            return method_not_allowed(request, ["POST"])

        return checked

    return decorator
