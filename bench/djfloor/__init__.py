"""The Django floor: the floor's SSE workload served through Django's own ASGI handler
(``django.core.asgi.get_asgi_application``), shaped like the API a run needs, with nothing
of the project in it: its own settings (bench/djfloor/settings.py: ``MIDDLEWARE = []``,
no database), two async views, the same Daphne, channel layer class and chunks as
bench/floor.py, and a task in the process pushing the events exactly as the floor does.

    DJANGO_SETTINGS_MODULE=bench.djfloor.settings python -m bench.floor serve-django --port 8202

Per run the client makes the requests the SDK makes for ``messages.create`` then
``runs.create(stream=True)``:

* ``POST /v1/threads/<stream>/messages`` (JSON) → a JSON message object;
* ``POST /v1/threads/<stream>/runs`` (JSON) → subscribe a new channel to the stream's
  group, start the producer, answer ``text/event-stream``: one ``event: delta`` per
  channel-layer event (the floor's frame), then ``[DONE]``.

For the browser's shape, a WebSocket on the floor's bare Channels consumer
(``/ws/floor/<stream>/``) with the run started by ``POST /floor/runs/<stream>/`` through
Django (as the composer's htmx POST starts a run), answered with a small HTML fragment.

``BENCH_FLOOR_DB=1``: the variant with the least database work a run could do — each of
those views does one small INSERT through the ORM (``sync_to_async``, Django's default
thread-sensitive executor) into a SQLite database under ``DATA_DIR`` (WAL, as the project's).
"""
