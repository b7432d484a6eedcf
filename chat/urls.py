from django.urls import path
from django.views.generic import RedirectView

from chat.views import accounts, assistants, files, threads

app_name = "chat"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="chat:threads"), name="home"),
    path("signup/", accounts.signup, name="signup"),
    path("threads/", threads.thread_list, name="threads"),
    path("threads/new/", threads.thread_create, name="thread_create"),
    path("threads/<id:thread_id>/", threads.thread_detail, name="thread"),
    path("threads/<id:thread_id>/messages/", threads.message_create, name="message_create"),
    path("threads/<id:thread_id>/messages/last/", threads.message_edit, name="message_edit"),
    path("threads/<id:thread_id>/answer-again/", threads.answer_again, name="answer_again"),
    path("threads/<id:thread_id>/rename/", threads.thread_rename, name="thread_rename"),
    path("threads/<id:thread_id>/delete/", threads.thread_delete, name="thread_delete"),
    path("threads/<id:thread_id>/runs/<id:run_id>/cancel/", threads.run_cancel, name="run_cancel"),
    path("files/<id:file_id>/content/", files.file_content, name="file_content"),
    path("assistants/", assistants.assistant_list, name="assistants"),
    path("assistants/new/", assistants.assistant_create, name="assistant_create"),
    path("assistants/<id:assistant_id>/edit/", assistants.assistant_edit, name="assistant_edit"),
    path("assistants/<id:assistant_id>/delete/", assistants.assistant_delete, name="assistant_delete"),
]
