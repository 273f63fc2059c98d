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


class Background:
    """``fn()`` computed in a forked child while the caller goes on; :meth:`get` returns its value.

    The child inherits the caller's memory (nothing is pickled on the way in); its return value
    comes back pickled through a pipe, read by a thread so the child never blocks. Where a fork is
    not safe or possible (not Linux, other threads running, ``ROTATIONLAB_NO_FORK`` set) or the
    child fails, ``fn`` runs in the caller instead: the value is the same either way."""

    def __init__(self, fn):
        import threading
        self.fn, self.pid, self._data, self._reader = fn, None, None, None
        if (not sys.platform.startswith("linux") or os.environ.get("ROTATIONLAB_NO_FORK")
                or threading.active_count() > 1):
            return
        r, w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
            code = 0
            try:
                os.close(r)
                worker_init()
                import pickle
                data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(w, "wb") as f:
                    f.write(data)
            except BaseException:  # noqa: BLE001 - the parent recomputes
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        self.pid = pid
        chunks: list[bytes] = []

        def read():
            with os.fdopen(r, "rb") as f:
                while True:
                    b = f.read(1 << 20)
                    if not b:
                        break
                    chunks.append(b)
            self._data = b"".join(chunks)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def get(self):
        if self.pid is None:
            return self.fn()
        self._reader.join()
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        if os.waitstatus_to_exitcode(status) == 0 and self._data:
            import pickle
            return pickle.loads(self._data)
        return self.fn()

    def close(self) -> None:
        """Stop and reap the child if :meth:`get` was never called (an error on the way)."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None


def stop_pool(pool) -> None:
    """Drop what is queued in a ProcessPoolExecutor and stop its workers now (Ctrl-C or an error:
    ``shutdown(wait=True)``, as ``with`` does, would wait for every queued task)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(5)
        if proc.is_alive():  # pragma: no cover - a worker stuck in uninterruptible code
            proc.kill()
            proc.join(1)


def forked_map(fn, items, jobs: int, chunksize: int = 1) -> list:
    """``[fn(x) for x in items]`` in ``jobs`` forked worker processes that die with this one; the
    workers are stopped at once on Ctrl-C or an error."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("fork"), initializer=worker_init)
    try:
        out = list(pool.map(fn, items, chunksize=chunksize))
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    return out
