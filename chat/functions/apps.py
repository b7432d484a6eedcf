from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "chat.functions"
    label = "functions"
    verbose_name = "Function calling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The offline model learns to call display_quiz (and any other function) and to grade quizzes.
        from chat import live, tools
        from chat.functions import skills
        from chat.functions.pending import render_pending_action
        from chat.functions.schema import check_arguments

        tools.register_argument_check(check_arguments)  # a call's arguments against its schema

        skills.register()
        # Every run panel pushed to a thread page carries the forms for its pending calls.
        live.register_run_panel_part(render_pending_action)
