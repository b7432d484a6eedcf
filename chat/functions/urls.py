from django.urls import path

from chat.functions import views

app_name = "functions"

urlpatterns = [
    path("threads/<str:thread_id>/runs/<str:run_id>/tool-outputs/", views.submit_tool_outputs, name="submit_tool_outputs"),
    path("assistants/<str:assistant_id>/functions/", views.function_list, name="function_list"),
    path("assistants/<str:assistant_id>/functions/<str:name>/edit/", views.function_edit, name="function_edit"),
    path("assistants/<str:assistant_id>/functions/<str:name>/delete/", views.function_delete, name="function_delete"),
    path("assistants/<str:assistant_id>/functions/<str:name>.json", views.function_definition, name="function_definition"),
]
