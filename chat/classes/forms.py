from __future__ import annotations

from django import forms

from chat.classes.models import Classroom


class ClassroomForm(forms.ModelForm):
    class Meta:
        model = Classroom
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        error_messages = {"name": {"required": "Give the class a name."}}


class JoinForm(forms.Form):
    code = forms.CharField(
        label="Join code", max_length=32, strip=True,
        error_messages={"required": "Type the code your tutor gave you."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )


class AddTutorForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150, error_messages={"required": "Type a username."})


class AssistantChoiceForm(forms.Form):
    """An assistant picked from a given queryset (own ones to publish, published ones to chat with)."""

    assistant = forms.ModelChoiceField(queryset=None, error_messages={"invalid_choice": "That assistant is not available here."})

    def __init__(self, *args, assistants, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assistant"].queryset = assistants


class PublishForm(AssistantChoiceForm):
    """One of the tutor's own assistants, to publish to the class."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assistant"]
        field.empty_label = "Choose an assistant…"
        field.error_messages["required"] = "Choose which of your assistants to publish, then press Publish."


class LimitsForm(forms.ModelForm):
    class Meta:
        model = Classroom
        fields = ["runs_per_day", "tokens_per_day"]
        labels = {"runs_per_day": "Messages per student per day", "tokens_per_day": "Tokens per student per day"}
        help_texts = {"runs_per_day": "Empty: no limit. Counts reset at 00:00 UTC.", "tokens_per_day": "Empty: no limit."}


class OverrideForm(forms.Form):
    score = forms.DecimalField(
        label="Score", required=False, min_value=0, max_digits=6, decimal_places=2,
        help_text="Empty: use the score the assistant gave.",
    )
    comment = forms.CharField(label="Comment", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
