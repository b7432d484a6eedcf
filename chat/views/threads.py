from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_htmx.http import HttpResponseClientRedirect, replace_url

from chat import conversations, live
from chat.access import (
    get_run_for_user,
    get_thread_for_reader,
    get_thread_for_user,
    in_no_class,
    is_student_of,
    thread_classroom,
)
from chat.classes.quotas import quota_exceeded
from chat.classes.services import ClassError, start_thread_with
from chat.engine.runs import ThreadBusy, cancel_run
from chat.forms import MessageForm, NewThreadForm, ThreadTitleForm
from chat.models import Message, Thread
from chat.services.files import upload_problems
from chat.services.messages import (
    NothingToRedo,
    composer_tools,
    edit_last_question,
    post_message,
    regenerate_last_answer,
)
from chat.services.threads import delete_thread, rename_thread
from chat.user_input import whole_number
from chat.views.methods import posted_from, require_GET, require_http_methods, require_POST


def _sidebar_context(request: HttpRequest, current: Thread | None = None) -> dict:
    query = request.GET.get("q", "").strip()
    threads = conversations.listed_threads(request.user, query)
    # Where a rename from the list comes back to without JavaScript: the page showing the list.
    back = (request.htmx.current_url_abs_path if request.htmx else None) or request.get_full_path()
    return {"groups": conversations.grouped_by_date(threads), "query": query, "current": current, "back": back}


@require_GET
@never_cache  # its list changes live: Back must not show an old copy from the browser's cache
@login_required
def thread_list(request: HttpRequest) -> HttpResponse:
    """The conversations, grouped by date; with ``q``, those matching it (the search box
    asks through htmx for the list alone). Writes nothing: an account with no assistant to
    talk to (its Math Tutor comes at sign-up) is offered to create one."""
    context = _sidebar_context(request)
    if request.htmx and request.htmx.target == "conversation-list":
        return render(request, "chat/conversations.html#conversation_list", context)
    context.update(new_form=NewThreadForm(user=request.user), in_no_class=in_no_class(request.user))
    return render(request, "chat/thread_list.html", context)


def _thread_page(request: HttpRequest, thread_id: str) -> str:
    """Where the thread's forms live (posted_from): its page, when it is the user's."""
    return reverse("chat:thread", args=[get_thread_for_user(request.user, thread_id).id])


@posted_from(lambda request: reverse("chat:threads"))
@login_required
def thread_create(request: HttpRequest) -> HttpResponse:
    form = NewThreadForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("assistant", ["Choose an assistant."])))
        return redirect("chat:threads")
    try:
        thread = start_thread_with(request.user, *form.cleaned_data["assistant"])
    except ClassError as problem:  # unpublished since the page was shown
        messages.error(request, str(problem))
        return redirect("chat:threads")
    return redirect("chat:thread", thread_id=thread.id)


def _page_of_messages(thread: Thread, before: int | None) -> tuple[list[Message], int | None]:
    """The newest page of messages (older than ``before``), oldest first, and the next cursor."""
    rows = thread.messages.select_related("assistant").order_by("-seq")
    if before is not None:
        rows = rows.filter(seq__lt=before)
    page = list(rows[: settings.MESSAGES_PER_PAGE + 1])
    older = page[-2].seq if len(page) > settings.MESSAGES_PER_PAGE else None
    return page[: settings.MESSAGES_PER_PAGE][::-1], older


def _thread_context(
    request: HttpRequest, thread: Thread, form: MessageForm, before: int | None = None, *, read_only: bool = False
) -> dict:
    messages, older = _page_of_messages(thread, before)
    run = live.latest_run(thread)
    classroom = thread_classroom(thread)
    return {
        **_sidebar_context(request, thread),
        "thread": thread,
        "read_only": read_only,  # a tutor reviewing a student's class conversation
        "classroom": classroom,
        # A composer offering the class's assistants proves its student is still in it (no query).
        "left_class": classroom is not None
        and not read_only
        and not form.fields["assistant"].offered
        and not is_student_of(request.user, classroom),
        "message_items": live.message_contexts(messages, run.id if run else None),
        "older": older,
        # The socket pushes user messages newer than the page's (posted from another tab).
        "shown_through": messages[-1].seq if messages else 0,
        "run": run,
        "run_steps": list(run.steps.all()) if run else [],  # prefetched with the run
        "form": form,
    }


@require_GET
@never_cache  # followed live over the socket: Back and Forward must fetch it anew, not restore a stale copy
@login_required
def thread_detail(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread, can_write = get_thread_for_reader(request.user, thread_id)
    # ?edit: the composer holds the last message of the user's, to change and send again.
    editing = can_write and "edit" in request.GET and not thread.last_answer_is_record()
    last_question = thread.messages.filter(role=Message.USER).order_by("-seq").first() if editing else None
    initial = {"text": last_question.text} if last_question else None
    form = MessageForm(user=request.user, thread=thread, initial=initial)
    context = _thread_context(
        request, thread, form, whole_number(request.GET.get("before", "")), read_only=not can_write
    )
    context["editing"] = last_question  # the message the editor replaces
    if request.htmx and "before" in request.GET:
        return render(request, "chat/thread.html#older_messages", context)
    return render(request, "chat/thread.html", context)


@posted_from(_thread_page)
@login_required
def message_create(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = get_thread_for_user(request.user, thread_id)
    form = MessageForm(request.POST, user=request.user, thread=thread)
    uploads = request.FILES.getlist("files")
    if form.is_valid():
        for problem in upload_problems(uploads, tools=composer_tools(form.cleaned_data["assistant"])):
            form.add_error(None, str(problem))
    if form.is_valid() and (over := quota_exceeded(thread)):
        form.add_error(None, over)  # the form re-renders with the draft in it
    if form.is_valid():
        try:
            message, run = post_message(
                thread, form.cleaned_data["text"], form.cleaned_data["assistant"], uploads=uploads
            )
        except ThreadBusy as busy:
            form.add_error(None, str(busy))
        else:
            if not request.htmx:
                return redirect("chat:thread", thread_id=thread.id)
            form = MessageForm(user=request.user, thread=thread, offered=form.fields["assistant"].offered)
            composer = render(request, "chat/thread.html#composer", {"thread": thread, "form": form, "run": run})
            composer.write(live.render_new_message(message))
            composer.write(live.render_run_panel(thread, run))
            composer.write(live.render_thread_title(thread))
            if thread.owner_id == request.user.id:  # listed now, or moved: on top of this page's sidebar
                back = request.htmx.current_url_abs_path or reverse("chat:thread", args=[thread.id])
                composer.write(live.render_newly_listed(thread, current=thread, back=back))
            return composer
    status = 200 if request.htmx else 400  # htmx swaps only 2xx: the form errors must show
    if request.htmx:
        context = {"thread": thread, "form": form, "run": live.latest_run(thread), "classroom": thread_classroom(thread)}
        return render(request, "chat/thread.html#composer", context, status=status)
    return render(request, "chat/thread.html", _thread_context(request, thread, form), status=status)


def _reload_thread(request: HttpRequest, thread: Thread) -> HttpResponse:
    """The thread page again, to show a notice."""
    url = reverse("chat:thread", args=[thread.id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _after_redo(
    request: HttpRequest, thread: Thread, removed: list[str], message: Message | None = None, *, renamed: bool = False
) -> HttpResponse:
    """The page without the removed messages, with the new question (if any), a fresh
    composer and the run panel; the answer streams in over the socket. Without htmx: the page."""
    if not request.htmx:
        return redirect("chat:thread", thread_id=thread.id)
    if message is None:  # asked from a button that swaps nothing itself: out-of-band parts only
        response = HttpResponse()
    else:
        form = MessageForm(user=request.user, thread=thread)
        response = render(
            request, "chat/thread.html#composer", {"thread": thread, "form": form, "run": live.latest_run(thread)}
        )
    response.write(live.render_removed(removed))
    if message is not None:
        response.write(live.render_new_message(message))
    if renamed:  # by an edited first question: the heading and the sidebar's entry
        response.write(live.render_thread_title(thread))
        response.write(live.render_conversation_entry(thread, request.htmx.current_url_abs_path))
    response.write(live.render_run_panel(thread))
    return response


@posted_from(_thread_page)
@login_required
def answer_again(request: HttpRequest, thread_id: str) -> HttpResponse:
    """Regenerate the last answer."""
    thread = get_thread_for_user(request.user, thread_id)
    # The composer's form checks the assistant (the user's own, the thread not read-only);
    # its text is not used here, so any non-empty stand-in will do.
    form = MessageForm({"text": "-", "assistant": request.POST.get("assistant")}, user=request.user, thread=thread)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "Choose one of your assistants.")
        return _reload_thread(request, thread)
    if over := quota_exceeded(thread):  # asking again is a run like any other
        messages.error(request, over)
        return _reload_thread(request, thread)
    try:
        _run, removed = regenerate_last_answer(thread, form.cleaned_data["assistant"])
    except (ThreadBusy, NothingToRedo) as problem:
        messages.error(request, str(problem))
        return _reload_thread(request, thread)
    return _after_redo(request, thread, removed)


@posted_from(lambda request, thread_id: _thread_page(request, thread_id) + "?edit")
@login_required
def message_edit(request: HttpRequest, thread_id: str) -> HttpResponse:
    """Replace the user's last message with the edited text and answer it anew."""
    thread = get_thread_for_user(request.user, thread_id)
    form = MessageForm(request.POST, user=request.user, thread=thread)
    if form.is_valid() and (over := quota_exceeded(thread)):
        form.add_error(None, over)
    if form.is_valid():
        try:
            title = thread.title
            replaces = request.POST.get("replaces", "")
            message, _run, removed = edit_last_question(
                thread, form.cleaned_data["text"], form.cleaned_data["assistant"], replaces=replaces
            )
        except (ThreadBusy, NothingToRedo) as problem:
            form.add_error(None, str(problem))
        else:
            # The page was opened as ?edit: without this a reload would open the editor again.
            redone = _after_redo(request, thread, removed, message, renamed=thread.title != title)
            return replace_url(redone, reverse("chat:thread", args=[thread.id]))
    # Still editing, now the latest question (a resend replaces it, knowingly).
    latest = thread.messages.filter(role=Message.USER).order_by("-seq").first()
    context = {**_thread_context(request, thread, form), "editing": latest or True}
    if request.htmx:
        return render(request, "chat/thread.html#composer", context)  # htmx swaps only 2xx
    return render(request, "chat/thread.html", context, status=400)


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
    """Rename from the conversation's menu or the sidebar. Through htmx: the sidebar's entry
    anew, a notice, and the page's title when it is this conversation's page. Otherwise the
    page it was asked from (``next``, this site only) with the notice."""
    thread = get_thread_for_user(request.user, thread_id)
    form = ThreadTitleForm(request.POST, instance=thread)
    if form.is_valid():
        rename_thread(thread, form.cleaned_data["title"])
        notice, level = f"Renamed the conversation to “{thread.display_title}”.", messages.SUCCESS
    else:
        thread.refresh_from_db()
        notice, level = "The title was not changed: " + " ".join(form.errors.get("title", [])), messages.ERROR
    if request.htmx:
        here = reverse("chat:thread", args=[thread.id])
        on_its_page = (
            request.htmx.current_url_abs_path is not None and request.htmx.current_url_abs_path.split("?")[0] == here
        )
        context = {
            "item": thread,
            "current": thread if on_its_page else None,
            "renamed": True,
            "back": request.htmx.current_url_abs_path,
        }
        response = render(request, "chat/conversations.html#conversation_item", context)
        response.write(render_to_string("base.html#notice", {"notice": notice, "oob": True}))
        if on_its_page:
            response.write(live.render_thread_title(thread))
        return response
    messages.add_message(request, level, notice)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("chat:thread", thread_id=thread.id)


@require_http_methods(["GET", "POST"])
@login_required
def thread_delete(request: HttpRequest, thread_id: str) -> HttpResponse:
    """GET asks for confirmation (a page that works without JavaScript); POST deletes."""
    thread = get_thread_for_user(request.user, thread_id)
    if request.method == "GET":
        context = {
            "thread": thread,
            "count": thread.messages.count(),
            "classroom": thread_classroom(thread),
            "quizzes": thread.quiz_attempts.count(),
        }
        return render(request, "chat/thread_delete.html", context)
    title = thread.display_title
    delete_thread(thread)
    messages.success(request, f"Deleted the conversation “{title}”.")
    if request.htmx:
        return HttpResponseClientRedirect("/threads/")
    return redirect("chat:threads")
