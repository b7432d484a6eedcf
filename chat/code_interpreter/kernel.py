"""One sandboxed Jupyter kernel: start it, run code in it, interrupt it, stop it.

The kernel talks ZMQ over unix-domain sockets (transport "ipc") in a per-kernel runtime
directory bind-mounted into the sandbox: it has no network namespace access at all. All
methods run on the code interpreter's own event loop (see ``sessions``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from jupyter_client.asynchronous import AsyncKernelClient

from chat.code_interpreter import cgroup, sandbox

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MAX_IMAGES = 10



def sandbox_name(filename: str) -> str:
    """The name an attached file has in /mnt/data: no folders, no hidden files."""
    return filename.replace("/", "_").lstrip(".") or "file"

class KernelError(Exception):
    """The kernel could not be started or died."""


@dataclass
class Execution:
    """What one execution produced, in arrival order."""

    outputs: list[dict] = field(default_factory=list)  # {"type": "logs", "logs"} | {"type": "image", "png": bytes}
    error: str | None = None  # readable traceback
    timed_out: bool = False
    crashed: bool = False
    killed: bool = False  # stopped for good after a timeout: it ignored the interrupt
    truncated: int = 0  # characters of output left out
    log_chars: int = 0

    def add_text(self, text: str, cap: int) -> None:
        text = ANSI.sub("", text)
        room = cap - self.log_chars
        if room <= 0:
            self.truncated += len(text)
            return
        if len(text) > room:
            self.truncated += len(text) - room
            text = text[:room]
        self.log_chars += len(text)
        if self.outputs and self.outputs[-1]["type"] == "logs":
            self.outputs[-1]["logs"] += text
        else:
            self.outputs.append({"type": "logs", "logs": text})


def _runtime_root() -> Path:
    """Where each kernel's directory is made. As root, the sandbox's uid must be able to
    walk to it (bwrap resolves its bind sources as that uid), so a TMPDIR it cannot
    traverse gives way to /tmp."""
    parent = Path(tempfile.gettempdir())
    if sandbox.as_root() and not sandbox.reachable_by_others(parent):
        parent = Path("/tmp")
    root = parent / f"tutor-ci-{os.geteuid()}"
    root.mkdir(mode=0o711, exist_ok=True)
    info = root.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise KernelError(f"{root} is not a directory we own")
    os.chmod(root, 0o711)
    return root


class Kernel:
    def __init__(self, *, sandboxed: bool = True) -> None:
        self.sandboxed = sandboxed
        self.process: subprocess.Popen | None = None
        self.cgroup: cgroup.SandboxCgroup | None = None
        self.client: AsyncKernelClient | None = None
        self.child_pid: int | None = None  # the sandbox's pid 1, seen from the host
        self.data_dev: int | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="k", dir=_runtime_root()))
        self.started_at = time.monotonic()

    # --- life ---------------------------------------------------------------------------

    async def start(self) -> None:
        key = secrets.token_hex(32)
        ports = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
        common = {**ports, "transport": "ipc", "key": key, "signature_scheme": "hmac-sha256", "kernel_name": "python3"}
        runtime = self.dir / "run"
        runtime.mkdir(mode=0o700)
        inside = {**common, "ip": f"{sandbox.RUNTIME}/k"} if self.sandboxed else {**common, "ip": str(runtime / "k")}
        (runtime / "kernel.json").write_text(json.dumps(inside))
        if self.sandboxed:
            await self._read_info(self._start_sandboxed(runtime))
        else:
            self._start_bare(runtime)
        client = AsyncKernelClient()
        client.load_connection_info({**common, "ip": str(runtime / "k")})
        self.client = client
        # ipc sockets appear when the kernel binds them; connecting earlier is fine for ZMQ.
        client.start_channels()
        try:
            await self._wait_ready(settings.CODE_INTERPRETER_START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self._drain_stderr()

    def _drain_stderr(self) -> None:
        """Keep reading the kernel's stderr (and dropping it) so a chatty process can
        never block on a full pipe."""
        stream = self.process.stderr
        if stream is None:
            return
        os.set_blocking(stream.fileno(), False)
        loop = asyncio.get_running_loop()

        def drain() -> None:
            try:
                if not os.read(stream.fileno(), 65536):
                    loop.remove_reader(stream.fileno())
            except BlockingIOError:
                pass
            except OSError:
                loop.remove_reader(stream.fileno())

        loop.add_reader(stream.fileno(), drain)

    def _start_sandboxed(self, runtime: Path) -> int:
        limits = sandbox.Limits.from_settings()
        stage = None
        if sandbox.as_root():
            uid = settings.CODE_INTERPRETER_SANDBOX_UID
            # Ours, but passable: the staging mount points in it stay root's.
            os.chmod(self.dir, 0o711)
            os.chown(runtime, uid, uid)
            os.chown(runtime / "kernel.json", uid, uid)
            stage = self.dir / "stage"
            stage.mkdir(mode=0o755)
        read_fd, write_fd = os.pipe()
        try:
            argv = sandbox.command(runtime, write_fd, limits, stage=stage)
            # The sum over all of the sandbox's processes; a few tasks more for bwrap itself.
            self.cgroup = cgroup.SandboxCgroup.create(limits.memory, limits.processes + 8)
            if self.cgroup is not None:
                argv = self.cgroup.wrap(argv)
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=sandbox.host_env(), pass_fds=(write_fd,), start_new_session=True, close_fds=True, cwd="/",
            )
        finally:
            os.close(write_fd)
        return read_fd

    async def _read_info(self, read_fd: int) -> None:
        """bwrap writes {"child-pid": N} on the info fd once the sandbox exists; wait for
        it without blocking the loop (other sessions keep running meanwhile)."""
        loop = asyncio.get_running_loop()
        os.set_blocking(read_fd, False)
        raw = b""
        try:
            while True:
                ready = loop.create_future()
                loop.add_reader(read_fd, lambda ready=ready: ready.done() or ready.set_result(None))
                try:
                    await asyncio.wait_for(ready, settings.CODE_INTERPRETER_START_TIMEOUT)
                finally:
                    loop.remove_reader(read_fd)
                chunk = os.read(read_fd, 4096)
                if not chunk:
                    break
                raw += chunk
                if raw.rstrip().endswith(b"}"):
                    break
        except (asyncio.TimeoutError, OSError):
            pass
        finally:
            os.close(read_fd)
        try:
            self.child_pid = int(json.loads(raw)["child-pid"])
        except (ValueError, KeyError):
            err = b""
            if self.process.poll() is not None or self._wait_exit(2):
                err = self.process.stderr.read() or b""
            self.stop()
            raise KernelError(f"the sandbox could not be created: {err.decode(errors='replace').strip() or 'no reason given'}") from None

    def _wait_exit(self, seconds: float) -> bool:
        try:
            self.process.wait(seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def _start_bare(self, runtime: Path) -> None:
        """An unsandboxed kernel (benchmark baseline, or CODE_INTERPRETER_UNSANDBOXED)."""
        data = self.dir / "data"
        data.mkdir()
        env = {**sandbox.KERNEL_ENV, "PATH": f"{sys.prefix}/bin:/usr/bin:/bin", "HOME": str(self.dir)}
        for key in ("MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
            env[key] = str(self.dir / key.lower())
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", sandbox.BOOTSTRAP, "0", "0", "0", str(runtime / "kernel.json")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env, cwd=data, start_new_session=True,
        )

    async def _wait_ready(self, timeout: float) -> None:
        """Until a kernel_info request is answered on shell *and* its status shows on
        iopub: PUB/SUB drops messages sent before the subscription is live, and an
        execution whose "idle" is lost would wait for its full timeout."""
        deadline = time.monotonic() + timeout
        client = self.client
        while True:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() or b"").decode(errors="replace").strip()
                raise KernelError(f"the kernel exited while starting: {err[-6000:] or self.process.returncode}")
            if time.monotonic() > deadline:
                raise KernelError("the kernel did not start in time")
            msg_id = client.kernel_info()
            # The shell socket queues the request until the kernel is up: wait for the reply...
            while not await self._shell_reply(msg_id, 0.2):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    break
            else:
                # ...then its status on iopub proves the subscription is live (else ask again).
                if await self._seen_on_iopub(msg_id, 0.1):
                    break
        # Drain the rest so executions start from a clean stream.
        while True:
            try:
                await client.get_iopub_msg(timeout=0.02)
            except Exception:
                break
        if self.sandboxed:
            self.data_dev = os.stat(self._data_path()).st_dev

    async def _shell_reply(self, msg_id: str, wait: float) -> bool:
        end = time.monotonic() + wait
        while (remaining := end - time.monotonic()) > 0:
            try:
                msg = await self.client.get_shell_msg(timeout=remaining)
            except Exception:
                return False
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    async def _seen_on_iopub(self, msg_id: str, wait: float) -> bool:
        end = time.monotonic() + wait
        while (remaining := end - time.monotonic()) > 0:
            try:
                msg = await self.client.get_iopub_msg(timeout=remaining)
            except Exception:
                return False
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.client is not None:
            try:
                self.client.stop_channels()
            except Exception:
                pass
            self.client = None
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 9)  # bwrap dies, its pid namespace goes with it
            except ProcessLookupError:
                pass
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None and self.process.stderr and not self.process.stderr.closed:
            try:
                asyncio.get_running_loop().remove_reader(self.process.stderr.fileno())
            except (RuntimeError, ValueError):
                pass  # not on a loop (interpreter exit) or already closed
            self.process.stderr.close()
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- running code -------------------------------------------------------------------

    async def execute(self, code: str, *, timeout: float, max_output: int,
                      on_output: Callable[[Execution], None] | None = None) -> Execution:
        client = self.client
        result = Execution()
        msg_id = client.execute(code, store_history=True, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        images = 0
        last_push = 0.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.timed_out = True
                await self._interrupt_or_kill(msg_id)
                result.killed = not self.alive
                break
            if not self.alive:
                result.crashed = True
                break
            try:
                msg = await client.get_iopub_msg(timeout=min(remaining, 0.5))
            except asyncio.CancelledError:
                self._send_interrupt()  # the run was cancelled: stop its code too
                raise
            except Exception:
                continue  # queue.Empty: check the clock and the process
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "stream":
                result.add_text(content.get("text", ""), max_output)
            elif kind in ("execute_result", "display_data"):
                data = content.get("data", {})
                if "image/png" in data and images < MAX_IMAGES:
                    import base64

                    images += 1
                    result.outputs.append({"type": "image", "png": base64.b64decode(data["image/png"])})
                elif "text/plain" in data:
                    result.add_text(data["text/plain"] + "\n", max_output)
            elif kind == "error":
                text = "\n".join(content.get("traceback") or [f"{content.get('ename')}: {content.get('evalue')}"])
                result.error = ANSI.sub("", text)[-max_output:]
            if on_output is not None and time.monotonic() - last_push > 0.3:
                last_push = time.monotonic()
                on_output(result)
        return result

    def _send_interrupt(self) -> None:
        # By message, not by signal: the process we started is bwrap, not the kernel.
        try:
            self.client.control_channel.send(self.client.session.msg("interrupt_request", {}))
        except Exception:
            pass

    async def _interrupt_or_kill(self, msg_id: str) -> None:
        """Interrupt a runaway execution; a kernel that does not come back is stopped."""
        client = self.client
        self._send_interrupt()
        deadline = time.monotonic() + settings.CODE_INTERPRETER_INTERRUPT_GRACE
        while time.monotonic() < deadline and self.alive:
            try:
                msg = await client.get_iopub_msg(timeout=0.2)
            except Exception:
                continue
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"].get("execution_state") == "idle"):
                return
        self.stop()

    # --- /mnt/data, from the host side --------------------------------------------------

    def _data_path(self) -> str:
        if not self.sandboxed:
            return str(self.dir / "data")
        return f"/proc/{self.child_pid}/root{sandbox.DATA}"

    def _open_data_dir(self) -> int:
        """An fd on the session's /mnt/data; refuses anything that is not that very tmpfs
        (a reused pid would otherwise point into the host's filesystem)."""
        fd = os.open(self._data_path(), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        if self.sandboxed and os.fstat(fd).st_dev != self.data_dev:
            os.close(fd)
            raise KernelError("the session's /mnt/data is gone")
        return fd

    async def put_files(self, files: list[tuple[str, bytes]]) -> list[str]:
        """Copy files into /mnt/data before any user code runs; returns problems.

        The kernel writes them itself: the host cannot create files in a tmpfs that
        belongs to the sandbox's user namespace (its uid is not mapped there)."""
        import base64

        problems = []
        for name, content in files:
            name = sandbox_name(name)
            code = (
                "import base64 as _b\n"
                f"with open({name!r}, 'xb') as _f:\n"
                f"    _f.write(_b.b64decode({base64.b64encode(content).decode()!r}))\n"
                "del _b, _f\n"
            )
            msg_id = self.client.execute(code, silent=True, store_history=False, allow_stdin=False)
            deadline = time.monotonic() + settings.CODE_INTERPRETER_TIMEOUT
            while time.monotonic() < deadline:
                try:
                    reply = await self.client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
                except Exception:
                    break
                if reply["parent_header"].get("msg_id") == msg_id:
                    if reply["content"].get("status") != "ok":
                        problems.append(f"{name}: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
                    break
            else:
                problems.append(f"{name}: timed out")
        return problems

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """name -> (size, mtime_ns) of the regular files at the top of /mnt/data."""
        seen = {}
        dir_fd = self._open_data_dir()
        try:
            for entry in os.scandir(dir_fd):
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    seen[entry.name] = (info.st_size, info.st_mtime_ns)
        finally:
            os.close(dir_fd)
        return seen

    def read_file(self, name: str, limit: int) -> bytes | None:
        """A regular file's bytes (never through a symlink, never a FIFO); None if it is
        not a regular file or is larger than ``limit``."""
        dir_fd = self._open_data_dir()
        try:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            except OSError:
                return None
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
                    return None
                chunks, total = [], 0
                while chunk := os.read(fd, 1 << 20):
                    total += len(chunk)
                    if total > limit:
                        return None
                    chunks.append(chunk)
                return b"".join(chunks)
            finally:
                os.close(fd)
        finally:
            os.close(dir_fd)
