from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm

from chat.access import assistants_for_picker, assistants_for_thread, publications_for_student
from chat.models import Assistant, Message, Thread
from chat.providers import available_models
from chat.tools import SERVER_TOOLS


class MessageTextField(forms.CharField):
    """Line endings are normalised before the length check, so it counts what the
    browser's maxlength counts (a newline is one character, not CRLF's two)."""

    def to_python(self, value):
        return Message.clean_input(super().to_python(value))


ASSISTANT_DELETED = (
    "The assistant of this conversation was deleted, so the conversation is read-only. "
    "Start a new conversation to continue."
)


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
        self.classes: dict[str, list[str]] = {}
        self.offered: list[Assistant] = []

    def limit_to(self, queryset, classes: dict[str, list[str]] | None = None, *, offered: list[Assistant] | None = None) -> None:
        """``classes``: assistant id -> names of the classes it is published to, for the
        assistants a student sees through a class (labelled with their class).
        ``offered``: ``queryset``'s rows, when the caller has just read them."""
        self.offered = list(queryset) if offered is None else offered
        self.queryset = queryset
        self.classes = classes or {}
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
        if assistant.pk in self.classes:
            # Published in many classes, the full list made the picker wider than a phone.
            names = self.classes[assistant.pk]
            shown = ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
            return f"{assistant.name} · {shown}"
        if assistant.name in self.repeated_names:
            return f"{assistant.name} ({assistant.model}, …{assistant.id[-4:]})"
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
        if thread is not None and thread.assistant_id:
            self.fields["assistant"].initial = thread.assistant_id

    def clean_text(self):
        text = self.cleaned_data["text"]
        if problem := Message.too_long(text):  # the domain's rule, shown as a form error
            raise forms.ValidationError(problem, code="max_length")
        return text

    def clean(self):
        if self.thread is not None and self.thread.assistant_deleted:
            raise forms.ValidationError(ASSISTANT_DELETED, code="assistant_deleted")
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
    class Meta:
        model = Thread
        fields = ["title"]
        labels = {"title": "Title"}


class NewThreadForm(forms.Form):
    assistant = AssistantChoiceField()

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        classes: dict[str, list[str]] = {}
        for publication in publications_for_student(user):
            classes.setdefault(publication.assistant_id, []).append(publication.classroom.name)
        # A published assistant is labelled with its class: two "Math Tutor"s stay apart.
        self.fields["assistant"].limit_to(assistants_for_picker(user), classes)


class SignupForm(UserCreationForm):
    pass
