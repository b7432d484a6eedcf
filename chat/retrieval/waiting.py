"""A run waits for the files attached to its thread.

While any file in the thread's own vector stores is still being read (attached to a
message, or added to the store through /v1), the thread's queued run does not start:
its answer must be able to search every file. The wait has no time limit; it ends when
each file is processed or has failed (a failed file is shown as such on its chip and
in the store's file list, and the run searches the others). The ingest that finishes
a file dispatches the runs that waited for it; after a restart, the resumed ingest does.
"""

from __future__ import annotations

from chat import readiness
from chat.engine import dispatch, states
from chat.models import Run, Thread
from chat.retrieval.models import VectorStoreFile
from chat.retrieval.resources import store_ids

READING_FILES = "Reading your files…"


def files_being_read(thread: Thread):
    return VectorStoreFile.objects.filter(
        vector_store_id__in=store_ids(thread),
        vector_store__owner_id=thread.owner_id,
        status=VectorStoreFile.IN_PROGRESS,
    )


@readiness.register
def reading_files(run: Run, thread: Thread | None = None) -> str | None:
    if thread is None:
        # The thread as it is now: a page's copy may predate the store its files went to.
        thread = Thread.objects.only("owner_id", "tool_resources").get(pk=run.thread_id)
    if store_ids(thread) and files_being_read(thread).exists():
        return READING_FILES
    return None


def start_runs_waiting_for(store_ids_done: set[str]) -> list[str]:
    """Dispatch the queued runs of threads that search one of these stores and no longer
    wait for anything. Returns their ids."""
    started = []
    for run in Run.objects.filter(status=states.QUEUED).select_related("thread"):
        if set(store_ids(run.thread)) & store_ids_done and readiness.waiting_reason(run, run.thread) is None:
            dispatch.dispatch(run.id)
            started.append(run.id)
    return started
