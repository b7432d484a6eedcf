"""Browser pages for API keys (included at account/api-keys/)."""

from django.urls import path

from chat.api.views import keys

app_name = "apikeys"

urlpatterns = [
    path("", keys.key_list, name="list"),
    path("new/", keys.key_create, name="create"),
    path("<int:key_id>/revoke/", keys.key_revoke, name="revoke"),
]
