"""Which process this is, for ``Run.worker``: recovery tells this process's runs from
orphans by it, and code_interpreter names the process that holds a thread's kernel."""

from __future__ import annotations

import os
import secrets

WORKER_ID = f"{os.uname().nodename[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
