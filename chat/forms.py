from __future__ import annotations

from collections import Counter

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm

from chat.access import assistants_for_thread, is_student_of, publications_for_student, thread_classroom
from chat.models import Assistant, Message, Thread
from chat.providers import available_models
from chat.services.runs import closed_notice, refusal_to_run
from chat.tools import SERVER_TOOLS


class MessageTextField(forms.CharField):
    """Line endings are normalised before the length check, so it counts what the
    browser's maxlength counts (a newline is one character, not CRLF's two); text that is
    blank by Message.is_blank is empty, so it gets the same "required" error as spaces."""

    def to_python(self, value):
        text = Message.clean_input(super().to_python(value))
        # Blank by the domain's rule (zero-width spaces too) is no message: "required" says so.
        return "" if Message.is_blank(text) else text


ASSISTANT_DELETED = (
    "The assistant of this conversation was deleted, so the conversation is read-only. "
    "Start a new conversation to continue."
)


def told_apart(label: str, assistant: Assistant) -> str:
    """A picker's label that another option shares, told apart by model and a short id."""
    return f"{label} ({assistant.model}, …{assistant.id[-4:]})"


class OfferedChoices(forms.models.ModelChoiceIterator):
    """The options from the assistants the field read once (``AssistantChoiceField.offered``):
    Django's iterator queries again each time the picker is rendered, counted or checked."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for assistant in self.field.offered:
            yield self.choice(assistant)

    def __len__(self) -> int:
        return len(self.field.offered) + (self.field.empty_label is not None)

    def __bool__(self) -> bool:
        return self.field.empty_label is not None or bool(self.field.offered)


class AssistantChoiceField(forms.ModelChoiceField):
    """A picker of the user's assistants; two with the same name are told apart by model
    and a short id, never shown as two identical entries. The assistants offered are read
    once, in ``limit_to``: the labels, the options and the check of the posted choice use them."""

    iterator = OfferedChoices

    def __init__(self, **kwargs) -> None:
        super().__init__(queryset=Assistant.objects.none(), empty_label=None, label="Assistant", **kwargs)
        self.repeated_names: set[str] = set()
        self.offered: list[Assistant] = []

    def limit_to(self, queryset, *, offered: list[Assistant] | None = None) -> None:
        """``offered``: ``queryset``'s rows, when the caller has just read them."""
        self.offered = list(queryset) if offered is None else offered
        self.queryset = queryset
        names = [assistant.name for assistant in self.offered]
        self.repeated_names = {name for name in names if names.count(name) > 1}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        key = str(value.pk if isinstance(value, Assistant) else value)
        for assistant in self.offered:
            if str(assistant.pk) == key:
                return assistant
        raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})

    def label_from_instance(self, assistant: Assistant) -> str:
        if assistant.name in self.repeated_names:
            return told_apart(assistant.name, assistant)
        return assistant.name


class MessageForm(forms.Form):
    text = MessageTextField(
        label="Message",
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Ask your tutor…", "autocomplete": "off"}),
        error_messages={
            "required": "Write a message before sending.",
        },
    )
    assistant = AssistantChoiceField(
        error_messages={"invalid_choice": "That assistant is not available in this conversation any more."},
    )

    def __init__(self, *args, user, thread: Thread | None = None, offered: list[Assistant] | None = None, **kwargs) -> None:
        """``offered``: the assistants the form this one replaces has just read (a fresh
        composer after a message was sent), so they are not read again."""
        super().__init__(*args, **kwargs)
        # Read by the composer's counter (data-max-chars); the check is clean_text's.
        self.fields["text"].max_length = settings.MAX_MESSAGE_CHARS
        if offered is not None:
            offers = Assistant.objects.filter(pk__in=[assistant.pk for assistant in offered])
        else:
            offers = assistants_for_thread(user, thread) if thread is not None else Assistant.objects.filter(owner=user)
        self.fields["assistant"].limit_to(offers, offered=offered)
        self.thread = thread
        self.user = user
        if thread is not None and thread.assistant_id:
            self.fields["assistant"].initial = thread.assistant_id

    @property
    def closed_notice(self) -> str | None:
        """Why the thread, a class conversation, takes no messages now (the composer shows
        this instead of controls that cannot work), or None."""
        if self.thread is None or self.fields["assistant"].offered:
            return None
        return closed_notice(self.user, self.thread)

    @property
    def left_class(self) -> bool:
        """Whether the closed thread's student left its class: its page is gone for them,
        so the notice points to the join-code form instead."""
        classroom = thread_classroom(self.thread) if self.thread is not None else None
        return classroom is not None and not is_student_of(self.user, classroom)

    def clean_text(self):
        text = self.cleaned_data["text"]
        if problem := Message.too_long(text):  # the domain's rule, shown as a form error
            raise forms.ValidationError(problem, code="max_length")
        return text

    def clean(self):
        if self.thread is not None and self.thread.assistant_deleted:
            raise forms.ValidationError(ASSISTANT_DELETED, code="assistant_deleted")
        if self.thread is not None and self.has_error("assistant", "invalid_choice"):
            # Say why, as /v1 does: a class conversation runs only its class's assistants.
            if refused := refusal_to_run(self.user, self.thread, str(self.data.get("assistant", ""))):
                self.errors["assistant"] = self.error_class([str(refused)])
        return super().clean()


# Labels of the server tools an assistant can switch on (chat.tools registry).
TOOL_LABELS = {"code_interpreter": "Code Interpreter", "file_search": "File Search"}


class AssistantForm(forms.ModelForm):
    model = forms.CharField(max_length=256, initial=settings.DEFAULT_MODEL)
    tools = forms.MultipleChoiceField(label="Tools", required=False, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Assistant
        fields = ["name", "description", "model", "instructions", "temperature", "top_p"]
        widgets = {"instructions": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.available = available_models()
        self.fields["model"].help_text = "Available: " + ", ".join(self.available)
        self.fields["model"].widget.attrs["list"] = "model-options"
        self.fields["temperature"].widget.attrs.update(min=0, max=Assistant.TEMPERATURE_MAX, step=0.1)
        self.fields["top_p"].widget.attrs.update(min=0, max=Assistant.TOP_P_MAX, step=0.05)
        self.fields["tools"].choices = [(kind, TOOL_LABELS.get(kind, kind)) for kind in SERVER_TOOLS]
        self.initial.setdefault("tools", [t.get("type") for t in self.instance.tools if t.get("type") in SERVER_TOOLS])

    def save(self, commit: bool = True):
        """Server tools follow the checkboxes; function tools (and each tool's options) are kept."""
        chosen = self.cleaned_data.get("tools") or []
        current = {t.get("type"): t for t in self.instance.tools}
        kept = [t for t in self.instance.tools if t.get("type") not in SERVER_TOOLS]
        self.instance.tools = kept + [current.get(kind) or {"type": kind} for kind in chosen]
        return super().save(commit)

    def clean_model(self) -> str:
        model = self.cleaned_data["model"].strip()
        if model not in self.available:
            raise forms.ValidationError(
                "Unknown model %(model)s. Available models: %(available)s.",
                params={"model": repr(model), "available": ", ".join(self.available)},
                code="unknown_model",
            )
        return model

    def clean_temperature(self):
        value = self.cleaned_data.get("temperature")
        if value is not None and not 0 <= value <= Assistant.TEMPERATURE_MAX:
            raise forms.ValidationError("Temperature must be between 0 and %(max)g.", params={"max": Assistant.TEMPERATURE_MAX})
        return value

    def clean_top_p(self):
        value = self.cleaned_data.get("top_p")
        if value is not None and not 0 <= value <= Assistant.TOP_P_MAX:
            raise forms.ValidationError("top_p must be between 0 and %(max)g.", params={"max": Assistant.TOP_P_MAX})
        return value


class ThreadTitleForm(forms.ModelForm):
    """A rename by hand. The model takes a blank title (a new conversation, named by its
    first question), but a rename to nothing or spaces is refused, not taken for "New
    conversation": the title stays."""

    class Meta:
        model = Thread
        fields = ["title"]
        labels = {"title": "Title"}
        error_messages = {"title": {"required": "a title cannot be blank. Type at least one letter or digit."}}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = True  # stripped first: spaces alone are blank

    def clean_title(self) -> str:
        title = self.cleaned_data["title"]
        if Message.is_blank(title):  # zero-width spaces alone are blank too, as in a message
            raise forms.ValidationError(self.fields["title"].error_messages["required"], code="required")
        return title


class ConversationChoiceField(forms.ChoiceField):
    """What a new conversation starts with: one of the user's own assistants (a private
    conversation), or an assistant published to one of their classes, offered once per class
    so that the conversation goes to the class the student chose and its tutors review it.
    A choice is ``(assistant, classroom or None)``; the offers are read once, in ``__init__``."""

    def __init__(self, user, **kwargs) -> None:
        super().__init__(label="Assistant", error_messages={"invalid_choice": "That assistant is not available to you."}, **kwargs)
        own = list(Assistant.objects.filter(owner_id=user.pk).order_by("name", "created_at")) if user.is_authenticated else []
        published = sorted(publications_for_student(user), key=lambda p: (p.assistant.name, p.classroom.name, p.classroom_id))
        self.offers: dict[str, tuple[Assistant, object]] = {a.pk: (a, None) for a in own}
        for publication in published:
            self.offers[f"{publication.assistant_id}@{publication.classroom_id}"] = (publication.assistant, publication.classroom)
        labels = {key: self._label(assistant, classroom) for key, (assistant, classroom) in self.offers.items()}
        repeated = {label for label, count in Counter(labels.values()).items() if count > 1}
        # Two offers that would read the same are told apart by model and a short id.
        self.choices = [
            (key, told_apart(label, self.offers[key][0]) if label in repeated else label)
            for key, label in labels.items()
        ]

    @staticmethod
    def _label(assistant: Assistant, classroom) -> str:
        return f"{assistant.name} · {classroom.name}" if classroom is not None else assistant.name

    def resolve(self, key: str) -> tuple[Assistant, object] | None:
        if key in self.offers:
            return self.offers[key]
        # A bare assistant id (an older page, a link) of a published assistant: its first class.
        return next((offer for offer in self.offers.values() if offer[0].pk == key), None)

    def valid_value(self, value) -> bool:
        return self.resolve(value) is not None

    def clean(self, value):
        return self.resolve(super().clean(value))


class NewThreadForm(forms.Form):
    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assistant"] = ConversationChoiceField(user)


class SignupForm(UserCreationForm):
    pass
