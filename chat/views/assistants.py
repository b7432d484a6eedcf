from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chat.access import get_assistant_for_user
from chat.forms import AssistantForm
from chat.models import Assistant, Run
from chat.services.assistants import delete_assistant, save_assistant
from chat.views.methods import require_GET, require_http_methods


@require_GET
@login_required
def assistant_list(request: HttpRequest) -> HttpResponse:
    assistants = Assistant.objects.filter(owner=request.user)
    return render(request, "chat/assistant_list.html", {"assistants": assistants})


@require_http_methods(["GET", "POST"])
@login_required
def assistant_create(request: HttpRequest) -> HttpResponse:
    form = AssistantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.owner = request.user
        save_assistant(form.save(commit=False))
        messages.success(request, f"Created the assistant “{form.instance.name}”. Next, give it files or functions if it needs them.")
        # Its own page, where its files and functions are added: the next step of setting it up.
        return redirect("chat:assistant_edit", assistant_id=form.instance.id)
    return render(request, "chat/assistant_form.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def assistant_edit(request: HttpRequest, assistant_id: str) -> HttpResponse:
    assistant = get_assistant_for_user(request.user, assistant_id)
    form = AssistantForm(request.POST or None, instance=assistant)
    if request.method == "POST" and form.is_valid():
        save_assistant(form.save(commit=False))
        messages.success(request, f"Saved the assistant “{assistant.name}”.")
        return redirect("chat:assistants")
    context = {"form": form, "assistant": assistant}
    return render(request, "chat/assistant_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def assistant_delete(request: HttpRequest, assistant_id: str) -> HttpResponse:
    """GET asks for confirmation, saying which conversations become read-only; POST deletes."""
    assistant = get_assistant_for_user(request.user, assistant_id)
    if request.method == "GET":
        conversations = Run.objects.filter(assistant=assistant).values("thread").distinct().count()
        return render(request, "chat/assistant_delete.html", {"assistant": assistant, "conversations": conversations})
    name = assistant.name
    delete_assistant(assistant)
    messages.success(request, f"Deleted the assistant “{name}”. Its conversations are kept, read-only.")
    return redirect("chat:assistants")
