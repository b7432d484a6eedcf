"""A memory and process cgroup around each sandbox, when the host lets us make one.

RLIMIT_AS caps each process, not the sandbox: 64 processes of 512 MiB each could still
take 32 GiB. A cgroup caps the sum (memory, tmpfs pages included) and the number of
tasks, whatever uid they run as. We nest it under the server's own cgroup, so it can only
tighten what the server already has. Both cgroup v2 and the v1 memory/pids hierarchies
are supported; where neither is writable (not root, no delegation) ``create`` returns
None and the per-process limits stand alone, with a warning in the log.
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("chat.code_interpreter")
ROOT = Path("/sys/fs/cgroup")
_swept = False


def _own_paths() -> dict[str, str]:
    """controller -> this process's cgroup path ('' for the v2 unified hierarchy)."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _rmdir(directory: Path) -> bool:
    try:
        directory.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


@dataclass
class SandboxCgroup:
    dirs: list[Path]

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def wrap(self, argv: list[str]) -> list[str]:
        """argv, started from a shell that first joins the cgroup (children inherit it)."""
        joins = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in self.procs_files)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sandbox-cgroup", *argv]

    def remove(self, wait: float = 2.0) -> None:
        """Kill whatever is left inside, then remove the group once the kernel has reaped
        its tasks (rmdir fails while any remain, a few milliseconds after a kill)."""
        deadline = time.monotonic() + wait
        for procs in self.procs_files:
            try:
                for pid in procs.read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        pending = list(self.dirs)
        while pending:
            pending = [d for d in pending if not _rmdir(d)]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        for directory in pending:
            logger.warning("cgroup %s still busy; removed at the next start-up sweep", directory)

    @staticmethod
    def sweep_stale() -> int:
        """Remove empty sandbox groups a previous process left behind. Returns how many."""
        own, removed = _own_paths(), 0
        parents = [ROOT / c / own[c].lstrip("/") for c in ("memory", "pids") if c in own and (ROOT / c).is_dir()]
        if not parents and (ROOT / "cgroup.controllers").exists():
            parents = [ROOT / own.get("", "/").lstrip("/")]
        for parent in parents:
            for directory in parent.glob("assistants-sandbox-*"):
                removed += _rmdir(directory)
        return removed

    @classmethod
    def create(cls, memory_bytes: int, tasks: int) -> SandboxCgroup | None:
        global _swept
        if not _swept:  # once per process: groups a crashed predecessor left behind
            _swept = True
            try:
                cls.sweep_stale()
            except OSError:
                pass
        name = f"assistants-sandbox-{secrets.token_hex(6)}"
        own = _own_paths()
        made: list[Path] = []
        try:
            if "memory" in own and (ROOT / "memory").is_dir():  # v1
                memory = ROOT / "memory" / own["memory"].lstrip("/") / name
                memory.mkdir()
                made.append(memory)
                (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                if "pids" in own and (ROOT / "pids").is_dir():
                    pids = ROOT / "pids" / own["pids"].lstrip("/") / name
                    pids.mkdir()
                    made.append(pids)
                    (pids / "pids.max").write_text(str(tasks))
            elif (ROOT / "cgroup.controllers").exists():  # v2
                parent = ROOT / own.get("", "/").lstrip("/")
                if not {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
                    raise OSError("memory and pids are not delegated to our cgroup's children")
                group = parent / name
                group.mkdir()
                made.append(group)
                (group / "memory.max").write_text(str(memory_bytes))
                (group / "memory.swap.max").write_text("0")
                (group / "pids.max").write_text(str(tasks))
            else:
                raise OSError("no cgroup hierarchy with a memory controller is mounted")
        except OSError as exc:
            for directory in reversed(made):
                try:
                    directory.rmdir()
                except OSError:
                    pass
            logger.warning("no cgroup for the sandbox (%s): memory is limited per process only", exc)
            return None
        return cls(made)


def available() -> bool:
    group = SandboxCgroup.create(64 * 2**20, 8)
    if group is None:
        return False
    group.remove()
    return True
