from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "chat.functions"
    label = "functions"
    verbose_name = "Function calling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The offline model learns to call display_quiz (and any other function) and to grade quizzes.
        from chat.functions import skills

        skills.register()
