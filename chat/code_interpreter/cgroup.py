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
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("chat.code_interpreter")
ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """controller -> this process's cgroup path ('' for the v2 unified hierarchy)."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


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

    def remove(self) -> None:
        for directory in self.dirs:
            try:
                directory.rmdir()
            except OSError:
                pass  # still has tasks a moment after a kill: harmless, the kernel frees it later

    @classmethod
    def create(cls, memory_bytes: int, tasks: int) -> SandboxCgroup | None:
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
