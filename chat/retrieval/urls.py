from django.urls import path

from chat.retrieval import views

app_name = "retrieval"

urlpatterns = [
    path("assistants/<id:assistant_id>/files/", views.assistant_files, name="assistant_files"),
    path(
        "assistants/<id:assistant_id>/files/<id:file_id>/remove/",
        views.assistant_file_remove,
        name="assistant_file_remove",
    ),
    path("files/<id:file_id>/passage/", views.passage, name="passage"),
]
