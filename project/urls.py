from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's, a file).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("v1/", include("chat.api.urls")),
    path("account/api-keys/", include("chat.api.page_urls")),
    path("", include("chat.functions.urls")),
    path("", include("chat.retrieval.urls")),
    path("", include("chat.classes.urls")),
    path("", include("chat.urls")),
]

# A request that found no database connection in time gets a 503, not a 500 (chat/busy.py).
handler500 = "chat.busy.server_error"
