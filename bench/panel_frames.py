"""What a socket's run panel costs per event of a one-turn run: render time and bytes sent.

    DATA_DIR=/tmp/panel-frames .venv/bin/python -m bench.panel_frames [--runs 300] [--live path/to/live.py]

Plays the panel's events of a one-turn run (the run starts, its message step opens and
closes, the run completes; each with its payload, as the engine publishes them) through
``chat.live.RunPanel`` on a fresh database in ``DATA_DIR``, ``--runs`` times, and prints
the median time per event and the bytes the panel sends per run. ``--live``: another
checkout's ``chat/live.py``, loaded in its place (old against new in one process).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.panel_frames", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--live", help="a chat/live.py to measure instead of this checkout's")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from chat import live
    from chat.engine import events, states
    from chat.models import Assistant, Run, RunStep, Thread

    if args.live:
        spec = importlib.util.spec_from_file_location("live_measured", args.live)
        live = importlib.util.module_from_spec(spec)
        sys.modules["live_measured"] = live
        spec.loader.exec_module(live)

    user, _ = get_user_model().objects.get_or_create(username="panel-frames")
    assistant = Assistant.objects.create(owner=user, name="Math Tutor", model="offline")
    thread = Thread.objects.create(owner=user, assistant=assistant, title="Panel frames")
    panel = live.RunPanel(thread)
    panel.render()

    def status(run: Run, seq: int) -> dict:
        return {"type": "run.status", "run_id": run.id, "seq": seq, "run": events.fields_of(run, events.RUN_FIELDS)}

    def step_event(step: RunStep, seq: int) -> dict:
        data = events.fields_of(step, events.STEP_FIELDS, limit=events.PAYLOAD_LIMIT)
        return {"type": "run.step", "run_id": step.run_id, "seq": seq, "step_id": step.id, "step": data}

    times, sizes = [], []
    for _ in range(args.runs):
        run = Run.objects.create(thread=thread, assistant=assistant, model="offline", status=states.IN_PROGRESS)
        run = Run.objects.select_related("assistant").get(pk=run.pk)
        first = {"type": "run.status", "run_id": run.id, "seq": 1, **events._whole_run_payload(run)}
        details = {"type": "message_creation", "message_creation": {"message_id": "msg_1"}}
        step = RunStep.objects.create(run=run, type=RunStep.MESSAGE_CREATION, step_details=details)
        opened = step_event(step, 2)
        step.status = RunStep.COMPLETED
        closed = step_event(step, 4)
        run.status, run.usage = states.COMPLETED, {"prompt_tokens": 30, "completion_tokens": 40, "total_tokens": 70}
        sent = 0
        for event in (first, opened, closed, status(run, 5)):
            start = time.perf_counter()
            sent += len(panel.update([event]).encode())
            times.append(time.perf_counter() - start)
        sizes.append(sent)
        run.save()  # ended: the thread's next run may start
    print(
        f"{args.live or 'this checkout'}: {statistics.median(times) * 1000:.2f} ms per event (median of {len(times)}),"
        f" {statistics.median(sizes):,.0f} bytes per run"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
