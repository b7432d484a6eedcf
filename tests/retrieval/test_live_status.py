"""A file's status reaches the open thread page live, over its socket."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat.engine import dispatch
from chat.models import File, Message
from chat.retrieval import ingest, stores
from tests.test_consumers import connect, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_the_file_chip_updates_when_ingest_finishes(monkeypatch, alice, thread, upload):
    monkeypatch.setattr(dispatch, "_server_loop", asyncio.get_running_loop())
    file = await sync_to_async(upload)("notes.md", b"Kinetic energy is one half m v squared.")

    @sync_to_async
    def attach():
        Message.objects.create(
            thread=thread, role="user", content=Message.text_content("see notes"),
            attachments=[{"file_id": file.id, "tools": [{"type": "file_search"}]}],
        )
        return stores.add_files(stores.thread_store(thread), [file])

    communicator, connected, _code = await connect(thread.id, alice)
    assert connected
    try:
        entries = await attach()
        # The real background thread: ingest off the event loop, then a push through the loop.
        ingest._run_in_background([e.pk for e in entries], thread.id)
        frames = await receive_until(communicator, f'id="file-chip-{file.id}"')
        assert "processed" in frames[-1] and 'hx-swap-oob="true"' in frames[-1]
        assert (await sync_to_async(File.objects.get)(pk=file.id)).status == "processed"
    finally:
        await communicator.disconnect()
