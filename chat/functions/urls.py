from django.urls import path

from chat.functions import views

app_name = "functions"

urlpatterns = [
    path("threads/<id:thread_id>/runs/<id:run_id>/tool-outputs/", views.submit_tool_outputs, name="submit_tool_outputs"),
    path("assistants/<id:assistant_id>/functions/", views.function_list, name="function_list"),
    path("assistants/<id:assistant_id>/functions/<str:name>/edit/", views.function_edit, name="function_edit"),
    path("assistants/<id:assistant_id>/functions/<str:name>/delete/", views.function_delete, name="function_delete"),
    path("assistants/<id:assistant_id>/functions/<str:name>.json", views.function_definition, name="function_definition"),
]
