from django.apps import AppConfig
from django.urls import register_converter

from chat.user_input import ObjectIdConverter


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Assistants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        register_converter(ObjectIdConverter, "id")

        from chat.providers.offline import explain, register_skill

        # Before the math skill: "why?" is about the last answer, not a new problem.
        register_skill(explain.explain_skill, first=True)

        from django.conf import settings

        if settings.RUN_BACKEND == "workers":
            from chat import workers

            workers.register(settings.TASK_BROKER_URL)  # runs and ingest go to `manage.py worker`
