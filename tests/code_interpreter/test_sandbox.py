"""Hostile code against the real sandbox: each attack is stopped, and afterwards the
session (or a fresh one) still works and other users' sessions are unaffected."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from django.conf import settings as django_settings

from tests.code_interpreter.conftest import logs_of, run_code
from tests.conftest import skip_or_fail


async def assert_others_still_served(new_thread_id) -> None:
    result, *_ = await run_code(new_thread_id(), "print(6 * 7)")
    assert logs_of(result).strip() == "42"


async def test_code_runs_as_an_unprivileged_user_in_a_private_filesystem(new_thread_id):
    result, *_ = await run_code(new_thread_id(), (
        "import os, resource\n"
        "print(os.getcwd(), os.getuid())\n"
        "print(sorted(os.listdir('/')))\n"
        "print(resource.getrlimit(resource.RLIMIT_NPROC)[0], resource.getrlimit(resource.RLIMIT_AS)[0] >> 20)\n"
        "open('/usr/x', 'w')\n"
    ))
    out = logs_of(result)
    assert "/mnt/data 1000" in out
    assert "'work'" not in out and "'home'" not in out
    assert f"{django_settings.CODE_INTERPRETER_MAX_PROCESSES} {django_settings.CODE_INTERPRETER_MEMORY_MB}" in out
    assert "Read-only file system" in out


async def test_an_infinite_loop_times_out_and_the_session_stays_usable(settings, new_thread_id):
    settings.CODE_INTERPRETER_TIMEOUT = 1.5
    thread_id = new_thread_id()
    await run_code(thread_id, "kept = 'still here'")
    started = time.monotonic()
    result, *_ = await run_code(thread_id, "while True:\n    pass")
    assert result.timed_out and time.monotonic() - started < 1.5 + settings.CODE_INTERPRETER_INTERRUPT_GRACE + 2
    after, _, ended, _ = await run_code(thread_id, "print(kept)")
    assert logs_of(after).strip() == "still here" and ended is None
    await assert_others_still_served(new_thread_id)


async def test_a_memory_hog_gets_a_memory_error_or_is_killed(new_thread_id):
    thread_id = new_thread_id()
    result, *_ = await run_code(thread_id, "a = []\nwhile True:\n    a.append(' ' * 10**6)")
    assert "MemoryError" in logs_of(result) or result.crashed
    # A kernel left at its limit may die on the next allocation: then the following call
    # gets a fresh session, and says why.
    after, _, ended, _ = await run_code(thread_id, "a = None\nprint('alive')")
    if after.crashed:
        after, _, ended, _ = await run_code(thread_id, "print('alive')")
        assert "stopped" in ended
    assert "alive" in logs_of(after)
    await assert_others_still_served(new_thread_id)


async def test_a_fork_bomb_is_contained_by_the_process_limit(new_thread_id):
    result, *_ = await run_code(new_thread_id(), (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(3); os._exit(0)\n"
        "        children += 1\n"
        "except OSError as exc:\n"
        "    print('stopped after', children, exc.errno)\n"
    ))
    out = logs_of(result)
    assert "stopped after" in out
    assert int(out.split("stopped after")[1].split()[0]) < django_settings.CODE_INTERPRETER_MAX_PROCESSES
    await assert_others_still_served(new_thread_id)


async def test_writing_ten_gigabytes_is_stopped_by_the_disk_limit(settings, new_thread_id):
    result, *_ = await run_code(new_thread_id(), (
        "import errno, os\n"
        "block, written = b'0' * (1 << 20), 0\n"
        "try:\n"
        "    for n in range(10 * 1024 // 50):\n"
        "        with open(f'/mnt/data/fill{n}', 'wb') as f:\n"
        "            for _ in range(50):\n"
        "                f.write(block); written += 1\n"
        "except OSError as exc:\n"
        "    print('stopped', written, errno.errorcode[exc.errno])\n"
        "for name in os.listdir('/mnt/data'):\n"
        "    os.remove('/mnt/data/' + name)\n"
    ))
    out = logs_of(result)
    assert "stopped" in out and ("ENOSPC" in out or "EFBIG" in out)
    assert int(out.split("stopped")[1].split()[0]) <= settings.CODE_INTERPRETER_DISK_MB + 1
    await assert_others_still_served(new_thread_id)


async def test_a_single_huge_file_is_stopped_by_the_file_size_limit(new_thread_id):
    result, *_ = await run_code(new_thread_id(), (
        "try:\n"
        "    with open('/tmp/big', 'wb') as f:\n"
        "        for _ in range(10 * 1024): f.write(b'0' * (1 << 20))\n"
        "except OSError as exc:\n"
        "    print('stopped', exc.strerror)\n"
    ))
    assert "stopped" in logs_of(result)


async def test_there_is_no_network_not_even_the_hosts_loopback(new_thread_id):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        result, *_ = await run_code(new_thread_id(), (
            "import socket\n"
            "for target in [('127.0.0.1', %d), ('pypi.org', 443), ('1.1.1.1', 53)]:\n"
            "    try:\n"
            "        socket.create_connection(target, timeout=2); print('CONNECTED', target)\n"
            "    except OSError as exc:\n"
            "        print('refused', target, type(exc).__name__)\n"
            "try:\n"
            "    socket.getaddrinfo('example.com', 80); print('RESOLVED')\n"
            "except OSError:\n"
            "    print('no dns')\n" % port
        ))
        out = logs_of(result)
        assert "CONNECTED" not in out and "RESOLVED" not in out and "no dns" in out
        assert out.count("refused") == 3
        assert not accepted  # the app's port saw nothing
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # while it is reachable from the host
    finally:
        listener.close()


async def test_none_of_our_files_environment_or_secrets_are_visible(new_thread_id):
    db_path = str(django_settings.DATABASES["default"]["NAME"])
    secret = django_settings.SECRET_KEY
    settings_file = str(django_settings.BASE_DIR / "project" / "settings.py")
    os.environ["CI_TEST_SECRET_MARKER"] = "hunter2-marker"
    try:
        result, *_ = await run_code(new_thread_id(), (
            "import os, glob\n"
            f"for path in [{settings_file!r}, {db_path!r}, {str(django_settings.DATA_DIR)!r}, '/proc/1/environ', "
            "'/proc/self/environ', '/root', '/etc/passwd', '/etc/shadow']:\n"
            "    try:\n"
            "        data = open(path, 'rb').read() if not os.path.isdir(path) else os.listdir(path)\n"
            "        print('READ', path, repr(data)[:300])\n"
            "    except OSError as exc:\n"
            "        print('denied', path, type(exc).__name__)\n"
            "print('ENV', dict(os.environ))\n"
            "print('PROCS', sorted(os.listdir('/proc'))[:40])\n"
        ))
    finally:
        del os.environ["CI_TEST_SECRET_MARKER"]
    out = logs_of(result)
    assert "READ " + settings_file not in out and "READ " + db_path not in out
    assert "hunter2-marker" not in out and secret not in out
    assert "DJANGO_SETTINGS_MODULE" not in out and "/work" not in out.split("ENV", 1)[1]
    environ_line = next(line for line in out.splitlines() if "/proc/1/environ" in line)
    assert "SECRET" not in environ_line and "DJANGO" not in environ_line


async def test_a_hundred_megabytes_of_output_is_truncated_with_a_note(settings, new_thread_id):
    settings.CODE_INTERPRETER_TIMEOUT = 20.0
    result, *_ = await run_code(new_thread_id(), "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(100 * 1024):\n    sys.stdout.write(line)\nprint('done')")
    assert result.truncated > 0
    kept = sum(len(o["logs"]) for o in result.outputs if o["type"] == "logs")
    assert kept <= settings.CODE_INTERPRETER_MAX_OUTPUT
    await assert_others_still_served(new_thread_id)


async def test_symlinks_out_of_mnt_data_are_never_followed_by_the_host(new_thread_id):
    thread_id = new_thread_id()
    result, files, *_ = await run_code(thread_id, (
        "import os\n"
        "os.symlink('/etc/hostname', '/mnt/data/host-file')\n"
        "os.mkfifo('/mnt/data/pipe')\n"
        "open('/mnt/data/real.txt', 'w').write('ok')\n"
    ))
    assert set(files) == {"real.txt"} and files["real.txt"] == b"ok"


@pytest.mark.django_db
def test_settings_give_the_documented_defaults():
    from chat.code_interpreter.sandbox import Limits

    limits = Limits.from_settings()
    assert limits.memory == 512 * 2**20 and limits.processes == 64


async def test_a_cancelled_call_interrupts_its_code(new_thread_id):
    import asyncio

    thread_id = new_thread_id()
    await run_code(thread_id, "x = 1")
    task = asyncio.ensure_future(run_code(thread_id, "while True:\n    pass"))
    await asyncio.sleep(0.5)
    task.cancel()
    started = time.monotonic()
    result, *_ = await run_code(thread_id, "print(x + 1)")
    assert logs_of(result).strip() == "2" and time.monotonic() - started < 3


async def test_the_first_call_in_a_thread_takes_a_warm_kernel_and_the_pool_refills(new_thread_id):
    import asyncio

    from chat.code_interpreter.sessions import service

    async def fill_then_take(thread_id):
        svc = service()
        await svc._fill()
        warm = svc.pool[0]
        started = time.monotonic()
        session, _ = await svc.session_for(thread_id)
        took = time.monotonic() - started
        await asyncio.sleep(0.2 + 0.1)
        await svc._filling
        return session.kernel is warm, took, len(svc.pool)

    from_pool, took, refilled = await service().call(fill_then_take(new_thread_id()))
    assert from_pool and took < 0.1 and refilled == 1


async def test_code_that_ignores_the_interrupt_is_stopped_and_the_next_call_starts_fresh(settings, new_thread_id):
    settings.CODE_INTERPRETER_TIMEOUT = 1.0
    settings.CODE_INTERPRETER_INTERRUPT_GRACE = 1.0
    thread_id = new_thread_id()
    result, *_ = await run_code(thread_id, (
        "while True:\n"
        "    try:\n"
        "        while True:\n"
        "            pass\n"
        "    except KeyboardInterrupt:\n"
        "        pass\n"
    ))
    assert result.timed_out and result.killed
    after, _, ended, _ = await run_code(thread_id, "print('fresh')")
    assert logs_of(after).strip() == "fresh" and "ignored the interrupt" in ended
    await assert_others_still_served(new_thread_id)


async def test_unsandboxed_mode_is_explicit_and_warns_loudly(settings, new_thread_id, caplog):
    settings.CODE_INTERPRETER_UNSANDBOXED = True
    result, *_ = await run_code(new_thread_id(), "import os\nprint(os.path.exists('/mnt/data'), os.getcwd().endswith('/data'))")
    assert logs_of(result).strip() == "False True"  # a bare kernel: not in the sandbox
    assert "CODE_INTERPRETER_UNSANDBOXED is on" in caplog.text


async def test_memory_is_capped_for_the_whole_sandbox_not_just_per_process(new_thread_id):
    """Three processes of 300 MiB each fit under the per-process RLIMIT_AS, but not under
    the sandbox's 512 MiB cgroup: at least one of them (or the kernel) is killed."""
    from chat.code_interpreter import cgroup

    if not cgroup.available():
        skip_or_fail("cannot create a memory cgroup here (needs root or cgroup delegation)")
    result, *_ = await run_code(new_thread_id(), (
        "import subprocess, sys\n"
        "hog = 'b = bytearray(300 * 2**20)\\nfor i in range(0, len(b), 4096): b[i] = 1\\nimport time; time.sleep(4)'\n"
        "procs = [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(3)]\n"
        "codes = [p.wait() for p in procs]\n"
        "print('survivors', sum(c == 0 for c in codes), codes)"
    ))
    logs = logs_of(result)
    assert "survivors 3" not in logs, logs
    await assert_others_still_served(new_thread_id)


def test_removing_a_sandbox_cgroup_kills_what_is_left_and_leaves_nothing_behind():
    import subprocess

    from chat.code_interpreter import cgroup

    if not cgroup.available():
        skip_or_fail("cannot create a memory cgroup here (needs root or cgroup delegation)")
    group = cgroup.SandboxCgroup.create(64 * 2**20, 16)
    process = subprocess.Popen(group.wrap(["sleep", "60"]))
    for _ in range(100):  # until the shell has joined the group and exec'd sleep
        if group.procs_files[0].read_text().split():
            break
        time.sleep(0.01)
    assert group.procs_files[0].read_text().split() == [str(process.pid)]
    group.remove()
    assert process.wait(5) == -9
    assert not any(d.exists() for d in group.dirs)
