"""The one way to fetch a user's objects: anything not theirs is a 404."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast, Concat
from django.http import Http404

from chat.classes.models import Classroom, ClassThread, Membership, Publication
from chat.code_interpreter.models import SandboxFile
from chat.models import Assistant, File, Message, Run, RunStep, Thread
from chat.prepared import Prepared


def _found(queryset):
    """The row a lookup by primary key finds, or None, unsorted: ``first()`` sorted by the
    model's ordering, a fifth of compiling the thread's query, read twice per /v1 run."""
    return next(iter(queryset.order_by()[:1]), None)


def _first(rows: list):
    return rows[0] if rows else None


# With its class link (none for most threads): whether it is a class thread, and its
# class, are then known without another query (``is_class_thread``, ``thread_classroom``).
# Read twice per /v1 run: compiled once (chat.prepared).
_thread_of = Prepared(
    Thread,
    lambda thread_id, owner_id: (
        Thread.objects.select_related("assistant", "class_link__classroom")
        .filter(pk=thread_id, owner_id=owner_id)
        .order_by()[:1]
    ),
    thread_id=str,
    owner_id=int,
)
# The reader's thread by its key alone (who may read it is decided on the row): read at
# every page and every socket's connect, compiled once.
_thread_by_key = Prepared(
    Thread,
    lambda thread_id: Thread.objects.select_related("assistant", "class_link__classroom").filter(pk=thread_id).order_by()[:1],
    thread_id=str,
)
_assistant_of = Prepared(
    Assistant,
    lambda assistant_id, owner_id: Assistant.objects.filter(pk=assistant_id, owner_id=owner_id).order_by()[:1],
    assistant_id=str,
    owner_id=int,
)
_run_of = Prepared(
    Run,
    lambda run_id, thread_id, owner_id: (
        Run.objects.select_related("thread")
        .filter(pk=run_id, thread_id=thread_id, thread__owner_id=owner_id)
        .order_by()[:1]
    ),
    run_id=str,
    thread_id=str,
    owner_id=int,
)
_run_on = Prepared(
    Run,
    lambda run_id, thread_id: Run.objects.filter(pk=run_id, thread_id=thread_id).order_by()[:1],
    run_id=str,
    thread_id=str,
)


def get_thread_for_user(user, thread_id: str) -> Thread:
    thread = _first(_thread_of(thread_id=thread_id, owner_id=user.pk))
    if thread is None or not user.is_authenticated:
        raise Http404("No such conversation.")
    thread.owner = user  # the one who asked: not read again (quotas, uploads)
    return thread


def get_assistant_for_user(user, assistant_id: str) -> Assistant:
    assistant = _first(_assistant_of(assistant_id=assistant_id, owner_id=user.pk))
    if assistant is None or not user.is_authenticated:
        raise Http404("No such assistant.")
    return assistant


def get_file_for_user(user, file_id: str) -> File:
    file = _found(File.objects.filter(pk=file_id, owner_id=user.pk))
    if file is None or not user.is_authenticated:
        raise Http404("No such file.")
    return file


def get_run_for_user(user, thread_id: str, run_id: str) -> Run:
    run = _first(_run_of(run_id=run_id, thread_id=thread_id, owner_id=user.pk))
    if run is None or not user.is_authenticated:
        raise Http404("No such run.")
    return run


# --- classes: students, tutors and what each may read -----------------------------------
#
# A thread is written only by its owner (get_thread_for_user above). It is also readable,
# never writable, by the tutors of the class it was started in, while its owner is still a
# student of that class. A student sees a published assistant's name and description and
# can chat with it; everything else about the assistant stays its owner's.


def _tutor_readable_threads(user):
    """Threads of other users that ``user`` reads as a tutor of their class."""
    if not user.is_authenticated:
        return Thread.objects.none()
    students = Membership.objects.filter(
        classroom=OuterRef("class_link__classroom"), user=OuterRef("owner"), role=Membership.Role.STUDENT
    )
    return Thread.objects.filter(
        class_link__classroom__memberships__user=user,
        class_link__classroom__memberships__role=Membership.Role.TUTOR,
    ).filter(Exists(students)).exclude(owner_id=user.pk)


def readable_threads(user):
    """Every thread ``user`` may open: their own and their class students' class threads."""
    if not user.is_authenticated:
        return Thread.objects.none()
    return Thread.objects.filter(Q(owner_id=user.pk) | Q(pk__in=_tutor_readable_threads(user).values("pk")))


def get_thread_for_reader(user, thread_id: str) -> tuple[Thread, bool]:
    """The thread and whether ``user`` may write to it (only its owner may)."""
    if not user.is_authenticated:
        raise Http404("No such conversation.")
    # Nearly every reader is the owner (each page and its socket): their thread is read by
    # its key alone. readable_threads' tutor subquery cost more to build and run than the
    # rest of the read (5 % of the server's busy time at 200 sockets connecting); a tutor
    # pays one query more, for a thread with a class only.
    thread = _first(_thread_by_key(thread_id=thread_id))
    if thread is not None and thread.owner_id == user.pk:
        thread.owner = user  # the one who asked: not read again
        return thread, True
    if thread is None or _class_link(thread) is None:
        raise Http404("No such conversation.")
    thread = (
        readable_threads(user).select_related("assistant", "owner", "class_link__classroom").filter(pk=thread_id).first()
    )
    if thread is None:
        raise Http404("No such conversation.")
    return thread, False


def _class_link(thread: Thread) -> ClassThread | None:
    """The thread's class link: as read with the thread when it was (``select_related``
    caches a missing one too), else in one query."""
    if Thread.class_link.is_cached(thread):
        return Thread.class_link.related.get_cached_value(thread)
    return ClassThread.objects.select_related("classroom").filter(thread=thread).first()


def thread_classroom(thread: Thread) -> Classroom | None:
    link = _class_link(thread)
    return link.classroom if link is not None else None


class ThreadReadOnly(PermissionDenied):
    """A thread its reader may read but not write: a student's class conversation, read by
    a tutor of the class. Said as such, not as "not found", to one who has just read it."""


def get_thread_for_api(user, thread_id: str) -> Thread:
    """A thread /v1 writes to (a message, a run, its metadata, a deletion): its owner's
    only, as in the browser. On a class thread the student runs only the class's published
    assistants (``get_assistant_for_run``) and never reads their set-up (chat.api.serializers
    hides a class run's instructions and function definitions). ``ThreadReadOnly`` for a
    tutor reading it; 404 for anyone who cannot read it either."""
    try:
        return get_thread_for_user(user, thread_id)
    except Http404:
        _thread, writable = get_thread_for_reader(user, thread_id)  # 404 for those who cannot read it
        if writable:  # owner after all (not expected: the lookup above found no such thread)
            raise
        raise ThreadReadOnly(
            "This conversation is read-only for this key: it belongs to a student of a class you tutor, and its "
            "tutors can read their students' class conversations but not write to them (no messages, runs, "
            "changes or deletion)."
        ) from None


def get_thread_for_api_reader(user, thread_id: str) -> Thread:
    """A thread /v1 reads (the thread, its messages, runs and steps): whoever may open it
    in the browser (``get_thread_for_reader``), a class's tutor included."""
    thread, _writable = get_thread_for_reader(user, thread_id)
    return thread


def get_run_for_api(user, thread_id: str, run_id: str) -> Run:
    get_thread_for_api(user, thread_id)
    return get_run_for_user(user, thread_id, run_id)


def get_run_on_thread(thread: Thread, run_id: str) -> Run:
    """A run of a thread the caller has already been allowed to read."""
    run = _first(_run_on(run_id=run_id, thread_id=thread.pk))
    if run is None:
        raise Http404("No such run.")
    run.thread = thread  # as read, with its class link
    return run


def is_class_thread(thread: Thread | str) -> bool:
    if isinstance(thread, Thread) and Thread.class_link.is_cached(thread):
        return _class_link(thread) is not None
    return ClassThread.objects.filter(thread_id=getattr(thread, "pk", thread)).exists()


def get_assistant_for_run(user, thread: Thread, assistant_id: str) -> Assistant:
    """The assistant ``user`` may run on ``thread``: what its composer offers (their own
    for a private thread; one published to the class, while they are a student of it,
    for a class thread). 404 otherwise."""
    found = assistants_for_thread(user, thread).filter(pk=assistant_id).first() if user.is_authenticated else None
    if found is None:
        raise Http404("No such assistant.")
    return found


def thread_is_read_only(user, thread: Thread) -> bool:
    """A class thread takes no new messages once no assistant of its class is there for
    its owner (unpublished, class archived, or the student left): it stays readable."""
    return is_class_thread(thread) and not assistants_for_thread(user, thread).exists()


def assistant_withdrawn(run: Run) -> bool:
    """The run's assistant may no longer answer on its thread: unpublished from the thread's
    class, the class archived, its owner no longer a student of it, or the assistant deleted."""
    thread = run.thread
    return run.assistant_id is None or not assistants_for_thread(thread.owner, thread).filter(pk=run.assistant_id).exists()


def get_classroom_for_member(user, classroom_id) -> tuple[Classroom, str]:
    """The class and the user's role in it (Membership.Role); 404 for anyone else."""
    membership = (
        Membership.objects.select_related("classroom").filter(classroom_id=classroom_id, user_id=user.pk).first()
        if user.is_authenticated and str(classroom_id).isdigit()
        else None
    )
    if membership is None:
        raise Http404("No such class.")
    return membership.classroom, membership.role


def get_classroom_for_tutor(user, classroom_id) -> Classroom:
    classroom, role = get_classroom_for_member(user, classroom_id)
    if role != Membership.Role.TUTOR:
        raise Http404("No such class.")
    return classroom


def class_assistants(classroom: Classroom):
    """The assistants a student of ``classroom`` may start conversations with now."""
    if classroom.archived:
        return Assistant.objects.none()
    return Assistant.objects.filter(publications__classroom=classroom)


def in_no_class(user) -> bool:
    """Whether ``user`` belongs to no class, as student or tutor: told how to join one."""
    return not Membership.objects.filter(user_id=user.pk).exists()


def is_student_of(user, classroom: Classroom) -> bool:
    return Membership.objects.filter(classroom=classroom, user_id=user.pk, role=Membership.Role.STUDENT).exists()


def assistants_for_thread(user, thread: Thread):
    """What the composer of ``thread`` offers its owner: a class thread talks only to its
    class's published assistants (none once unpublished, archived or left); a private
    thread to the user's own assistants."""
    classroom = thread_classroom(thread)
    if classroom is None:
        return Assistant.objects.filter(owner_id=user.pk)
    if not is_student_of(user, classroom):
        return Assistant.objects.none()
    return class_assistants(classroom)


def publications_for_student(user):
    """(assistant, class) pairs a student may start conversations with."""
    if not user.is_authenticated:
        return Publication.objects.none()
    return Publication.objects.filter(
        classroom__memberships__user=user,
        classroom__memberships__role=Membership.Role.STUDENT,
        classroom__archived=False,
    ).select_related("assistant", "classroom")


def assistants_for_picker(user):
    """Own assistants plus those published to the user's (unarchived) classes as a student."""
    if not user.is_authenticated:
        return Assistant.objects.none()
    published = publications_for_student(user).values("assistant_id")
    return Assistant.objects.filter(Q(owner_id=user.pk) | Q(pk__in=published)).distinct()


def get_file_for_reader(user, file_id: str) -> File:
    """A file its owner may always download. Anyone else only through a thread they may
    read: a file an answer in it cites (file_citation / file_path annotation, image part),
    or, for a tutor, a file of the student's that the thread's messages or steps show."""
    if not user.is_authenticated:
        raise Http404("No such file.")
    file = File.objects.filter(pk=file_id).first()
    if file is None:
        raise Http404("No such file.")
    if file.owner_id == user.pk:
        return file
    threads = readable_threads(user)
    answers = Message.objects.filter(thread__in=threads, role=Message.ASSISTANT).annotate(
        raw=Cast("content", TextField())
    ).filter(raw__contains=file.id)
    if any(file.id in cited_file_ids(m.content) for m in answers):
        return file
    reviewed = _tutor_readable_threads(user).filter(owner_id=file.owner_id)
    shown = (
        Message.objects.filter(thread__in=reviewed)
        .annotate(raw=Concat(Cast("content", TextField()), Cast("attachments", TextField())))
        .filter(raw__contains=file.id)
        .exists()
        or RunStep.objects.filter(run__thread__in=reviewed)
        .annotate(raw=Cast("step_details", TextField()))
        .filter(raw__contains=file.id)
        .exists()
        or SandboxFile.objects.filter(thread__in=reviewed, file=file).exists()
    )
    if shown:
        return file
    raise Http404("No such file.")


def cited_file_ids(content: list) -> set[str]:
    """Files a message's content points at by structure, not by text someone typed."""
    found = set()
    for part in content or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image_file":
            found.add((part.get("image_file") or {}).get("file_id"))
        for annotation in (part.get("text") or {}).get("annotations") or [] if part.get("type") == "text" else []:
            kind = annotation.get("type") if isinstance(annotation, dict) else None
            if kind in ("file_citation", "file_path"):
                found.add((annotation.get(kind) or {}).get("file_id"))
    found.discard(None)
    return found
