"""Class pages. Every class is fetched through chat.access: a non-member gets a 404,
and a student gets a 404 for anything only a tutor may do."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from chat.access import class_assistants, get_classroom_for_member, get_classroom_for_tutor
from chat.classes import gradebook, progress, quotas, services
from chat.classes.forms import (
    AddTutorForm,
    AssistantChoiceForm,
    ClassroomForm,
    JoinForm,
    LimitsForm,
    OverrideForm,
    PublishForm,
)
from chat.classes.models import Classroom, Membership, normalize_join_code
from chat.models import Assistant, Thread
from chat.views.methods import posted_from, require_GET, require_http_methods, require_POST

Role = Membership.Role


def _list_context(user, **forms) -> dict:
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("classroom")
        .order_by("classroom__archived", "classroom__name")
    )
    return {
        "teaching": [m.classroom for m in memberships if m.role == Role.TUTOR],
        "learning": [m.classroom for m in memberships if m.role == Role.STUDENT],
        "create_form": forms.get("create_form") or ClassroomForm(),
        "join_form": forms.get("join_form") or JoinForm(),
    }


@require_GET
@login_required
def class_list(request: HttpRequest) -> HttpResponse:
    return render(request, "classes/class_list.html", _list_context(request.user))


def _class_page(request: HttpRequest, classroom_id: int) -> str:
    """Where a member's forms of the class live (posted_from): its page."""
    return reverse("classes:detail", args=[get_classroom_for_member(request.user, classroom_id)[0].pk])


def _class_page_for_tutor(request: HttpRequest, classroom_id: int) -> str:
    """Where a tutor's forms of the class live: its page, for its tutors."""
    return reverse("classes:detail", args=[get_classroom_for_tutor(request.user, classroom_id).pk])


@posted_from(lambda request: reverse("classes:list") + "#create")
@login_required
def class_create(request: HttpRequest) -> HttpResponse:
    form = ClassroomForm(request.POST)
    if not form.is_valid():
        return render(request, "classes/class_list.html", _list_context(request.user, create_form=form), status=400)
    classroom = services.create_classroom(request.user, **form.cleaned_data)
    return redirect("classes:detail", classroom_id=classroom.pk)


@require_http_methods(["GET", "POST"])
@login_required
def class_join(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        # The address a failed join leaves in the bar: opened again, it is the join form.
        return redirect(reverse("classes:list") + "#join")
    form = JoinForm(request.POST)
    if form.is_valid():
        try:
            classroom, joined = services.join_by_code(request.user, form.cleaned_data["code"])
        except services.ClassError as problem:
            form.add_error("code", str(problem))
        else:
            if joined:
                messages.success(request, f"You joined {classroom.name}.")
            return redirect("classes:detail", classroom_id=classroom.pk)
    return render(request, "classes/class_list.html", _list_context(request.user, join_form=form), status=400)


@require_http_methods(["GET", "POST"])
def join_link(request: HttpRequest, code: str) -> HttpResponse:
    """An invite link shows the class and a Join button: a link opened by accident, or
    embedded in someone else's page, enrols nobody. Logged out, it names the class and
    offers to log in or sign up first (and come back here): a new student sees where the
    link leads."""
    if not request.user.is_authenticated and request.method != "GET":
        return redirect_to_login(request.get_full_path())
    classroom = Classroom.objects.filter(join_code=normalize_join_code(code), archived=False).first()
    if classroom is None:
        return render(request, "classes/join.html", {"classroom": None, "code": code}, status=404)
    if not request.user.is_authenticated:
        # Either way back here (the sign-up page keeps ``next`` as the log-in page does, checked against the host).
        back = urlencode({"next": request.path})
        context = {"login_url": f"{reverse('login')}?{back}", "signup_url": f"{reverse('chat:signup')}?{back}"}
        return render(request, "classes/join.html", {"classroom": classroom, "code": code, **context})
    if classroom.memberships.filter(user=request.user).exists():
        return redirect("classes:detail", classroom_id=classroom.pk)
    if request.method == "POST":
        services.join_by_code(request.user, classroom.join_code)
        messages.success(request, f"You joined {classroom.name}.")
        return redirect("classes:detail", classroom_id=classroom.pk)
    return render(request, "classes/join.html", {"classroom": classroom, "code": code})


def _detail_context(request: HttpRequest, classroom: Classroom, role: str, **forms) -> dict:
    context = {"classroom": classroom, "role": role, "is_tutor": role == Role.TUTOR}
    if role == Role.TUTOR:
        published = Assistant.objects.filter(publications__classroom=classroom).select_related("owner")
        own = Assistant.objects.filter(owner=request.user).exclude(pk__in=published.values("pk"))
        # NUL can match nothing and PostgreSQL refuses it in a query: it is dropped.
        wanted = {key: request.GET.get(key, "").replace("\x00", "").strip()[:200] for key in ("student", "assistant", "q")}
        conversations = progress.filter_conversations(
            progress.class_conversations(classroom),
            student_id=wanted["student"], assistant_id=wanted["assistant"], text=wanted["q"],
        )
        context.update(
            invite_url=request.build_absolute_uri(reverse("classes:join_link", args=[classroom.join_code])),
            tutors=classroom.memberships.filter(role=Role.TUTOR).select_related("user").order_by("user__username"),
            roster=progress.roster(classroom),
            wanted=wanted,
            filter_assistants=Assistant.objects.filter(
                Q(publications__classroom=classroom) | Q(pk__in=progress.class_conversations(classroom).values("assistant_id"))
            ).distinct(),
            published=published,
            publish_form=forms.get("publish_form") or PublishForm(assistants=own),
            has_assistants=Assistant.objects.filter(owner=request.user).exists(),
            can_publish=own.exists(),
            tutor_form=forms.get("tutor_form") or AddTutorForm(),
            limits_form=forms.get("limits_form") or LimitsForm(instance=classroom),
            conversations=conversations[:50],
        )
    else:
        context.update(
            assistants=class_assistants(classroom),
            my_conversations=Thread.objects.filter(owner=request.user, class_link__classroom=classroom)
            .holding_messages()
            .select_related("assistant"),
        )
    return context


@require_GET
@login_required
def class_detail(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom, role = get_classroom_for_member(request.user, classroom_id)
    return render(request, "classes/class_detail.html", _detail_context(request, classroom, role))


@require_http_methods(["GET", "POST"])
@login_required
def class_edit(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    form = ClassroomForm(request.POST or None, instance=classroom)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("classes:detail", classroom_id=classroom.pk)
    return render(request, "classes/class_form.html", {"classroom": classroom, "form": form}, status=400 if form.errors else 200)


@require_POST
@login_required
def regenerate_code(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    classroom.regenerate_join_code()
    messages.success(request, "New join code made; the old code and link no longer work.")
    return redirect("classes:detail", classroom_id=classroom.pk)


@posted_from(_class_page_for_tutor)
@login_required
def tutor_add(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    form = AddTutorForm(request.POST)
    if form.is_valid():
        try:
            membership = services.add_tutor(classroom, form.cleaned_data["username"])
        except services.ClassError as problem:
            form.add_error("username", str(problem))
        else:
            messages.success(request, f"{membership.user.get_username()} is now a tutor of {classroom.name}.")
            return redirect("classes:detail", classroom_id=classroom.pk)
    context = _detail_context(request, classroom, Role.TUTOR, tutor_form=form)
    return render(request, "classes/class_detail.html", context, status=400)


@require_http_methods(["GET", "POST"])
@login_required
def member_remove(request: HttpRequest, classroom_id: int, membership_id: int) -> HttpResponse:
    """GET asks for confirmation, saying what removing does; POST removes."""
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    try:
        if request.method == "GET":
            membership = services.member_to_remove(classroom, membership_id, request.user)
            context = {
                "classroom": classroom, "member": membership, "is_tutor": membership.role == Role.TUTOR,
                "will": services.removal_consequences(classroom, membership),
            }
            return render(request, "classes/remove.html", context)
        membership = services.remove_member(classroom, membership_id, request.user)
    except services.ClassError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, f"{membership.user.get_username()} was removed from {classroom.name}.")
    return redirect("classes:detail", classroom_id=classroom.pk)


@posted_from(_class_page_for_tutor)
@login_required
def assistant_publish(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    form = PublishForm(request.POST, assistants=Assistant.objects.filter(owner=request.user))
    if not form.is_valid():
        context = _detail_context(request, classroom, Role.TUTOR, publish_form=form)
        return render(request, "classes/class_detail.html", context, status=400)
    assistant = form.cleaned_data["assistant"]
    services.publish(classroom, assistant)
    messages.success(request, f"{assistant.name} is published to {classroom.name}: its students can chat with it.")
    return redirect("classes:detail", classroom_id=classroom.pk)


@require_http_methods(["GET", "POST"])
@login_required
def assistant_unpublish(request: HttpRequest, classroom_id: int) -> HttpResponse:
    """Any tutor of the class may take an assistant down, not only its owner. GET (with
    ?assistant=) asks for confirmation, saying what unpublishing does; POST unpublishes."""
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    data = request.GET if request.method == "GET" else request.POST
    form = AssistantChoiceForm(data, assistants=Assistant.objects.filter(publications__classroom=classroom))
    if not form.is_valid():
        messages.error(request, "That assistant is not published to this class (any more).")
        return redirect("classes:detail", classroom_id=classroom.pk)
    assistant = form.cleaned_data["assistant"]
    if request.method == "GET":
        context = {
            "classroom": classroom, "assistant": assistant,
            "will": services.unpublish_consequences(classroom, assistant),
        }
        return render(request, "classes/unpublish.html", context)
    services.unpublish(classroom, assistant)
    messages.success(request, f"{assistant.name} is no longer published to {classroom.name}.")
    return redirect("classes:detail", classroom_id=classroom.pk)


@posted_from(_class_page_for_tutor)
@login_required
def class_limits(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    form = LimitsForm(request.POST, instance=classroom)
    if not form.is_valid():
        classroom.refresh_from_db()
        context = _detail_context(request, classroom, Role.TUTOR, limits_form=form)
        return render(request, "classes/class_detail.html", context, status=400)
    form.save()
    messages.success(request, "Daily limits saved.")
    return redirect("classes:detail", classroom_id=classroom.pk)


@require_http_methods(["GET", "POST"])
@login_required
def class_archive(request: HttpRequest, classroom_id: int) -> HttpResponse:
    """GET asks for confirmation, saying what archiving does; POST archives (or, with
    archived=0, reopens: that closes nothing, so it is not asked about)."""
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    if request.method == "GET":
        if classroom.archived:
            return redirect("classes:detail", classroom_id=classroom.pk)
        context = {"classroom": classroom, "will": services.archive_consequences(classroom)}
        return render(request, "classes/archive.html", context)
    archived = request.POST.get("archived") != "0"
    services.set_archived(classroom, archived)
    if archived:
        messages.success(request, f"{classroom.name} is archived: its conversations are closed and nobody can join.")
    else:
        messages.success(request, f"{classroom.name} is open again: students can join and chat with its assistants.")
    return redirect("classes:detail", classroom_id=classroom.pk)


@require_http_methods(["GET", "POST"])
@login_required
def class_leave(request: HttpRequest, classroom_id: int) -> HttpResponse:
    """GET asks for confirmation, saying what leaving does; POST leaves."""
    classroom, role = get_classroom_for_member(request.user, classroom_id)
    if request.method == "GET":
        context = {
            "classroom": classroom,
            "is_tutor": role == Role.TUTOR,
            "conversations": Thread.objects.filter(owner=request.user, class_link__classroom=classroom)
            .holding_messages()
            .count(),
            "attempts": gradebook.class_attempts(classroom, request.user).count(),
        }
        return render(request, "classes/leave.html", context)
    try:
        services.leave(classroom, request.user)
    except services.ClassError as problem:
        messages.error(request, str(problem))
        return redirect("classes:detail", classroom_id=classroom.pk)
    messages.success(request, f"You left {classroom.name}.")
    return redirect("classes:list")


@posted_from(_class_page)
@login_required
def conversation_start(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom, role = get_classroom_for_member(request.user, classroom_id)
    if role != Role.STUDENT:
        return redirect("classes:detail", classroom_id=classroom.pk)
    form = AssistantChoiceForm(request.POST, assistants=class_assistants(classroom))
    if not form.is_valid():
        messages.error(request, "That assistant is no longer available in this class.")
        return redirect("classes:detail", classroom_id=classroom.pk)
    thread = services.start_class_thread(request.user, classroom, form.cleaned_data["assistant"])
    return redirect("chat:thread", thread_id=thread.id)


@require_GET
@login_required
def gradebook_page(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    titles, rows = gradebook.table(classroom)
    return render(request, "classes/gradebook.html", {"classroom": classroom, "titles": titles, "rows": rows})


@require_GET
@login_required
def gradebook_csv(request: HttpRequest, classroom_id: int) -> HttpResponse:
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    response = HttpResponse(gradebook.csv_export(classroom), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="gradebook-{classroom.pk}.csv"'
    return response


def _pairs(attempt) -> list[dict]:
    """Each question with the answer given (answers to a quiz without questions listed alone)."""
    answers = [a if isinstance(a, dict) else {"answer": a} for a in attempt.answers or []]
    questions = [q if isinstance(q, dict) else {} for q in attempt.questions or []]
    return [
        {"question": questions[i] if i < len(questions) else {"question_text": answers[i].get("question_text", "")},
         "answer": answers[i] if i < len(answers) else {}}
        for i in range(max(len(questions), len(answers)))
    ]


@require_http_methods(["GET", "POST"])
@login_required
def attempt_detail(request: HttpRequest, classroom_id: int, attempt_id: int) -> HttpResponse:
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    attempt = gradebook.get_attempt(classroom, attempt_id)
    if attempt is None:
        raise Http404("No such quiz attempt.")
    override = getattr(attempt, "grade", None)
    initial = {"score": override.override_score, "comment": override.comment} if override else {}
    form = OverrideForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            gradebook.override(classroom, attempt, form.cleaned_data["score"], form.cleaned_data["comment"], request.user)
        except ValidationError as error:
            form.add_error("score", error.message_dict["override_score"])
        else:
            messages.success(request, "Grade saved.")
            return redirect("classes:attempt", classroom_id=classroom.pk, attempt_id=attempt.pk)
    context = {
        "classroom": classroom, "attempt": attempt, "override": override, "form": form, "pairs": _pairs(attempt),
        "student_left": not classroom.memberships.filter(user_id=attempt.user_id, role=Role.STUDENT).exists(),
    }
    return render(request, "classes/attempt.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def student_detail(request: HttpRequest, classroom_id: int, user_id: int) -> HttpResponse:
    """One student's work in the class, for its tutors: conversations, quizzes, usage."""
    classroom = get_classroom_for_tutor(request.user, classroom_id)
    entry = next((row for row in progress.roster(classroom) if row.membership.user_id == user_id), None)
    if entry is None:
        raise Http404("No such student in this class.")
    student = entry.membership.user
    runs_today, tokens_today = quotas.usage_today(classroom, student)
    context = {
        "classroom": classroom, "student": student, "progress": entry,
        "conversations": progress.class_conversations(classroom).filter(owner=student),
        "attempts": gradebook.student_attempts(classroom, student),
        "runs_today": runs_today, "tokens_today": tokens_today,
    }
    return render(request, "classes/student.html", context)


@require_GET
@login_required
def my_grades(request: HttpRequest, classroom_id: int) -> HttpResponse:
    """A student's own quiz attempts in the class, with the scores and comments."""
    classroom, role = get_classroom_for_member(request.user, classroom_id)
    if role != Role.STUDENT:
        raise Http404("No such page.")
    attempts = gradebook.student_attempts(classroom, request.user)
    for attempt in attempts:
        attempt.pairs = _pairs(attempt)
    return render(request, "classes/my_grades.html", {"classroom": classroom, "attempts": attempts})
