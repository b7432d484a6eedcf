"""What tutors and students do with classes. Views and the demo seeding call these;
the rules about who may do them are checked by the caller through ``chat.access``."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import conversations
from chat.access import publications_for_student
from chat.classes.models import Classroom, ClassThread, Membership, Publication, normalize_join_code
from chat.engine.runs import cancel_run
from chat.functions.models import QuizAttempt
from chat.models import Assistant, Run, Thread
from chat.states import ACTIVE

Role = Membership.Role


class ClassError(Exception):
    """A request the rules refuse, with a message for the person who made it."""


def create_classroom(tutor, name: str, description: str = "") -> Classroom:
    with transaction.atomic():
        classroom = Classroom.objects.create(name=name, description=description)
        Membership.objects.create(classroom=classroom, user=tutor, role=Role.TUTOR)
    return classroom


def join_by_code(user, raw_code: str) -> tuple[Classroom, bool]:
    """Make ``user`` a student of the class with this code. Returns (class, newly joined).
    A member already in the class (tutor or student) keeps the role they have."""
    classroom = Classroom.objects.filter(join_code=normalize_join_code(raw_code), archived=False).first()
    if classroom is None:
        raise ClassError("No open class has that code. Check it with your tutor.")
    try:
        with transaction.atomic():
            _, created = Membership.objects.get_or_create(
                classroom=classroom, user=user, defaults={"role": Role.STUDENT}
            )
    except IntegrityError:  # joined twice at once: the other request won
        created = False
    return classroom, created


def add_tutor(classroom: Classroom, username: str) -> Membership:
    """Make a user a tutor of the class. A student of the class is refused: their role is
    one membership row, so promoting it would take them off the roster and their graded
    work out of the gradebook."""
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise ClassError(f"No user is called {username.strip()!r}.")
    membership, _ = Membership.objects.get_or_create(classroom=classroom, user=user, defaults={"role": Role.TUTOR})
    if membership.role == Role.STUDENT:
        raise ClassError(
            f"{user.get_username()} is a student of this class, so they cannot also be its tutor. "
            "Remove them as a student first if they should teach it."
        )
    return membership


def member_to_remove(classroom: Classroom, membership_id, by_user) -> Membership:
    """The membership a tutor may remove: a student or a co-tutor; never themselves (so
    never the last tutor). Asked by the confirm page and by the removal alike."""
    membership = (
        Membership.objects.select_related("user").filter(pk=membership_id, classroom=classroom).first()
        if str(membership_id).isdigit()
        else None
    )
    if membership is None:
        raise ClassError("That person is not in this class.")
    if membership.user_id == by_user.pk:
        raise ClassError("You cannot remove yourself from your own class.")
    return membership


def remove_member(classroom: Classroom, membership_id, by_user) -> Membership:
    """Returns the removed membership (for the message saying who)."""
    membership = member_to_remove(classroom, membership_id, by_user)
    membership.delete()
    _cancel_runs_in(classroom, student=membership.user)  # their class conversations are closed now
    return membership


@dataclass(frozen=True)
class Consequences:
    """What an action about to be confirmed would touch, counted now: the class
    conversations holding a message it closes, the runs still going it stops, the quiz
    attempts kept in the gradebook, and the assistants published there that stay."""

    conversations: int = 0
    running: int = 0
    attempts: int = 0
    published: tuple[Assistant, ...] = ()


def removal_consequences(classroom: Classroom, membership: Membership) -> Consequences:
    if membership.role == Role.TUTOR:  # a co-tutor's assistants published here stay published
        published = Assistant.objects.filter(publications__classroom=classroom, owner=membership.user)
        return Consequences(published=tuple(published))
    student = membership.user
    return Consequences(
        conversations=_class_conversations(classroom).filter(owner=student).count(),
        running=_active_runs_in(classroom, student=student).count(),
        attempts=QuizAttempt.objects.filter(classroom=classroom, user=student).count(),
    )


def unpublish_consequences(classroom: Classroom, assistant: Assistant) -> Consequences:
    """``published``: the class's other assistants, with which its conversations go on."""
    others = Assistant.objects.filter(publications__classroom=classroom).exclude(pk=assistant.pk)
    return Consequences(
        conversations=_class_conversations(classroom).filter(assistant=assistant).count(),
        running=_active_runs_in(classroom, assistant=assistant).count(),
        published=tuple(others) if not classroom.archived else (),
    )


def archive_consequences(classroom: Classroom) -> Consequences:
    return Consequences(
        conversations=_class_conversations(classroom).count(),
        running=_active_runs_in(classroom).count(),
        attempts=QuizAttempt.objects.filter(classroom=classroom).count(),
    )


def _class_conversations(classroom: Classroom):
    return Thread.objects.filter(class_link__classroom=classroom).holding_messages()


def leave(classroom: Classroom, user) -> None:
    membership = Membership.objects.filter(classroom=classroom, user=user).first()
    if membership is None:
        return
    if membership.role == Role.TUTOR and classroom.memberships.filter(role=Role.TUTOR).count() == 1:
        raise ClassError("You are the class's only tutor: add another tutor or archive the class instead.")
    membership.delete()
    _cancel_runs_in(classroom, student=user)  # a student's class conversations are closed now


def publish(classroom: Classroom, assistant: Assistant) -> Publication:
    publication, _ = Publication.objects.get_or_create(classroom=classroom, assistant=assistant)
    return publication


def unpublish(classroom: Classroom, assistant: Assistant) -> None:
    """Withdraw the assistant from the class. Its conversations there close (readable, no
    new messages), and its runs still going in them are cancelled: a quiz waiting for a
    student's answers must not be graded, nor an answer finished, by a withdrawn assistant."""
    Publication.objects.filter(classroom=classroom, assistant=assistant).delete()
    _cancel_runs_in(classroom, assistant=assistant)


def set_archived(classroom: Classroom, archived: bool) -> None:
    """Archiving closes every conversation of the class, so their runs still going stop."""
    classroom.archived = archived
    classroom.save(update_fields=["archived"])
    if archived:
        _cancel_runs_in(classroom)


def _active_runs_in(classroom: Classroom, *, assistant: Assistant | None = None, student=None):
    """The active runs of the class's conversations (of one assistant, or of one student's)."""
    runs = Run.objects.filter(thread__class_link__classroom=classroom, status__in=ACTIVE)
    if assistant is not None:
        runs = runs.filter(assistant=assistant)
    if student is not None:
        runs = runs.filter(thread__owner=student)
    return runs


def _cancel_runs_in(classroom: Classroom, *, assistant: Assistant | None = None, student=None) -> None:
    """Cancel those runs, each through its own lifecycle (``cancel_run``), which tells
    every open page of the conversation."""
    for run in _active_runs_in(classroom, assistant=assistant, student=student):
        cancel_run(run)


def start_class_thread(student, classroom: Classroom, assistant: Assistant) -> Thread:
    """A student's conversation to write in with a published assistant, linked to the class:
    their newest blank one in this class if any (clicking "Start a conversation" again does
    not pile up blank conversations), else a new one."""
    if (empty := conversations.empty_conversation(student, assistant, classroom)) is not None:
        return empty
    with transaction.atomic():
        thread = Thread.objects.create(owner=student, assistant=assistant, updated_at=timezone.now())
        ClassThread.objects.create(thread=thread, classroom=classroom)
    return thread


def start_thread_with(user, assistant: Assistant, classroom: Classroom | None = None) -> Thread:
    """A new conversation from the assistant picker: private with one's own assistant, a
    class conversation with an assistant published to one of the user's classes: the
    ``classroom`` chosen, or the first by name if none was."""
    if assistant.owner_id == user.pk and classroom is None:
        return conversations.start_conversation(user, assistant)
    publications = publications_for_student(user).filter(assistant=assistant)
    if classroom is not None:
        publications = publications.filter(classroom=classroom)
    publication = publications.order_by("classroom__name").first()
    if publication is None:
        raise ClassError("That assistant is not available to you.")
    return start_class_thread(user, publication.classroom, assistant)
