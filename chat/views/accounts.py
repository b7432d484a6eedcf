from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from chat.demo import ensure_starter_assistant
from chat.forms import SignupForm


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("chat:threads")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        ensure_starter_assistant(user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("chat:threads")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)
