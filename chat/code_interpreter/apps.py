from django.apps import AppConfig


class CodeInterpreterConfig(AppConfig):
    name = "chat.code_interpreter"
    label = "code_interpreter"
    verbose_name = "Code Interpreter"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registering the tool, the offline skill, and the image / sandbox-link renderers.
        from chat.code_interpreter import render, skill, tool  # noqa: F401
