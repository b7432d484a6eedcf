from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from chat.demo import ensure_starter_assistant
from chat.forms import SignupForm
from chat.views.methods import require_http_methods


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("chat:threads")
    form = SignupForm(request.POST or None)
    # Where the new account goes next, as after logging in (a class's invite link, say).
    after = request.POST.get("next", request.GET.get("next", ""))
    if not url_has_allowed_host_and_scheme(after, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        after = ""
    if request.method == "POST" and form.is_valid():
        user = form.save()
        ensure_starter_assistant(user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(after or "chat:threads")
    return render(request, "registration/signup.html", {"form": form, "next": after}, status=400 if form.errors else 200)


def lockout_message() -> str:
    minutes = settings.LOGIN_COOLOFF_MINUTES
    return (
        f"Too many failed attempts to log in. Please try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


def locked_out(request: HttpRequest, *args) -> HttpResponse:
    """django-axes' lock-out response (AXES_LOCKOUT_CALLABLE): the log-in page the user
    tried — ours or the admin's — again, with the reason as the form's error, status 429.

    axes calls this with ``(request, original_response, credentials)`` from sync code but
    ``(request, credentials)`` from async code, so the username is read from the request.
    """
    username = request.POST.get("username", "")
    if request.path == reverse("admin:login"):
        form = AdminAuthenticationForm(request, initial={"username": username})
        template = "admin/login.html"
        context = {**admin.site.each_context(request), "title": "Log in", "app_path": request.get_full_path()}
    else:
        form = AuthenticationForm(request, initial={"username": username})
        template = "registration/login.html"
        context = {"next": request.POST.get("next", "")}
    form.cleaned_data = {}  # an unbound form is never cleaned (that would authenticate again); add_error needs it
    form.add_error(None, lockout_message())
    return render(request, template, {**context, "form": form}, status=429)
