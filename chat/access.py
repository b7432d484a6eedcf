"""The one way to fetch a user's objects: anything not theirs is a 404."""

from __future__ import annotations

from django.http import Http404

from chat.models import Assistant, File, Run, Thread


def get_thread_for_user(user, thread_id: str) -> Thread:
    thread = Thread.objects.select_related("assistant").filter(pk=thread_id, owner_id=user.pk).first()
    if thread is None or not user.is_authenticated:
        raise Http404("No such conversation.")
    return thread


def get_assistant_for_user(user, assistant_id: str) -> Assistant:
    assistant = Assistant.objects.filter(pk=assistant_id, owner_id=user.pk).first()
    if assistant is None or not user.is_authenticated:
        raise Http404("No such assistant.")
    return assistant


def get_file_for_user(user, file_id: str) -> File:
    file = File.objects.filter(pk=file_id, owner_id=user.pk).first()
    if file is None or not user.is_authenticated:
        raise Http404("No such file.")
    return file


def get_run_for_user(user, thread_id: str, run_id: str) -> Run:
    run = Run.objects.select_related("thread").filter(pk=run_id, thread_id=thread_id, thread__owner_id=user.pk).first()
    if run is None or not user.is_authenticated:
        raise Http404("No such run.")
    return run
