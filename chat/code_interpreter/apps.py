from django.apps import AppConfig
from django.conf import settings


class CodeInterpreterConfig(AppConfig):
    name = "chat.code_interpreter"
    label = "code_interpreter"
    verbose_name = "Code Interpreter"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registering the tool, the offline skill, and the image / sandbox-link renderers.
        from chat.code_interpreter import render, skill, tool  # noqa: F401
        from chat.code_interpreter.sessions import warm_pool
        from chat.engine.supervisor import on_engine_start

        def start_pool() -> None:  # sandboxed kernels boot in the background; the first call need not wait
            if settings.CODE_INTERPRETER_POOL_SIZE:
                warm_pool()

        skill.register()
        on_engine_start(start_pool)
