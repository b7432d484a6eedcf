from django.apps import AppConfig
from django.urls import register_converter

from chat.user_input import ObjectIdConverter


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Assistants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        register_converter(ObjectIdConverter, "id")

        from chat.providers.offline import explain, model, register_skill

        # The offline model's own skills; SKILL_ORDER (offline/model.py) places them among the tools'.
        model.register_builtin_skills()
        register_skill("explain", explain.explain_skill)
        explain.register_explainer("math", explain.explain_math)

        from django.conf import settings

        if settings.RUN_BACKEND == "workers":
            from chat import workers

            workers.register(settings.TASK_BROKER_URL)  # runs and ingest go to `manage.py worker`
