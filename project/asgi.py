"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Daphne does not speak the ASGI lifespan protocol, so the run supervisor (start-up
recovery of orphaned runs, expiry sweeps) starts on the first connection of any kind;
``make run`` makes one itself right after the server is listening.
"""

import os

from project.handler import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402

from chat.engine.supervisor import with_run_supervisor  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from project.origins import SameOriginValidator  # noqa: E402
from project.request_threads import on_kept_threads  # noqa: E402

application = with_run_supervisor(
    ProtocolTypeRouter(
        {
            "http": on_kept_threads(django_asgi_app),
            # The user is resolved by the consumer, in its one trip to the database thread.
            "websocket": SameOriginValidator(SessionMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
