"""Domain model mirroring the Assistants API v2 objects.

Field names follow the API so that the REST layer (a later issue) is a thin mapping.
Messages, runs and steps belong to their thread's owner; assistants and threads carry
the owner directly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.text import normalize_newlines

from chat import ids, readiness, states
from chat.prepared import Prepared, PreparedUpdate


def _default_truncation() -> dict:
    return {"type": "auto", "last_messages": None}


class Assistant(models.Model):
    # Sampling bounds, as the hosted API had them; the form, /v1 assistants and runs check these.
    TEMPERATURE_MAX = 2
    TOP_P_MAX = 1

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_asst_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assistants")
    name = models.CharField(max_length=256)
    description = models.CharField(max_length=512, blank=True)
    model = models.CharField(max_length=256)
    instructions = models.TextField(blank=True, max_length=256_000)
    tools = models.JSONField(default=list, blank=True)
    tool_resources = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    response_format = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def tool_types(self) -> tuple[str, ...]:
        return tuple(tool.get("type", "") for tool in self.tools)


class ThreadQuerySet(models.QuerySet):
    # The one rule for which conversations count and are listed (the sidebar, a class's
    # lists and counts): those holding a message. One opened and never written in is not.
    def holding_messages(self) -> ThreadQuerySet:
        return self.filter(Exists(Message.objects.filter(thread=OuterRef("pk"))))

    def without_messages(self) -> ThreadQuerySet:
        return self.exclude(Exists(Message.objects.filter(thread=OuterRef("pk"))))


class Thread(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=ids.new_thread_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="threads")
    # Not in the API: the browser's name for the thread and the assistant it talks to by default.
    title = models.CharField(max_length=200, blank=True)
    assistant = models.ForeignKey(Assistant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    metadata = models.JSONField(default=dict, blank=True)
    tool_resources = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ThreadQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return self.title or "New conversation"

    @property
    def group_name(self) -> str:
        """The channel-layer group that receives this thread's live events."""
        return f"thread.{self.id}"

    def active_run(self) -> Run | None:
        """The thread's queued or running run, if any (checked before every message and
        run is added: compiled once, chat.prepared)."""
        found = _active_run_of(thread_id=self.pk)
        if not found:
            return None
        found[0].thread = self  # as ``self.runs`` would have set it
        return found[0]

    def last_answer_is_record(self) -> bool:
        """The answer to the user's last message holds a quiz they submitted. Its grading
        showed the right answers, so that turn is the record of the attempt (kept in the
        gradebook too): it is not answered again or edited away, and a retake is another
        quiz, asked for. One query: the last question's time is a subquery."""
        last_question = self.messages.filter(role=Message.USER).order_by("-seq").values("created_at")[:1]
        return self.quiz_attempts.filter(submitted_at__gte=Subquery(last_question)).exists()

    @property
    def assistant_deleted(self) -> bool:
        """The assistant this conversation talked to was deleted (every run starts with an
        assistant, so a run without one lost it). The browser keeps such a conversation
        read-only rather than let it silently continue with another assistant."""
        return self.assistant_id is None and self.runs.filter(assistant__isnull=True).exists()


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        INCOMPLETE = "incomplete"
        COMPLETED = "completed"

    USER, ASSISTANT = Role.USER, Role.ASSISTANT
    IN_PROGRESS, INCOMPLETE, COMPLETED = Status.IN_PROGRESS, Status.INCOMPLETE, Status.COMPLETED

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_msg_id, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role)
    # A list of content parts in the API's shape: [{"type": "text", "text": {"value", "annotations"}}, …]
    content = models.JSONField(default=list)
    attachments = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.COMPLETED)
    incomplete_details = models.JSONField(null=True, blank=True)
    assistant = models.ForeignKey(Assistant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    run = models.ForeignKey("Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    incomplete_at = models.DateTimeField(null=True, blank=True)
    # Strictly increasing order key: two messages saved in the same microsecond still sort right.
    seq = models.PositiveBigIntegerField(default=ids.next_seq, editable=False)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["thread", "seq"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"

    @staticmethod
    def text_content(value: str, annotations: list | None = None) -> list[dict]:
        return [{"type": "text", "text": {"value": value, "annotations": annotations or []}}]

    BLANK = "A message needs some text: this one is empty or only spaces."

    @staticmethod
    def is_blank(value: str) -> bool:
        """Text that says nothing (empty, or only white space and invisible format characters
        such as zero-width spaces, Unicode category Cf): refused on every surface."""
        return all(char.isspace() or unicodedata.category(char) == "Cf" for char in value)

    @staticmethod
    def too_long(value: str) -> str | None:
        """Why a person's text is too long to send, or None: one limit for every surface
        (``MAX_MESSAGE_CHARS``), which the composer's counter shows too."""
        limit = settings.MAX_MESSAGE_CHARS
        if len(value) > limit:
            return f"Messages can be at most {limit} characters; this one has {len(value)}."
        return None

    @staticmethod
    def clean_input(value: str) -> str:
        """Text a person sends, as every surface (browser, /v1, manage.py) stores it: browsers
        submit a textarea with CRLF line endings, and a ```` ```python ```` fence followed by
        "\r" is no fence to the model."""
        return normalize_newlines(value)

    @property
    def text(self) -> str:
        return "".join(part["text"]["value"] for part in self.content if part.get("type") == "text")

    @classmethod
    def mark_incomplete(cls, run: Run, reason: str) -> list[str]:
        """End the messages ``run`` was still writing, keeping their text so far (a run that
        failed, was cancelled or expired under them). Returns their ids."""
        ids_ = list(cls.objects.filter(run=run, status=cls.Status.IN_PROGRESS).values_list("pk", flat=True))
        cls.objects.filter(pk__in=ids_).update(
            status=cls.Status.INCOMPLETE, incomplete_at=timezone.now(), incomplete_details={"reason": reason}
        )
        return ids_

    def tool_steps_before(self) -> list[RunStep]:
        """The tool work of this answer's run done after the run's previous message and
        before this one: what the conversation shows inline, just above this answer."""
        return tool_steps_before([self]).get(self.id, [])


def tool_steps_before(messages) -> dict[str, list[RunStep]]:
    """Message.tool_steps_before() for many messages (a page) in two queries: id -> steps."""
    answers = [m for m in messages if m.role == Message.ASSISTANT and m.run_id is not None]
    if not answers:
        return {}
    run_ids = {m.run_id for m in answers}
    run_messages: dict[str, list[tuple[int, object]]] = {}
    for run_id, seq, created_at in Message.objects.filter(run_id__in=run_ids).values_list("run_id", "seq", "created_at"):
        run_messages.setdefault(run_id, []).append((seq, created_at))
    run_steps: dict[str, list[RunStep]] = {}
    for step in RunStep.objects.filter(run_id__in=run_ids, type="tool_calls").order_by("created_at"):
        run_steps.setdefault(step.run_id, []).append(step)
    found = {}
    for answer in answers:
        earlier = [(seq, at) for seq, at in run_messages.get(answer.run_id, []) if seq < answer.seq]
        found[answer.id] = steps_shown_before(answer, max(earlier)[1] if earlier else None, run_steps.get(answer.run_id, []))
    return found


def steps_shown_before(answer: Message, after: datetime | None, steps: Iterable[RunStep]) -> list[RunStep]:
    """The tool work ``answer`` shows above it: of its run's ``steps`` (in creation order),
    the tool calls made before it and after ``after``, when the run's message before it
    was created (None: it is the run's first)."""
    return [
        step for step in steps
        if step.type == RunStep.TOOL_CALLS and step.created_at <= answer.created_at and (after is None or step.created_at > after)
    ]


class Run(models.Model):
    Status = states.RunStatus

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_run_id, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="runs")
    assistant = models.ForeignKey(Assistant, null=True, on_delete=models.SET_NULL, related_name="runs")
    status = models.CharField(max_length=20, choices=states.RunStatus, default=states.QUEUED)
    required_action = models.JSONField(null=True, blank=True)
    last_error = models.JSONField(null=True, blank=True)
    incomplete_details = models.JSONField(null=True, blank=True)
    model = models.CharField(max_length=256)
    instructions = models.TextField(blank=True)
    additional_instructions = models.TextField(blank=True)
    tools = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    usage = models.JSONField(null=True, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    max_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    max_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    truncation_strategy = models.JSONField(default=_default_truncation)
    response_format = models.JSONField(null=True, blank=True)
    tool_choice = models.JSONField(null=True, blank=True)
    parallel_tool_calls = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When it last went into the queue (created, or queued again after tool outputs).
    queued_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Which process executes the run, and when it last proved it is alive (orphan recovery).
    worker = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How many events the run's executions so far published (written as one pauses for tool
    # outputs): the next execution, in whatever process, numbers on from it (events.py).
    event_seq = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["thread"],
                condition=Q(status__in=sorted(states.ACTIVE)),
                name="one_active_run_per_thread",
                violation_error_message="This thread already has an active run.",
            )
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in states.ACTIVE

    @property
    def status_label(self) -> str:
        return self.waiting_reason or states.LABELS[self.status]

    @property
    def waiting_reason(self) -> str | None:
        """Why this queued run has not started yet (e.g. "Reading your files…"), or None."""
        return readiness.waiting_reason(self) if self.status == states.QUEUED else None

    def transition(self, target: str, *, expect: str | set[str] | frozenset[str] | None = None, **fields) -> bool:
        """Move to ``target`` if the row is still in a status that allows it.

        A compare-and-set on the row, so a cancel from the browser and the engine
        finishing the same run cannot both win. ``expect`` narrows the statuses the
        move may start from (default: every status the state machine allows). Returns
        False, with the instance reloaded, when the row was not in such a status.
        Raises IllegalTransition when ``expect`` names a move the machine forbids.
        """
        if expect is None:
            allowed = states.sources_for(target)
        else:
            allowed = frozenset({expect} if isinstance(expect, str) else expect)
            for status in allowed:
                states.check(status, target)
        now = timezone.now()
        if target in states.STAMPS:
            fields.setdefault(states.STAMPS[target], now)
        if target in states.TERMINAL:
            fields.setdefault("worker", "")
        fields["status"] = target
        if _move(fields, run_id=self.pk, allowed=allowed):
            for name, value in fields.items():
                setattr(self, name, value)
            return True
        self.refresh_from_db()
        return False

    def close_open_steps(self, status: str, error: dict | None = None) -> list[str]:
        """End this run's unfinished steps as ``status`` (cancelled, failed, expired) when the
        run ends under them. Returns their ids, for the events that announce them."""
        open_steps = list(self.steps.filter(status=RunStep.Status.IN_PROGRESS).values_list("pk", flat=True))
        RunStep.objects.filter(pk__in=open_steps).update(
            status=status, last_error=error, **{RunStep.STAMPS[status]: timezone.now()}
        )
        return open_steps


# A run's moves, every one a compare-and-set on its row: compiled once per set of columns
# and of allowed statuses (chat.prepared).
_move = PreparedUpdate(Run, lambda run_id, allowed: Run.objects.filter(pk=run_id, status__in=allowed), run_id=str)


class RunStep(models.Model):
    class Type(models.TextChoices):
        MESSAGE_CREATION = "message_creation"
        TOOL_CALLS = "tool_calls"

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        CANCELLED = "cancelled"
        FAILED = "failed"
        COMPLETED = "completed"
        EXPIRED = "expired"

    MESSAGE_CREATION, TOOL_CALLS = Type.MESSAGE_CREATION, Type.TOOL_CALLS
    IN_PROGRESS, CANCELLED, FAILED, COMPLETED, EXPIRED = (
        Status.IN_PROGRESS, Status.CANCELLED, Status.FAILED, Status.COMPLETED, Status.EXPIRED
    )
    # Which timestamp a step ending in each status stamps.
    STAMPS = {COMPLETED: "completed_at", CANCELLED: "cancelled_at", FAILED: "failed_at", EXPIRED: "expired_at"}

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_step_id, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    type = models.CharField(max_length=20, choices=Type)
    status = models.CharField(max_length=16, choices=Status, default=Status.IN_PROGRESS)
    step_details = models.JSONField(default=dict)
    last_error = models.JSONField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.type} ({self.status})"

    @property
    def status_label(self) -> str:
        return self.status.replace("_", " ").capitalize()

    @property
    def created_message_id(self) -> str | None:
        """The answer a message_creation step wrote; None for a tool step."""
        if self.type != self.MESSAGE_CREATION:
            return None
        return self.step_details.get("message_creation", {}).get("message_id")


def _file_path(instance: File, filename: str) -> str:
    # Never the user's file name on disk: owner and id only.
    return f"files/{instance.owner_id}/{instance.id}"


class File(models.Model):
    """An uploaded or generated file, as the Files API describes it."""

    class Purpose(models.TextChoices):
        ASSISTANTS = "assistants"
        ASSISTANTS_OUTPUT = "assistants_output"
        VISION = "vision"
        USER_DATA = "user_data"

    class Status(models.TextChoices):
        UPLOADED = "uploaded"
        PROCESSED = "processed"
        ERROR = "error"

    UPLOADED, PROCESSED, ERROR = Status.UPLOADED, Status.PROCESSED, Status.ERROR

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_file_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255)
    purpose = models.CharField(max_length=32, choices=Purpose, default=Purpose.ASSISTANTS)
    bytes = models.PositiveBigIntegerField(default=0)
    data = models.FileField(upload_to=_file_path, max_length=255)
    content_type = models.CharField(max_length=127, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.UPLOADED)
    # Human-readable reason when status is "error".
    status_details = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.id})"


# ``Thread.active_run``'s read: as ``thread.runs.filter(status__in=ACTIVE).first()``.
_active_run_of = Prepared(
    Run,
    lambda thread_id: Run.objects.filter(thread_id=thread_id, status__in=states.ACTIVE).order_by(*Run._meta.ordering)[:1],
    thread_id=str,
)
