from django.apps import AppConfig


class RetrievalConfig(AppConfig):
    name = "chat.retrieval"
    label = "retrieval"
    verbose_name = "Retrieval"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registering the tool, the offline skill, the citation renderer and the signals.
        from chat.retrieval import annotate, ingest, skill, tool  # noqa: F401
