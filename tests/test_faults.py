"""Faults, for real: a write killed half-way, a full disk and a read-only file system (small tmpfs
mounts; skipped where mounting is not permitted), a parent killed with SIGKILL while its workers
run, a Dask scheduler (or every worker) lost mid-sweep, and bad input that must end in one line
and exit 2, never in "internal error"."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from rotationlab.cli import main

PERIOD = ["--start", "2005-01-03", "--end", "2007-12-31"]
#: 2 x 2 x 2 = 8 backtrader combinations (rows appended as they finish)
GRID = ["--grid", "lookback_days=5,10", "--grid", "threshold=0.02:0.03:0.01", "--grid", "commission_bps=1,10"]
#: 4 x 3 x 2 = 24 combinations: more rows than one page of the file system holds
GRID24 = ["--grid", "lookback_days=2,5,10,20", "--grid", "threshold=0.01:0.03:0.01", "--grid", "hold_days=10,20"]
RUN = ["run", *PERIOD, "--no-stats", "--no-pdf", "--no-html"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}


def bt_sweep(out, *extra, grid=GRID):
    return ["sweep", *PERIOD, *grid, "--engine", "backtrader", "--no-pdf", "--no-html", "--no-progress",
            "--out", str(out), *extra]


def cli(*argv, code: str | None = None) -> subprocess.Popen:
    """``run_backtest.py ARGV`` (or ``python -c CODE ARGV``) in its own session."""
    cmd = [sys.executable, "-c", code, *argv] if code else [sys.executable, str(ROOT / "run_backtest.py"), *argv]
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def rows_in(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def wait_rows(proc, path: Path, n: int, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while rows_in(path) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "no rows appeared"
        time.sleep(0.05)


def finish(proc, timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:  # pragma: no cover - a hang: fail, but leave nothing running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def exit_code(argv) -> int:
    """``main(argv)``, or the code argparse exits with (bad flags)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def listed_files_exist(folder: Path) -> bool:
    return all((folder / name).is_file() for name in manifest(folder)["files"])


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "256k", read_only: bool = False):
    """A tmpfs of ``size`` mounted at ``path`` for the block (skip where mounting is not permitted)."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc})")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'not permitted'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


# -- a write killed half-way ---------------------------------------------------------------------
WRITER = """
import sys
from rotationlab.atomic import atomic_write_bytes
a, b = b"a" * (4 << 20), b"b" * (4 << 20)
print("writing", flush=True)
i = 0
while True:
    atomic_write_bytes(sys.argv[1], a if i % 2 else b)
    i += 1
"""


@pytest.mark.slow
def test_a_write_killed_half_way_leaves_the_old_file_or_the_new_one(tmp_path):
    from rotationlab.atomic import TEMP_NAME, clean_temp_files
    target = tmp_path / "big.bin"
    target.write_bytes(b"a" * (4 << 20))
    rng = random.Random(7)
    for _ in range(6):
        proc = cli(str(target), code=WRITER)
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(rng.uniform(0.05, 0.5))
        os.killpg(proc.pid, signal.SIGKILL)
        finish(proc)
        blob = target.read_bytes()
        assert blob in (b"a" * (4 << 20), b"b" * (4 << 20)), "a torn file"
    clean_temp_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if TEMP_NAME.fullmatch(p.name)] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]


# -- a full disk ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_full_disk_is_one_line_and_never_a_complete_manifest(tmp_path, capsys):
    import shutil
    with tmpfs(tmp_path / "small", "32k") as disk:
        for argv in ([*RUN, "--out", str(disk / "run")],
                     ["sweep", *PERIOD, *GRID, "--no-pdf", "--no-html", "--no-progress", "--out", str(disk / "fast")]):
            assert main(argv) == 2
            line = one_line(capsys.readouterr().err)
            assert "the disk is full" in line, line
            out = Path(argv[-1])
            if out.exists():  # what was written, under a manifest that says so; never an empty folder
                assert manifest(out)["status"] != "complete" and listed_files_exist(out)
            shutil.rmtree(out, ignore_errors=True)


@pytest.mark.slow
def test_a_disk_that_fills_up_mid_sweep_keeps_the_rows_and_resumes(tmp_path):
    with tmpfs(tmp_path / "small", "32m") as disk:
        out = disk / "sw"
        proc = cli(*bt_sweep(out, "--jobs", "1", grid=GRID24))
        wait_rows(proc, out / "sweep.csv", 2)
        filler = fill(disk)
        _, err = finish(proc)
        assert proc.returncode == 2, err
        line = one_line(err)
        assert "the disk is full" in line and line.startswith("error: cannot write"), line
        assert manifest(out)["status"] != "complete"
        kept = rows_in(out / "sweep.csv")
        assert 2 <= kept < 24
        filler.unlink()
        proc = cli(*bt_sweep(out, "--jobs", "1", "--resume", grid=GRID24))
        stdout, err = finish(proc)
        assert proc.returncode == 0, err
        assert "already in sweep.csv" in stdout
        lines = (out / "sweep.csv").read_text().splitlines()
        assert len(lines) == 25 and len({ln.rsplit(",", 1)[-1] for ln in lines[1:]}) == 24
        assert manifest(out)["status"] == "complete" and listed_files_exist(out)


# -- a read-only file system ---------------------------------------------------------------------
@pytest.mark.slow
def test_a_read_only_file_system_is_one_line_and_keeps_what_is_there(tmp_path, capsys):
    with tmpfs(tmp_path / "ro", "64k", read_only=True) as ro:
        assert main([*RUN, "--out", str(ro / "x")]) == 2
        assert one_line(capsys.readouterr().err) == (f"error: cannot write into {ro}: the file system is read-only; "
                                                     "choose another --out")
    with tmpfs(tmp_path / "rw", "4m") as disk:
        out = disk / "r"
        assert main([*RUN, "--out", str(out)]) == 0
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        r = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot remount read-only ({r.stderr.strip()})")
        capsys.readouterr()
        for argv in ([*RUN, "--out", str(out)], [*RUN, "--out", str(out), "--force"]):
            assert main(argv) == 2
            assert "the file system is read-only" in one_line(capsys.readouterr().err)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# -- processes die together ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("pool", ["sweep", "confirm"])
def test_workers_die_with_a_parent_killed_by_sigkill(pool, tmp_path):
    """The backtrader sweep's pool (killed once rows appear) and the fast engine's confirmation
    pool (killed once its workers exist)."""
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "sw"
    if pool == "sweep":
        proc = cli(*bt_sweep(out, "--jobs", "2"))
    else:
        proc = cli("sweep", *PERIOD, *GRID24, "--confirm", "6", "--jobs", "2", "--no-pdf", "--no-html",
                   "--no-progress", "--out", str(out))
    try:
        parent = psutil.Process(proc.pid)
        if pool == "sweep":
            wait_rows(proc, out / "sweep.csv", 1)
        t0 = time.monotonic()
        while len(parent.children(recursive=True)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - t0 < 120, "no worker processes appeared"
            time.sleep(0.02)
        kids = parent.children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone, not its process group
        proc.wait(10)

        def alive():
            out = []
            for k in kids:
                try:
                    if k.is_running() and k.status() != psutil.STATUS_ZOMBIE:
                        out.append(k)
                except psutil.NoSuchProcess:
                    pass
            return out
        t0 = time.monotonic()
        while alive() and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        assert not alive(), f"orphaned workers still running: {alive()}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


# -- a lost Dask scheduler, lost workers ---------------------------------------------------------
@contextlib.contextmanager
def dask_cluster(tmp_path, workers: int = 1):
    pytest.importorskip("distributed")
    import socket

    from test_dask import _dask, _free_port, _stop, _wait_for
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []
    try:
        procs.append(_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                           log=tmp_path / "scheduler.log"))

        def listening():
            with socket.socket() as s:
                s.settimeout(0.5)
                return s.connect_ex(("127.0.0.1", port)) == 0
        _wait_for(listening, "the scheduler", procs)
        for i in range(workers):
            procs.append(_dask("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                               "--death-timeout", "60", log=tmp_path / f"worker{i}.log"))
        _wait_for(lambda: all(b"Registered to" in (tmp_path / f"worker{i}.log").read_bytes()
                              for i in range(workers)), "the workers", procs)
        yield address, procs[0], procs[1:]
    finally:
        for p in reversed(procs):
            _stop(p)


def dask_sweep(out, address, *extra):
    return ["sweep", *PERIOD, *GRID24, "--engine", "backtrader", "--no-pdf", "--no-html", "--no-progress",
            "--out", str(out), "--dask-scheduler", address, *extra]


@pytest.mark.slow
def test_a_lost_dask_scheduler_stops_the_sweep_in_one_line_and_it_resumes(tmp_path):
    out = tmp_path / "sw"
    with dask_cluster(tmp_path) as (address, scheduler, _):
        proc = cli(*dask_sweep(out, address))
        try:
            wait_rows(proc, out / "sweep.csv", 3)
            os.killpg(scheduler.pid, signal.SIGKILL)
            t0 = time.monotonic()
            _, err = finish(proc, timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert time.monotonic() - t0 < 30
    assert proc.returncode == 1, err
    line = one_line(err)
    assert line.startswith(f"lost the connection to the Dask scheduler at {address}"), line
    assert "--resume" in line and f"are in {out / 'sweep.csv'}" in line
    for noise in ("distributed.", "tornado", "CommClosedError", "asyncio"):
        assert noise not in err
    kept = rows_in(out / "sweep.csv")
    man = manifest(out)
    assert man["status"] == "stopped" and man["rows"]["written"] == kept < 24
    # the exact command with --resume, here without the lost scheduler
    assert main(["sweep", *PERIOD, *GRID24, "--engine", "backtrader", "--no-pdf", "--no-html", "--no-progress",
                 "--out", str(out), "--jobs", "2", "--resume"]) == 0
    lines = (out / "sweep.csv").read_text().splitlines()
    assert len(lines) == 25 and len({ln.rsplit(",", 1)[-1] for ln in lines[1:]}) == 24
    assert manifest(out)["status"] == "complete"


@pytest.mark.slow
def test_losing_every_dask_worker_stops_the_sweep_in_one_line(tmp_path):
    out = tmp_path / "sw"
    with dask_cluster(tmp_path) as (address, _, workers):
        proc = cli(*dask_sweep(out, address))
        try:
            wait_rows(proc, out / "sweep.csv", 2)
            os.killpg(workers[0].pid, signal.SIGKILL)
            _, err = finish(proc, timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, err
    line = one_line(err)
    assert line.startswith(f"every Dask worker at the scheduler at {address} was lost"), line
    assert "--resume" in line
    assert manifest(out)["status"] == "stopped"


# -- bad input: one line, exit 2, nothing written ------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["run", "--start", "2020-13-45"], "'2020-13-45' is not a date"),
    (["run", "--start", "2010-01-01", "--end", "2005-01-01"], "is after --end"),
    (["run", "--start", "2030-01-01"], "before --start 2030-01-01"),
    (["run", "-p", "threshold=nan"], "must be a finite number"),
    (["run", "-p", "lookback_days=1e100"], "expected a whole number"),
    (["run", "--cash", "nan"], "--cash nan"),
    (["run", "--commission-bps", "inf"], "--commission-bps inf"),
    (["run", "--config", "/nonexistent/x.toml"], "not found"),
    (["run", "--source", "csv", "--data-dir", "/nonexistent"], "is not a folder"),
    (["run", "--strategy", "/nonexistent/rule.py:Rule"], "not found"),
    (["study", "--horizons", "0"], "--horizons"),
    (["signal", "--asof", "garbage"], "is not a date"),
    (["walkforward", "--grid", "lookback_days=5,10", "--is-years", "0"], "must be positive"),
    (["sweep", "--grid", "lookback_days=5,10", "--constraint", "(((((("], "bad --constraint"),
    (["sweep", "--grid", "lookback_days=5,10", "--constraint", "lookback_days > 100"], "impossible constraint"),
    (["sweep", "--grid", "lookback_days=5,10", "--dask-scheduler", "nonsense"], "is not a scheduler address"),
    (["sweep", "--grid", "lookback_days=5,10", "--jobs", "0"], "--jobs 0"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(argv, needle, tmp_path, capsys):
    out = tmp_path / "o"
    extra = [] if argv[0] == "signal" else ["--out", str(out)]
    assert exit_code([*argv, *extra]) == 2
    line = one_line(capsys.readouterr().err)
    assert needle in line, line
    assert not out.exists()


def test_bad_input_in_files_is_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)))
    rule = tmp_path / "rule.py"
    rule.write_text("raise RuntimeError('boom')\n")
    for argv, needle in (([*RUN, "--config", str(deep)], "nested too deeply"),
                         ([*RUN, "--config", str(binary)], "is not UTF-8 text"),
                         ([*RUN, "--strategy", f"{rule}:Rule"], "failed to import: RuntimeError: boom"),
                         (["data", "--symbols", "^DJI", "--out", str(tmp_path)], "it is a folder")):
        assert main([*argv, "--out", str(tmp_path / "o")] if argv[0] == "run" else argv) == 2
        assert needle in one_line(capsys.readouterr().err)
        assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag, value", [("--is-years", "nan"), ("--oos-years", "inf"), ("--is-years", "1e300")])
def test_impossible_window_lengths_are_refused(flag, value, tmp_path, capsys):
    assert main(["walkforward", "--grid", "lookback_days=5,10", flag, value, "--out", str(tmp_path / "o")]) == 2
    one_line(capsys.readouterr().err)


@pytest.mark.parametrize("address, ok", [
    ("tcp://127.0.0.1:8786", True), ("127.0.0.1:8786", True), ("tcp://[::1]:8786", True),
    ("tls://scheduler.example.org:8786/", True), ("tcp://[::1:8786", False), ("tcp://host:99999", False),
    ("tcp://host:0", False), ("tcp://host", False), ("ucx://host:8786", False), ("", False),
    ("tcp://a b:1", False)])
def test_scheduler_addresses_are_checked_before_connecting(address, ok):
    from rotationlab.errors import UserError
    from rotationlab.sweeps import check_address
    if ok:
        assert check_address(address) == address
    else:
        with pytest.raises(UserError, match="is not a scheduler address; use tcp://HOST:PORT"):
            check_address(address)


@pytest.mark.slow
def test_a_bad_study_condition_is_refused(tmp_path, capsys):
    assert main(["study", "--when", "ret(^DJI,1) >", "--n-boot", "10", "--n-null", "10", "--no-pdf", "--no-html",
                 "--out", str(tmp_path / "o")]) == 2
    one_line(capsys.readouterr().err)


# -- where the stop message and the manifest depend on the sweep's own code -----------------------
def test_an_interrupted_sweep_names_the_exact_resume_command(tmp_path, capsys, monkeypatch):
    from rotationlab import sweeps as S
    real = S.run_local

    def stop_after_one(spec, todo, data, jobs, on_row):
        real(spec, todo[:1], data, 1, on_row)
        raise KeyboardInterrupt
    monkeypatch.setattr(S, "run_local", stop_after_one)
    argv = bt_sweep(tmp_path / "sw", "--jobs", "1")
    assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert f"run_backtest.py {' '.join(argv)} --resume" in err, err


def test_a_fast_sweep_that_failed_writing_its_trials_resumes(tmp_path, capsys, monkeypatch):
    import errno

    from rotationlab import sweeps as S

    def full(fd, offset, length):  # trials.npy is mapped into memory: its blocks are reserved first
        raise OSError(errno.ENOSPC, "No space left on device")
    out = tmp_path / "sw"
    argv = ["sweep", *PERIOD, *GRID, "--no-pdf", "--no-html", "--no-progress", "--out", str(out)]
    monkeypatch.setattr(S.os, "posix_fallocate", full)
    assert main(argv) == 2
    monkeypatch.undo()
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0, capsys.readouterr().err
    assert manifest(out)["status"] == "complete"
