"""/v1 — the Assistants-API-compatible REST API (included at v1/ by project/urls.py)."""

from django.urls import path, re_path

from chat.api.http import endpoint, unknown_url
from chat.api.views import assistants, files, runs, threads, vector_stores

app_name = "api"

T = "threads/<id:thread_id>"
R = f"{T}/runs/<id:run_id>"
V = "vector_stores/<id:store_id>"
B = f"{V}/file_batches/<id:batch_id>"

urlpatterns = [
    path("assistants", endpoint({"GET": assistants.list_, "POST": assistants.create}), name="assistants"),
    path("assistants/<id:assistant_id>", endpoint({"GET": assistants.retrieve, "POST": assistants.update, "DELETE": assistants.delete}), name="assistant"),
    path("threads", endpoint({"POST": threads.create}), name="threads"),
    path("threads/runs", endpoint({"POST": runs.create_thread_and_run}), name="create_thread_and_run"),
    path(T, endpoint({"GET": threads.retrieve, "POST": threads.update, "DELETE": threads.delete}), name="thread"),
    path(f"{T}/messages", endpoint({"GET": threads.message_list, "POST": threads.message_create}), name="messages"),
    path(f"{T}/messages/<id:message_id>", endpoint({"GET": threads.message_retrieve, "POST": threads.message_update, "DELETE": threads.message_delete}), name="message"),
    path(f"{T}/runs", endpoint({"GET": runs.list_, "POST": runs.create}), name="runs"),
    path(R, endpoint({"GET": runs.retrieve, "POST": runs.update}), name="run"),
    path(f"{R}/cancel", endpoint({"POST": runs.cancel}), name="run_cancel"),
    path(f"{R}/submit_tool_outputs", endpoint({"POST": runs.submit_tool_outputs}), name="submit_tool_outputs"),
    path(f"{R}/steps", endpoint({"GET": runs.step_list}), name="steps"),
    path(f"{R}/steps/<id:step_id>", endpoint({"GET": runs.step_retrieve}), name="step"),
    path("files", endpoint({"GET": files.list_, "POST": files.upload}), name="files"),
    path("files/<id:file_id>", endpoint({"GET": files.retrieve, "DELETE": files.delete}), name="file"),
    path("files/<id:file_id>/content", endpoint({"GET": files.content}), name="file_content"),
    path("models", endpoint({"GET": files.model_list}), name="models"),
    path("models/<str:model>", endpoint({"GET": files.model_retrieve}), name="model"),
    path("vector_stores", endpoint({"GET": vector_stores.list_, "POST": vector_stores.create}), name="vector_stores"),
    path(V, endpoint({"GET": vector_stores.retrieve, "POST": vector_stores.update, "DELETE": vector_stores.delete}), name="vector_store"),
    path(f"{V}/search", endpoint({"POST": vector_stores.search}), name="vector_store_search"),
    path(f"{V}/files", endpoint({"GET": vector_stores.file_list, "POST": vector_stores.file_create}), name="vector_store_files"),
    path(f"{V}/files/<id:file_id>", endpoint({"GET": vector_stores.file_retrieve, "POST": vector_stores.file_update, "DELETE": vector_stores.file_delete}), name="vector_store_file"),
    path(f"{V}/file_batches", endpoint({"POST": vector_stores.batch_create}), name="file_batches"),
    path(B, endpoint({"GET": vector_stores.batch_retrieve}), name="file_batch"),
    path(f"{B}/cancel", endpoint({"POST": vector_stores.batch_cancel}), name="file_batch_cancel"),
    path(f"{B}/files", endpoint({"GET": vector_stores.batch_files}), name="file_batch_files"),
    re_path(r"^(?P<rest>.*)$", unknown_url),
]
