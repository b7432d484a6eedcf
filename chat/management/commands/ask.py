"""python manage.py ask "<assistant name or id>" "<message>" [--thread ID]"""

import asyncio
import sys

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat.engine import executor, states
from chat.engine.runs import ThreadBusy
from chat.models import Assistant, Run, Thread
from chat.services import Refused
from chat.services.messages import post_message
from chat.services.threads import create_thread


class Command(BaseCommand):
    help = "Ask an assistant something; prints the reply as it streams. Exits non-zero unless the run completes."

    def add_arguments(self, parser):
        parser.add_argument("assistant", help="assistant name or id")
        parser.add_argument("message")
        parser.add_argument("--thread", help="continue this thread instead of starting a new one")

    def handle(self, *args, assistant, message, thread=None, **options):
        text = message.strip()
        found = self._assistant(assistant)
        with transaction.atomic():  # a refused message leaves no new thread behind
            conversation = self._thread(thread, found)
            run = self._post(conversation, text, found)
        self.stderr.write(f"thread {conversation.id} · run {run.id}")
        final = asyncio.run(self._execute(run.id))
        self.stdout.write("")
        if final.status != states.COMPLETED:
            detail = final.last_error or final.incomplete_details or {}
            raise CommandError(f"The run ended {final.status}: {detail.get('message') or detail.get('reason') or ''}".rstrip(": "))

    def _assistant(self, key: str) -> Assistant:
        matches = list(Assistant.objects.filter(pk=key)) or list(Assistant.objects.filter(name=key))
        if not matches:
            raise CommandError(f"No assistant named or with id {key!r}.")
        if len(matches) > 1:
            ids = ", ".join(a.id for a in matches)
            raise CommandError(f"Several assistants are named {key!r}: use an id ({ids}).")
        return matches[0]

    def _thread(self, thread_id: str | None, assistant: Assistant) -> Thread:
        if thread_id is None:
            return create_thread(assistant.owner, assistant=assistant)
        thread = Thread.objects.filter(pk=thread_id, owner=assistant.owner).first()
        if thread is None:
            raise CommandError(f"No thread {thread_id!r} belonging to the assistant's owner.")
        return thread

    def _post(self, thread: Thread, text: str, assistant: Assistant) -> Run:
        try:
            # start=False: this process executes the run itself, streaming to the terminal.
            _message, run = post_message(thread, text, assistant, start=False)
        except (ThreadBusy, Refused) as refused:
            raise CommandError(str(refused)) from None
        return run

    async def _execute(self, run_id: str) -> Run:
        def show(event):
            if event["type"] == "message.delta":
                sys.stdout.write(event["text"])
                sys.stdout.flush()

        await executor.execute(run_id, listeners=[show])
        return await sync_to_async(Run.objects.get)(pk=run_id)
