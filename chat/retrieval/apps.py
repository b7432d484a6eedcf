from django.apps import AppConfig


class RetrievalConfig(AppConfig):
    name = "chat.retrieval"
    label = "retrieval"
    verbose_name = "Retrieval"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registering the tool, the offline skill, the citation renderer, the signals, and
        # the rule that a run waits for its thread's files.
        from chat.retrieval import annotate, ingest, skill, tool, waiting  # noqa: F401
