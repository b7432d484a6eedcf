from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from chat import live
from chat.access import get_run_for_user, get_thread_for_reader, get_thread_for_user, thread_classroom
from chat.classes.quotas import quota_exceeded
from chat.classes.services import start_thread_with
from chat.demo import ensure_starter_assistant
from chat.engine.runs import ThreadBusy, cancel_run, post_message
from chat.forms import MessageForm, NewThreadForm, ThreadTitleForm
from chat.models import Message, Thread
from chat.retrieval.uploads import check_uploads, start_run
from chat.user_input import whole_number


@require_GET
@login_required
def thread_list(request: HttpRequest) -> HttpResponse:
    ensure_starter_assistant(request.user)
    threads = Thread.objects.filter(owner=request.user).select_related("assistant")
    return render(
        request, "chat/thread_list.html", {"threads": threads, "new_form": NewThreadForm(user=request.user)}
    )


@require_POST
@login_required
def thread_create(request: HttpRequest) -> HttpResponse:
    form = NewThreadForm(request.POST, user=request.user)
    if not form.is_valid():
        return redirect("chat:threads")
    thread = start_thread_with(request.user, form.cleaned_data["assistant"])
    return redirect("chat:thread", thread_id=thread.id)


def _page_of_messages(thread: Thread, before: int | None) -> tuple[list[Message], int | None]:
    """The newest page of messages (older than ``before``), oldest first, and the next cursor."""
    rows = thread.messages.select_related("assistant").order_by("-seq")
    if before is not None:
        rows = rows.filter(seq__lt=before)
    page = list(rows[: settings.MESSAGES_PER_PAGE + 1])
    older = page[-2].seq if len(page) > settings.MESSAGES_PER_PAGE else None
    return page[: settings.MESSAGES_PER_PAGE][::-1], older


def _thread_context(thread: Thread, form: MessageForm, before: int | None = None, *, read_only: bool = False) -> dict:
    messages, older = _page_of_messages(thread, before)
    return {
        "thread": thread,
        "read_only": read_only,  # a tutor reviewing a student's class conversation
        "classroom": thread_classroom(thread),
        "message_items": [live.message_context(m) for m in messages],
        "older": older,
        "run": live.latest_run(thread),
        "form": form,
    }


@require_GET
@login_required
def thread_detail(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread, can_write = get_thread_for_reader(request.user, thread_id)
    form = MessageForm(user=request.user, thread=thread)
    context = _thread_context(thread, form, whole_number(request.GET.get("before", "")), read_only=not can_write)
    if request.htmx and "before" in request.GET:
        return render(request, "chat/thread.html#older_messages", context)
    return render(request, "chat/thread.html", context)


@require_POST
@login_required
def message_create(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = get_thread_for_user(request.user, thread_id)
    form = MessageForm(request.POST, user=request.user, thread=thread)
    uploads = request.FILES.getlist("files")
    upload_errors = check_uploads(uploads)
    for problem in upload_errors if form.is_valid() else []:
        form.add_error(None, problem)
    if form.is_valid() and (over := quota_exceeded(thread)):
        form.add_error(None, over)  # the form re-renders with the draft in it
    if form.is_valid():
        try:
            with transaction.atomic():
                message, run = post_message(
                    thread, form.cleaned_data["text"], form.cleaned_data["assistant"], start=False
                )
                start_run(message, run, uploads)  # attachments (file_search), then the run
        except ThreadBusy as busy:
            form.add_error(None, str(busy))
        else:
            if not request.htmx:
                return redirect("chat:thread", thread_id=thread.id)
            form = MessageForm(user=request.user, thread=thread)
            composer = render(request, "chat/thread.html#composer", {"thread": thread, "form": form})
            composer.write(live.render_new_message(message))
            composer.write(live.render_run_panel(thread))
            composer.write(render_to_string("chat/thread.html#thread_title", {"thread": thread, "oob": True}))
            return composer
    status = 200 if request.htmx else 400  # htmx swaps only 2xx: the form errors must show
    if request.htmx:
        return render(request, "chat/thread.html#composer", {"thread": thread, "form": form}, status=status)
    return render(request, "chat/thread.html", _thread_context(thread, form), status=status)


@require_POST
@login_required
def run_cancel(request: HttpRequest, thread_id: str, run_id: str) -> HttpResponse:
    run = get_run_for_user(request.user, thread_id, run_id)
    cancel_run(run)
    if request.htmx:
        return HttpResponse(live.render_run_panel(run.thread))
    return redirect("chat:thread", thread_id=thread_id)


@require_POST
@login_required
def thread_rename(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = get_thread_for_user(request.user, thread_id)
    form = ThreadTitleForm(request.POST, instance=thread)
    if form.is_valid():
        form.save()
    return redirect("chat:thread", thread_id=thread.id)


@require_POST
@login_required
def thread_delete(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = get_thread_for_user(request.user, thread_id)
    active = thread.active_run()
    if active is not None:
        cancel_run(active)
    thread.delete()
    if request.htmx:
        return HttpResponseClientRedirect("/threads/")
    return redirect("chat:threads")
