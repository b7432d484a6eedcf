"""Public object ids in the Assistants API style: ``asst_…``, ``thread_…``, ``run_…``."""

import re
import secrets
import string
import threading
import time

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    # 24 random alphanumerics: ~143 bits, the same look as the hosted API's ids.
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def id_factory(prefix: str):
    def make() -> str:
        return new_id(prefix)

    make.__name__ = f"new_{prefix}_id"
    make.__qualname__ = make.__name__
    return make


new_asst_id = id_factory("asst")
new_thread_id = id_factory("thread")
new_msg_id = id_factory("msg")
new_run_id = id_factory("run")
new_step_id = id_factory("step")


new_call_id = id_factory("call")

# What a tool-call id from a model server may look like to be kept as it is.
_CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def looks_like_call_id(value: str) -> bool:
    return bool(_CALL_ID.fullmatch(value))


def new_file_id() -> str:
    # The hosted API spells file ids with a hyphen: file-abc123…
    return new_id("file").replace("file_", "file-", 1)


_last_seq = 0
_seq_lock = threading.Lock()


def next_seq() -> int:
    """A strictly increasing number (nanoseconds since the epoch, bumped on ties)."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(time.time_ns(), _last_seq + 1)
        return _last_seq
