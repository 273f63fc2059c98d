"""Worker processes that die with their parent.

:func:`worker_init` is the initializer of every worker pool the project starts: the worker
ignores Ctrl-C (the parent handles it and stops the pool) and, on Linux, asks the kernel to kill
it when its parent dies for any reason, SIGKILL included (``PR_SET_PDEATHSIG``), so no orphaned
worker keeps running after an interrupted sweep.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux); True if set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getppid()
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)
        return True
    except (OSError, AttributeError):
        return False


def worker_init(*_args) -> None:
    """Pool initializer: ignore Ctrl-C, default SIGTERM, die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (inherited on fork)
    die_with_parent()
