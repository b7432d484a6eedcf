"""``manage.py serve`` with bench-only additions, each switched on by an env var:

    BENCH_DELTA_STAMPS=/tmp/stamps.tsv python -m bench.hooked_serve serve --port 8123

This does what ``manage.py`` does (same settings, same ``serve`` command, same Daphne,
engine, channel layer and consumer) after installing, before the command runs:

* ``BENCH_DELTA_STAMPS=<file>`` — a probe: ``Publisher.message_delta`` is wrapped to note
  ``time.monotonic_ns()`` (CLOCK_MONOTONIC, shared by every process on the machine) when
  the engine publishes each text delta. The event sent to the channel layer is unchanged.
  Lines ``message_id<TAB>end_offset<TAB>monotonic_ns`` are kept in memory and written when
  the message completes (before its completion is published), never on the delta path.
  ``{pid}`` in the path becomes the process id: a cluster's workers each write their own
  file (``python -m bench.hooked_serve worker``), merged by bench.levels.read_stamp_files.

* ``BENCH_LAYER_CAPACITY=<n>`` — the channel layer's ``capacity`` (messages waiting per
  channel; for channels_redis, per process for all its consumers) set to n instead of the
  project's setting. For the floor's Redis layer (bench/floor.py), and to check whether
  an engine failure comes from messages dropped at capacity.

Nothing in chat/ is edited.
"""

from __future__ import annotations

import os
import sys
import time


def install_delta_stamps(path: str) -> None:
    from chat.engine import events

    out = open(path.replace("{pid}", str(os.getpid())), "a", buffering=1 << 16)  # noqa: SIM115 - lives as long as the server
    pending: list[str] = []
    original_delta = events.Publisher.message_delta
    original_completed = events.Publisher.message_completed

    async def message_delta(self, message_id: str, offset: int, text: str) -> None:
        produced = time.monotonic_ns()
        pending.append(f"{message_id}\t{offset + len(text)}\t{produced}\n")
        await original_delta(self, message_id, offset, text)

    async def message_completed(self, message) -> None:
        if pending:
            out.writelines(pending)
            pending.clear()
            out.flush()
        await original_completed(self, message)

    events.Publisher.message_delta = message_delta
    events.Publisher.message_completed = message_completed


def set_layer_capacity() -> None:
    """Before anything has made the channel layer (channels builds it on first use)."""
    from django.conf import settings

    if os.environ.get("BENCH_LAYER_CAPACITY"):
        settings.CHANNEL_LAYERS["default"].setdefault("CONFIG", {})["capacity"] = int(os.environ["BENCH_LAYER_CAPACITY"])


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from project import event_loop

    event_loop.install()  # as manage.py does, before Django sets up
    import django

    django.setup()
    set_layer_capacity()
    if os.environ.get("BENCH_DELTA_STAMPS"):
        install_delta_stamps(os.environ["BENCH_DELTA_STAMPS"])
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
