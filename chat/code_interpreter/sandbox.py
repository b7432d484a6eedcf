"""The bubblewrap command line that confines one kernel.

Every kernel runs in fresh namespaces (user, mount, pid, net, ipc, uts, cgroup): no
network at all, not even loopback; a read-only view of /usr and of the Python
environment; private size-limited tmpfs mounts for /tmp, /dev/shm and /mnt/data; no view
of the project, its database, media files, environment or secrets. Resource limits are
set inside, just before the kernel starts (``BOOTSTRAP``).

When the server runs as root the sandbox does not: the kernel's processes belong to a
dedicated unprivileged uid outside the namespace (``CODE_INTERPRETER_SANDBOX_UID``).
That matters beyond hygiene: the kernel ignores RLIMIT_NPROC for root, so a fork bomb is
only contained under an ordinary uid. bwrap resolves its bind sources as that uid, and
the interpreter and the venv may live where it cannot look (pyenv under /root, a checkout
in a `mktemp -d` folder: mode 0700), so a root-only outer step first bind-mounts both
read-only, in a private mount namespace, onto a staging directory it can reach.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

SANDBOX_UID_INSIDE = 1000
DATA = "/mnt/data"
RUNTIME = "/run/kernel"  # where the kernel's ZMQ unix sockets live, inside
VENV = "/opt/venv"


class SandboxUnavailable(Exception):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class Limits:
    memory: int  # bytes of address space
    processes: int
    file_size: int  # bytes, per file
    disk: int  # bytes of /mnt/data
    tmp: int  # bytes of /tmp and of /dev/shm

    @classmethod
    def from_settings(cls) -> Limits:
        mib = 2**20
        return cls(
            memory=settings.CODE_INTERPRETER_MEMORY_MB * mib,
            processes=settings.CODE_INTERPRETER_MAX_PROCESSES,
            file_size=settings.CODE_INTERPRETER_MAX_FILE_MB * mib,
            disk=settings.CODE_INTERPRETER_DISK_MB * mib,
            tmp=settings.CODE_INTERPRETER_TMP_MB * mib,
        )


# Runs first inside the sandbox: set the limits, then become the kernel (no exec: saves a
# second interpreter start-up). argv: memory, processes, file_size, connection file; the
# bare benchmark baseline passes 0s (no limits) to start the same way.
BOOTSTRAP = """\
import resource, sys
mem, nproc, fsize, conn = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if mem:
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
# The standard library's JSON for the kernel's messages: jupyter_client takes orjson when it
# is installed (the server uses it), and orjson segfaults on an allocation that RLIMIT_AS
# refuses (a big burst of output), where json raises MemoryError and the output is cut.
sys.argv = ["ipykernel", "-f", conn, "--HistoryManager.enabled=False", "--IPKernelApp.quiet=True",
            "--Session.packer=json", "--Session.unpacker=json"]
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""

KERNEL_ENV = {
    "HOME": "/tmp",
    "PATH": f"{VENV}/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "USER": "sandbox",
    "LOGNAME": "sandbox",
    "TMPDIR": "/tmp",
    # Agg-based, headless; figures are published as image/png at the end of each cell.
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    "IPYTHONDIR": "/tmp/ipython",
    "JUPYTER_CONFIG_DIR": "/tmp/jupyter",
    "JUPYTER_RUNTIME_DIR": "/tmp/jupyter/runtime",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    # glibc gives every thread a 64 MiB malloc arena: address space that RLIMIT_AS counts.
    "MALLOC_ARENA_MAX": "2",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def python_env() -> tuple[Path, Path]:
    """(the venv the kernel uses, the base interpreter's installation it points into)."""
    venv = Path(settings.CODE_INTERPRETER_VENV or sys.prefix)
    return venv, Path(os.path.realpath(sys.base_prefix))


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts"):
        if os.path.exists(name):
            args += ["--ro-bind", name, name]
    return args


def as_root() -> bool:
    return os.geteuid() == 0


def reachable_by_others(path: Path) -> bool:
    """Whether a uid that owns none of its directories can walk down to ``path``."""
    path = Path(os.path.realpath(path))
    return all(os.stat(part).st_mode & stat.S_IXOTH for part in (path, *path.parents))


def command(runtime_dir: Path, info_fd: int, limits: Limits, *, stage: Path | None = None) -> list[str]:
    """The argv that starts a sandboxed kernel whose connection file is
    ``runtime_dir/kernel.json`` (seen inside as /run/kernel/kernel.json).

    ``stage`` (root only): an empty directory that the sandbox's uid can reach; the outer
    step mounts the base interpreter and the venv on it for bwrap to bind from."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    venv, base = python_env()
    host_paths = {"python": base, "venv": venv}
    sources = dict(host_paths)
    if stage is not None:
        for name in host_paths:
            sources[name] = stage / name
            sources[name].mkdir(mode=0o755)
    args = [
        bwrap,
        "--unshare-all",  # user, ipc, pid, net, uts, cgroup namespaces: no network, not even lo
        "--unshare-user",
        "--disable-userns",  # and no nested user namespaces from inside
        "--die-with-parent",
        "--new-session",  # no TIOCSTI into the server's terminal
        "--cap-drop", "ALL",
        "--hostname", "sandbox",
        "--uid", str(SANDBOX_UID_INSIDE), "--gid", str(SANDBOX_UID_INSIDE),
        *_system_binds(),
        "--ro-bind", str(sources["python"]), str(base),
        "--ro-bind", str(sources["venv"]), VENV,
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "1777", "--size", str(limits.tmp), "--tmpfs", "/dev/shm",
        "--perms", "1777", "--size", str(limits.tmp), "--tmpfs", "/tmp",
        "--perms", "0755", "--size", str(limits.disk), "--tmpfs", DATA,
        "--bind", str(runtime_dir), RUNTIME,
        "--remount-ro", "/",
        "--chdir", DATA,
        "--clearenv",
        "--info-fd", str(info_fd),
    ]
    for key, value in KERNEL_ENV.items():
        args += ["--setenv", key, value]
    args += [
        f"{VENV}/bin/python", "-I", "-c", BOOTSTRAP,
        str(limits.memory), str(limits.processes), str(limits.file_size), f"{RUNTIME}/kernel.json",
    ]
    if as_root() and stage is not None:
        # Outer step (root): in a private mount namespace (the host never sees these
        # mounts), expose the interpreter and the venv on the staging directory, resolving
        # their paths and symlinks as root; then drop to the sandbox uid for good and start
        # bwrap, which binds them from there.
        uid = str(settings.CODE_INTERPRETER_SANDBOX_UID)
        inner = " ".join(_quote(a) for a in args)
        mounts = " && ".join(
            f"mount --bind -o ro {_quote(str(host_paths[name]))} {_quote(str(sources[name]))}" for name in host_paths
        )
        script = (
            f"{mounts} && "
            f"exec setpriv --reuid={uid} --regid={uid} --clear-groups --inh-caps=-all --bounding-set=-all {inner}"
        )
        return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script]
    return args


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def host_env() -> dict[str, str]:
    """The environment bwrap itself gets: nothing of ours (the sandbox's pid 1 is bwrap,
    and its /proc/1/environ is readable inside)."""
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


@functools.cache
def probe() -> str | None:
    """None when a sandbox can be created here, else why not (checked once per process)."""
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    try:
        done = subprocess.run(
            [bwrap, "--unshare-all", "--unshare-user", "--ro-bind", "/usr", "/usr", *_system_binds(), "--proc", "/proc",
             "/bin/true"],
            capture_output=True, text=True, timeout=20, env=host_env(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not run: {exc}"
    if done.returncode != 0:
        return f"bubblewrap cannot create a sandbox here: {done.stderr.strip() or done.returncode}"
    return None
