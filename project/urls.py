from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("v1/", include("chat.api.urls")),
    path("account/api-keys/", include("chat.api.page_urls")),
    path("", include("chat.functions.urls")),
    path("", include("chat.retrieval.urls")),
    path("", include("chat.classes.urls")),
    path("", include("chat.urls")),
]
