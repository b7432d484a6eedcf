from django import forms
from django.contrib import admin

from chat import user_input
from chat.forms import AssistantForm
from chat.functions.models import QuizAttempt
from chat.functions.schema import DefinitionError, clean_tools


class AssistantToolsAdminForm(AssistantForm):
    """The assistant form plus the function tools as JSON, checked against the JSON Schema
    meta-schema and the API's naming rules. Server tools stay with AssistantForm's checkboxes."""

    function_tools = forms.JSONField(
        required=False,
        decoder=user_input.Decoder,
        label="Function tools",
        widget=forms.Textarea(attrs={"rows": 12, "class": "vLargeTextField"}),
        help_text='A JSON list of {"type": "function", "function": {"name", "description", "parameters", "strict"}}.',
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._saved_tools = [t for t in self.instance.tools if isinstance(t, dict)]
        self.initial.setdefault("function_tools", [t for t in self._saved_tools if t.get("type") == "function"])

    def clean_function_tools(self):
        tools = self.cleaned_data.get("function_tools") or []
        if not isinstance(tools, list) or any(not isinstance(t, dict) or t.get("type") != "function" for t in tools):
            raise forms.ValidationError('Give a JSON list of {"type": "function", "function": {…}} entries.')
        try:
            return clean_tools(tools)
        except DefinitionError as exc:
            raise forms.ValidationError(exc.message) from None

    def _post_clean(self):
        super()._post_clean()
        # The admin lists "tools" among the model fields, so construct_instance copied the
        # checkbox values (plain strings) into it; AssistantForm.save() merges from the saved list.
        self.instance.tools = list(self._saved_tools)

    def save(self, commit: bool = True):
        instance = super().save(commit=False)
        functions = self.cleaned_data.get("function_tools") or []
        instance.tools = [t for t in instance.tools if t.get("type") != "function"] + functions
        if commit:
            instance.save()
            self.save_m2m()
        return instance


@admin.register(QuizAttempt)
class QuizAttemptAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "classroom", "assistant_with_owner", "function_name", "model_score", "submitted_at", "graded_at"]
    list_filter = ["function_name", "assistant__owner"]
    list_select_related = ["user", "classroom", "assistant__owner"]
    search_fields = ["title", "user__username", "thread__id", "run__id"]
    readonly_fields = ["run", "thread", "classroom", "assistant", "user", "tool_call_id", "title", "function_name", "questions", "answers", "submitted_at",
                       "feedback", "score", "max_score", "graded_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="assistant", ordering="assistant__name")
    def assistant_with_owner(self, obj):
        # As chat.admin.assistant_label (which imports this module): two "Math Tutor"s told apart.
        return f"{obj.assistant.name} (owner: {obj.assistant.owner.get_username()})" if obj.assistant else "—"

    @admin.display(description="model's score")
    def model_score(self, obj):
        return obj.score_label
