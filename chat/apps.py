from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Assistants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat.providers.offline import explain, register_skill

        # Before the math skill: "why?" is about the last answer, not a new problem.
        register_skill(explain.explain_skill, first=True)
