from django.apps import AppConfig


class RetrievalConfig(AppConfig):
    name = "chat.retrieval"
    label = "retrieval"
    verbose_name = "Retrieval"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registering the tool, the offline skill, the citation renderer, the signals, and
        # the rule that a run waits for its thread's files.
        from chat import live
        from chat.engine import events
        from chat.engine.supervisor import on_engine_start
        from chat.retrieval import annotate, ingest, skill, tool, waiting  # noqa: F401
        from chat.retrieval.live import render_file_chip

        skill.register()
        on_engine_start(ingest.resume_unfinished)  # files a stopped server left half-ingested
        live.register_event_renderer(events.FILE_STATUS, lambda thread, event: render_file_chip(thread, event["file_id"]))
