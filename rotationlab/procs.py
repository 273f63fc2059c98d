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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _send(fd: int, kind: bytes, obj=None) -> None:
    """One message of a helper to its caller: a kind byte, a length, a pickle (none for ``D``)."""
    import pickle
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL) if kind != b"D" else b""
    _write_all(fd, kind + len(data).to_bytes(8, "little") + data)


def _read_exact(f, n: int) -> bytes | None:
    data = f.read(n)
    return data if data is not None and len(data) == n else None


def _serve(w: int, jr: int | None, fn, prepare, twin: tuple | None) -> None:
    """The body of a helper process (never returns): prepare, fork the twin if asked, take the
    work (``fn``, or the job read from ``jr``), stream its items into ``w``; a helper with a twin
    waits for it before leaving, so the twin, which dies with its parent, is never cut short."""
    import pickle
    code, twin_pid = 0, None
    try:
        work, args = fn, ()
        if fn is None:
            if prepare is not None:
                _resolve(prepare)()
            if twin is not None:  # a second helper with everything prepared (and nothing to import)
                tw, tjr = twin
                twin_pid = os.fork()
                if twin_pid == 0:
                    os.close(w)
                    os.close(jr)
                    worker_init()
                    _serve(tw, tjr, None, None, None)
                os.close(tw)
                os.close(tjr)
            with os.fdopen(jr, "rb") as f:
                head = _read_exact(f, 8)
                if head is None:  # the caller closed us without work
                    raise SystemExit
                work, args = pickle.loads(f.read(int.from_bytes(head, "little")))
        out = _resolve(work)(*args)
        for item in (out if _is_stream(out) else [out]):
            _send(w, b"I", item)
        _send(w, b"D")
    except SystemExit:
        pass
    except BaseException:  # noqa: BLE001 - the caller does the work instead
        code = 1
    finally:
        if twin_pid is not None:
            try:
                os.waitpid(twin_pid, 0)
            except OSError:
                pass
        os._exit(code)


class _Channel:
    """The caller's side of one helper: its job pipe, and a thread reading its items into a queue."""

    def __init__(self, fn=None):
        import queue
        self.fn, self.args = fn, ()
        self._queue: queue.Queue = queue.Queue()
        self._job_w = None
        self._got = 0
        self.forked = False

    def _listen(self, r: int, name: str) -> None:
        import threading

        def read():
            import pickle
            with os.fdopen(r, "rb") as f:
                while True:
                    head = _read_exact(f, 9)
                    if head is None:
                        break
                    if head[:1] == b"D":
                        self._queue.put(("done", None))
                        return
                    data = _read_exact(f, int.from_bytes(head[1:], "little"))
                    if data is None:
                        break
                    self._queue.put(("item", pickle.loads(data)))
            self._queue.put(("failed", None))

        self.forked = True
        threading.Thread(target=read, daemon=True, name=f"{_THREAD}-read-{name}").start()

    def submit(self, fn, *args):
        """Send the waiting helper its work (a writer thread pipes it, so this never blocks)."""
        import pickle
        import threading
        self.fn, self.args = fn, args
        if self._job_w is not None:
            fd, self._job_w = self._job_w, None
            data = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)

            def write():
                try:
                    _write_all(fd, len(data).to_bytes(8, "little") + data)
                except OSError:  # the helper is gone: items() does the work here
                    pass
                finally:
                    os.close(fd)
            threading.Thread(target=write, daemon=True, name=f"{_THREAD}-send").start()
        return self

    def items(self):
        """The work's items, in order, as the helper sends them (or as computed here)."""
        if self.forked:
            while True:
                kind, item = self._queue.get()
                if kind != "item":
                    break
                self._got += 1
                yield item
            self.forked = False
            if kind == "done":  # the helper leaves on its own: reaped meanwhile, not waited for here
                self._reap_later()
                return
            self._reap()
        out = _resolve(self.fn)(*self.args)
        for k, item in enumerate(out if _is_stream(out) else [out]):
            if k >= self._got:
                self._got += 1
                yield item

    def get(self):
        """The value of a function's work."""
        return next(iter(self.items()))

    def _reap(self) -> None:
        pass

    def _reap_later(self) -> None:
        pass

    def close(self) -> None:
        if self._job_w is not None:
            os.close(self._job_w)
            self._job_w = None


class Helper(_Channel):
    """A forked child that works for the caller while it goes on, and streams back what it
    produces (pickled, through a pipe that a thread reads, so the child never blocks).

    * ``Helper(fn)``: the child computes ``fn()`` at once; it inherits the caller's memory, so
      nothing is pickled on the way in.
    * ``Helper(prepare=warm_up)``: the child runs ``prepare()`` at once (imports, say) and waits;
      :meth:`submit` sends it the work later (``fn`` by reference, the arguments pickled).
      Either function may be a ``"module:name"`` string, imported in the child.
    * ``twin=True`` (with ``prepare``): once prepared, the child forks a second helper,
      :attr:`twin`, which shares what was prepared (nothing imported twice) and takes its own
      work (``helper.twin.submit``, ``helper.twin.items()``).

    ``nice`` lowers the children's priority (os.nice): helpers preparing beside a busy caller
    leave it the CPU. :meth:`items` yields the work's items as they arrive (a generator's items;
    a function's return value is one item); :meth:`get` returns the single value of a function.
    Where a fork is not safe or possible (not Linux, other threads running,
    ``ROTATIONLAB_NO_FORK`` set) or a child fails, the caller does the work itself: the items are
    the same either way, and those already received are not repeated. The children die with the
    caller (worker_init: the helper with the caller, its twin with the helper, which waits for it)."""

    def __init__(self, fn=None, *, prepare=None, nice: int = 0, twin: bool = False):
        super().__init__(fn)
        self.pid = None
        self.twin = _Channel() if twin else None
        if not sys.platform.startswith("linux") or os.environ.get("ROTATIONLAB_NO_FORK") or _other_threads():
            return
        r, w = os.pipe()
        jr, jw = os.pipe() if fn is None else (None, None)
        tr, tw, tjr, tjw = (*os.pipe(), *os.pipe()) if twin and fn is None else (None,) * 4
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: work, stream, leave without running the parent's exit handlers
            for fd in (r, jw, tr, tjw):
                if fd is not None:
                    os.close(fd)
            try:
                worker_init()
                if nice:
                    os.nice(nice)
            finally:
                _serve(w, jr, fn, prepare, (tw, tjr) if tw is not None else None)
        for fd in (w, jr, tw, tjr):
            if fd is not None:
                os.close(fd)
        self.pid = pid
        self._job_w = jw
        self._listen(r, str(pid))
        if tr is not None:
            self.twin._job_w = tjw
            self.twin._listen(tr, f"{pid}-twin")

    def _reap(self) -> None:
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None

    def _reap_later(self) -> None:
        """Reap the child in a thread once it has left (a large process takes a while to go)."""
        import threading
        pid, self.pid = self.pid, None
        if pid is not None:
            threading.Thread(target=lambda: _waitpid(pid), daemon=True, name=f"{_THREAD}-reap-{pid}").start()

    def close(self, wait: float = 0.3) -> None:
        """Stop and reap the child (and its twin) if their work was not collected (an error on
        the way): helpers still waiting for work leave on their own once their job pipes close
        (the helper reaps its twin); one still working after ``wait`` seconds is killed (its
        twin dies with it)."""
        super().close()
        if self.twin is not None:
            self.twin.close()
        if self.pid is None:
            return
        import time
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
            except OSError:
                done = self.pid
            if done:
                self.pid = None
                return
            time.sleep(0.01)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        self._reap()


_THREAD = "rotationlab-helper"


def _waitpid(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def _other_threads() -> bool:
    """Threads other than this one and the helpers' own pipe readers and writers (which hold no
    lock a forked child could need): forking beside them is not safe."""
    import threading
    return any(t is not threading.current_thread() and not t.name.startswith(_THREAD)
               for t in threading.enumerate())


def _resolve(fn):
    """``fn``, or the function a ``"module:name"`` string names (imported where it runs: a caller
    can hand a helper work from modules it never imports itself)."""
    if isinstance(fn, str):
        import importlib
        module, _, name = fn.partition(":")
        return getattr(importlib.import_module(module), name)
    return fn


def _is_stream(x) -> bool:
    import types
    return isinstance(x, types.GeneratorType)


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
