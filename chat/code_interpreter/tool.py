"""The code_interpreter server tool: run the model's Python in the thread's session.

The step entry has the Assistants shape, ``code_interpreter {input, outputs}`` with
``logs`` and ``image`` outputs. Images and files written under /mnt/data are stored as
Files; the step is saved and re-published while the code runs, so logs stream live.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from chat import tools
from chat.code_interpreter.kernel import Execution, KernelError
from chat.code_interpreter.models import SandboxFile, SessionHolder
from chat.code_interpreter.sessions import SandboxRefused, service
from chat.engine.events import publisher_of
from chat.engine.worker import WORKER_ID
from chat.files import FileTooLarge, code_interpreter_files, store_file
from chat.models import RunStep
from chat.providers.base import ProviderError

CODE_INTERPRETER = "code_interpreter"
MAX_MODEL_OUTPUT = 8000

SCHEMA = {
    "type": "function",
    "function": {
        "name": "code_interpreter",
        "description": (
            "Run Python in a stateful Jupyter session for this conversation (numpy, pandas, matplotlib, "
            "sympy available; no network). Variables and files persist between calls. Print results; "
            "matplotlib figures are shown to the user. Files saved under /mnt/data can be linked as "
            "sandbox:/mnt/data/<name>."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}


def code_of(arguments: str) -> str:
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments  # some models send the bare program
    if isinstance(value, dict):
        return str(value.get("code") or value.get("input") or "")
    return str(value)


def entry(call_id: str, code: str, outputs: list[dict]) -> dict[str, Any]:
    return {"id": call_id, "type": CODE_INTERPRETER, "code_interpreter": {"input": code, "outputs": outputs}}


def pending(call: tools.ToolCall) -> dict[str, Any]:
    return entry(call.id, code_of(call.arguments), [])


def replay(details: dict[str, Any]) -> tuple[str, str]:
    ci = details.get("code_interpreter", {})
    return json.dumps({"code": ci.get("input", "")}), model_output(ci.get("outputs", []))


def model_output(outputs: list[dict]) -> str:
    parts = []
    for output in outputs:
        if output.get("type") == "logs":
            parts.append(output["logs"])
        elif output.get("type") == "image":
            parts.append(f"[image shown to the user: {output['image']['file_id']}]\n")
    text = "".join(parts) or "(no output)"
    if len(text) > MAX_MODEL_OUTPUT:
        text = text[: MAX_MODEL_OUTPUT // 2] + "\n[… output shortened …]\n" + text[-MAX_MODEL_OUTPUT // 2 :]
    return text


# --- database helpers (sync, run off the loop) ---------------------------------------------


@sync_to_async
def _attachments(run) -> list[tuple[str, bytes]]:
    found = []
    for record in code_interpreter_files(run.assistant, run.thread):
        with record.data.open("rb") as handle:
            found.append((record.filename, handle.read()))
    return found


@sync_to_async
def _store_outputs(run, call_id: str, result: Execution, files: dict[str, bytes]) -> tuple[list[dict], list[str]]:
    owner = run.thread.owner
    outputs, notes = [], []
    for number, output in enumerate(result.outputs, 1):
        if output["type"] == "logs":
            outputs.append(output)
            continue
        try:
            record = store_file(owner, f"{call_id}-image-{number}.png", output["png"], purpose="assistants_output")
        except FileTooLarge as exc:
            notes.append(f"[an image was left out: {exc}]\n")
            continue
        outputs.append({"type": "image", "image": {"file_id": record.id}})
    saved = []
    for name, content in files.items():
        try:
            record = store_file(owner, name, content, purpose="assistants_output")
        except FileTooLarge as exc:
            notes.append(f"[/mnt/data/{name} was not saved for download: {exc}]\n")
            continue
        SandboxFile.objects.create(thread_id=run.thread_id, run=run, tool_call_id=call_id, name=name, file=record)
        saved.append(name)
    notes += [f"[file saved: sandbox:/mnt/data/{name}]\n" for name in saved]
    if notes:
        outputs.append({"type": "logs", "logs": "".join(notes)})
    return outputs, saved


@sync_to_async
def _save_live(run, call_id: str, partial: dict) -> RunStep | None:
    for step in RunStep.objects.filter(run=run, type=RunStep.TOOL_CALLS, status=RunStep.IN_PROGRESS).order_by("-created_at")[:3]:
        calls = step.step_details.get("tool_calls", [])
        for index, call in enumerate(calls):
            if call.get("id") == call_id:
                calls[index] = partial
                step.save(update_fields=["step_details"])
                return step
    return None


@sync_to_async
def _claim_session(thread_id: str) -> bool:
    return SessionHolder.claim(thread_id, WORKER_ID)


# --- on the code interpreter's loop ---------------------------------------------------------


RESTARTED = "the server was restarted since the last call"


async def _execute(thread_id: str, code: str, attachments, on_output, *, held_elsewhere: bool = False):
    """Run ``code`` in the thread's session. ``held_elsewhere``: the thread's last session
    lived in another server process (one that has since stopped)."""
    svc = service()
    session, ended = await svc.session_for(thread_id)
    if ended is None and session.fresh and held_elsewhere:
        ended = RESTARTED
    notes = []
    async with session.lock:
        kernel = session.kernel
        # Files attached since the session started (a CSV sent with a later question) too.
        new = [(name, content) for name, content in attachments if name not in session.given]
        if new or session.fresh:
            session.fresh = False
            for problem in await kernel.put_files(new):
                notes.append(f"[could not copy a file into /mnt/data: {problem}]\n")
            session.given.update(name for name, _ in new)
            session.known = kernel.snapshot()  # what we put there is no output of the code
        result = await kernel.execute(
            code, timeout=settings.CODE_INTERPRETER_TIMEOUT, max_output=settings.CODE_INTERPRETER_MAX_OUTPUT,
            on_output=on_output,
        )
        session.last_used = time.monotonic()
        files: dict[str, bytes] = {}
        if kernel.alive:
            try:
                now = kernel.snapshot()
                changed = [n for n, sig in now.items() if session.known.get(n) != sig]
                for name in changed[: 20]:
                    content = kernel.read_file(name, settings.FILE_MAX_BYTES)
                    if content is not None:
                        files[name] = content
                session.known = now
            except (OSError, KernelError):
                pass
        elif result.killed:
            svc.end_session(thread_id, "its code ignored the interrupt after the time limit, so it was stopped")
        else:
            svc.end_session(thread_id, "its Python process stopped (it was killed or ran out of memory)")
    return result, files, ended, notes


def _summary(result: Execution, ended: str | None, notes: list[str]) -> tuple[list[dict], list[dict]]:
    """(logs to put first, logs to put last) around the execution's own outputs."""
    head, tail = [], []
    if ended:
        head.append({"type": "logs", "logs": f"[New Python session: the previous one ended because {ended}; "
                                             "earlier variables and files are gone.]\n"})
    if notes:
        head.append({"type": "logs", "logs": "".join(notes)})
    limit = settings.CODE_INTERPRETER_MAX_OUTPUT
    end = []
    if result.truncated:
        end.append(f"[… output truncated: {result.truncated:,} more characters not shown (limit {limit:,}).]\n")
    if result.error:
        end.append(result.error.rstrip() + "\n")
    if result.timed_out:
        seconds = settings.CODE_INTERPRETER_TIMEOUT
        end.append(f"TimeoutError: the code ran for more than {seconds:g} seconds and was stopped.\n")
        if result.killed:
            end.append("It did not respond to an interrupt, so its Python session was stopped. "
                       "The next call starts a new session: earlier variables and files are gone.\n")
        elif not result.crashed:
            end.append("The session is still usable; variables set before the timeout are kept.\n")
    if result.crashed:
        end.append("The Python process was killed (it likely ran out of memory). "
                   "The next call starts a new session: earlier variables and files are gone.\n")
    if end:
        tail.append({"type": "logs", "logs": "".join(end)})
    return head, tail


async def run(run, call: tools.ToolCall) -> tools.ToolResult:
    code = code_of(call.arguments)
    attachments = await _attachments(run)
    loop = asyncio.get_running_loop()
    latest: dict[str, Any] = {}
    wake = asyncio.Event()

    def on_output(result: Execution) -> None:  # on the service loop
        logs = [o for o in result.outputs if o["type"] == "logs"]
        snapshot = [dict(o) for o in logs]
        loop.call_soon_threadsafe(lambda: (latest.update(outputs=snapshot), wake.set()))

    async def publish_live() -> None:
        publisher = publisher_of(run)  # the run's own: its events keep one sequence
        while True:
            await wake.wait()
            wake.clear()
            step = await _save_live(run, call.id, entry(call.id, code, latest["outputs"]))
            if step is not None:
                await publisher.run_step(step)

    live = asyncio.create_task(publish_live())
    try:
        held_elsewhere = await _claim_session(run.thread_id)
        result, files, ended, notes = await service().call(
            _execute(run.thread_id, code, attachments, on_output, held_elsewhere=held_elsewhere)
        )
    except SandboxRefused as exc:
        raise ProviderError(str(exc)) from None
    finally:
        live.cancel()
    outputs, saved = await _store_outputs(run, call.id, result, files)
    head, tail = _summary(result, ended, notes)
    outputs = head + outputs + tail
    details = entry(call.id, code, outputs)
    return tools.ToolResult(output=model_output(outputs), details=details)


CODE_INTERPRETER_TOOL = tools.register(
    tools.ServerTool(type=CODE_INTERPRETER, schema=SCHEMA, run=run, replay=replay, pending=pending)
)
