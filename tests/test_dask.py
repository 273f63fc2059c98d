"""The sweep on a real Dask distributed cluster: a scheduler and two workers started as processes on
127.0.0.1, the same rows as a local run, and a worker killed mid-sweep without losing anything."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from rotationlab.cli import main

pytest.importorskip("distributed")

PERIOD = ["--start", "2005-01-03", "--end", "2007-12-31"]
#: 4 x 3 x 2 = 24 combinations: long enough to kill a worker in the middle
GRID = ["--grid", "lookback_days=2,5,10,20", "--grid", "threshold=0.01:0.03:0.01", "--grid", "hold_days=10,20"]
START_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args, log: Path) -> subprocess.Popen:
    """``python -m dask ...`` in its own process group, able to import the project."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "MPLBACKEND": "Agg"}
    fh = open(log, "wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        fh.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for(predicate, what: str, procs=(), timeout=START_TIMEOUT):
    t0 = time.monotonic()
    while not predicate():
        for p in procs:
            assert p.poll() is None, f"{what}: a dask process exited with {p.returncode}"
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``{"address", "scheduler", "workers", "logs"}``: a scheduler and two single-threaded workers
    (one cluster for the module; the last test kills a worker)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask-logs")
    procs = []
    try:
        scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                          log=logs / "scheduler.log")
        procs.append(scheduler)

        def listening():
            with socket.socket() as s:
                s.settimeout(0.5)
                return s.connect_ex(("127.0.0.1", port)) == 0
        _wait_for(listening, "the scheduler", procs)
        workers = []
        for i in (1, 2):
            w = _dask("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", f"w{i}",
                      "--death-timeout", "60", log=logs / f"worker{i}.log")
            procs.append(w)
            workers.append(w)
        _wait_for(lambda: all(b"Registered to" in (logs / f"worker{i}.log").read_bytes() for i in (1, 2)),
                  "two workers", procs)
        yield {"address": address, "scheduler": scheduler, "workers": workers, "logs": logs}
    finally:
        for p in reversed(procs):
            _stop(p)


def _rows(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def test_dask_resume_recomputes_nothing_already_written(cluster, tmp_path):
    out = tmp_path / "dask"
    argv = ["sweep", *PERIOD, "--grid", "lookback_days=5,10", "--grid", "threshold=0.02,0.03", "--no-pdf",
            "--no-progress", "--out", str(out)]
    assert main([*argv, "--dask-scheduler", cluster["address"]]) == 0
    lines = (out / "sweep.csv").read_text().splitlines(keepends=True)
    (out / "sweep.csv").write_text("".join(lines[:3]))  # keep two rows
    assert main([*argv, "--dask-scheduler", cluster["address"], "--resume"]) == 0
    assert (out / "sweep.csv").read_text() == "".join(lines)
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete"


def test_dask_sweep_matches_local_and_survives_a_killed_worker(cluster, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "dask"
    argv = ["sweep", *PERIOD, *GRID, "--engine", "backtrader", "--no-pdf", "--no-progress"]  # rows stream as they finish
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_backtest.py"), *argv, "--out", str(remote),
                             "--dask-scheduler", cluster["address"]], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(lambda: _rows(remote / "sweep.csv") >= 3, "the first rows from the cluster", [proc], timeout=90)
        assert _rows(remote / "sweep.csv") < 24, "the sweep finished before a worker could be killed"
        victim = cluster["workers"][0]
        os.killpg(victim.pid, signal.SIGKILL)  # the nanny and its worker process
        victim.wait(10)
        killed_at = _rows(remote / "sweep.csv")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 0, err
    assert killed_at < 24
    assert main([*argv, "--out", str(local), "--jobs", "2"]) == 0  # the reference: the same sweep, locally
    assert f"24 combinations (24 computed on Dask scheduler {cluster['address']}" in out
    assert (remote / "sweep.csv").read_bytes() == (local / "sweep.csv").read_bytes()
    man = json.loads((remote / "manifest.json").read_text())
    assert man["status"] == "complete" and man["venue"] == {"dask_scheduler": cluster["address"], "engine": "backtrader"}
    assert man["rows"] == {"written": 24, "of": 24, "failed": 0}
    # the survivor did the rest; the scheduler saw the other one go
    assert b"Remove worker" in (cluster["logs"] / "scheduler.log").read_bytes()


def test_dask_fast_sweep_equals_the_local_fast_sweep(cluster, tmp_path):
    """The default (fast) engine sends chunks of the grid to the workers; the rows are the local ones."""
    argv = ["sweep", *PERIOD, *GRID, "--no-pdf", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "local")]) == 0
    assert main([*argv, "--out", str(tmp_path / "dask"), "--dask-scheduler", cluster["address"]]) == 0
    assert (tmp_path / "dask" / "sweep.csv").read_bytes() == (tmp_path / "local" / "sweep.csv").read_bytes()
    man = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert man["status"] == "complete" and man["venue"]["engine"] == "fast"
    assert man["venue"]["dask_scheduler"] == cluster["address"]
