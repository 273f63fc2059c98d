"""Whole-command wall clock and peak memory of the commands the README quotes, each in a fresh
process (as a user runs them), with a plain ``python -c pass`` start-up measured in the same run
as the baseline.

    python benchmarks/scale.py [--data-dir DIR] [--only run,sweep400,...] [--keep]

Cases (data: the embedded sample for ``run``; DIA/QQQ/IWM from the csv source, 2001-2020, no
benchmark... for the sweeps, the grid of lookback_days 5..100 step 5 x threshold 0..0.095 step
0.005 (400), x hold_days 0..45 step 5 (4,000), x exit_threshold 0..0.009 step 0.001 (40,000)):

* ``run-first``: the default ``run`` after clearing numba's cache (the first run on a machine);
* ``run``: the default ``run`` again (numba's compiled code cached on disk);
* ``sweep400-first``: the 400-combination sweep after clearing numba's cache (the kernel compiles);
* ``sweep400``, ``sweep4000``: ``sweep --engine fast`` with the overfitting section and report;
* ``sweep40000``: the same on 40,000 combinations.

Peak memory: each command's own maximum resident set size (``wait4``), and the largest total of
it and the processes it starts (the run's two report helpers, a sweep's workers) sampled every
20 ms as proportional set size (memory shared after a fork counted once). The sampling costs CPU,
so memory comes from a second run of each command; the wall clock from the first, unobserved one.
Commands run as on a user's machine: Python caches the project's bytecode (the environment's
``PYTHONDONTWRITEBYTECODE`` is dropped); a ``-first`` case starts with neither that cache nor
numba's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ETF = ["--source", "csv", "-p", "dow_symbol=DIA", "-p", "nasdaq_symbol=QQQ", "-p", "growth_symbols=QQQ",
       "-p", "rotation_symbols=DIA,IWM", "--benchmark", "SPY", "--start", "2001-01-01", "--end", "2020-12-31"]
G400 = ["--grid", "lookback_days=5:100:5", "--grid", "threshold=0:0.095:0.005"]
G4000 = [*G400, "--grid", "hold_days=0:45:5"]
G40000 = [*G4000, "--grid", "exit_threshold=0:0.009:0.001"]


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    kids: dict = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _pss_mb(pids: list[int]) -> float:
    """Proportional set size of ``pids`` together, in MB (pages shared after a fork counted once)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total / 1024


def timed(argv: list[str], cwd: Path, env: dict, sample: bool = False) -> tuple[float, float, float, int]:
    """(wall seconds, peak RSS of the command's process in MB, peak memory of it and the helper
    processes it starts together (proportional set size, sampled every 20 ms when ``sample``,
    else 0) in MB, exit code), in a fresh process."""
    import threading
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    peak = [0.0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], _pss_mb(_tree(proc.pid)))
            done.wait(0.02)
    sampler = threading.Thread(target=watch, daemon=True)
    if sample:
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    if sample:
        sampler.join()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code:
        err.seek(0)
        print(err.read()[-2000:].decode(errors="replace"), file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, peak[0], code


def clear_caches() -> None:
    """Remove numba's on-disk cache of this project's compiled functions and Python's of its
    bytecode (a first run)."""
    for cache in ROOT.rglob("__pycache__"):
        if ".venv" in cache.parts:
            continue
        for pattern in ("*.nbi", "*.nbc", "*.pyc"):
            for f in cache.glob(pattern):
                f.unlink()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "market"))
    ap.add_argument("--only", default="run-first,run,sweep400-first,sweep400,sweep4000,sweep40000")
    ap.add_argument("--keep", action="store_true", help="keep the output folders")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rotationlab-scale-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    py = sys.executable
    cli = [py, str(ROOT / "run_backtest.py")]
    data = ["--data-dir", args.data_dir]
    cases = {
        "run-first": [*cli, "run", "--out", str(work / "run1")],
        "run": [*cli, "run", "--out", str(work / "run2")],
        "sweep400-first": [*cli, "sweep", *ETF, *data, *G400, "--no-progress", "--out", str(work / "s400a")],
        "sweep400": [*cli, "sweep", *ETF, *data, *G400, "--no-progress", "--out", str(work / "s400")],
        "sweep4000": [*cli, "sweep", *ETF, *data, *G4000, "--no-progress", "--out", str(work / "s4000")],
        "sweep40000": [*cli, "sweep", *ETF, *data, *G40000, "--no-progress", "--out", str(work / "s40000")],
    }
    base_wall, _, _, _ = timed([py, "-c", "pass"], work, env)
    print(f"machine: {os.uname().machine}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"python start-up {base_wall:.2f} s")
    print("| command | wall clock | x python start-up | peak memory, command | peak memory, with its helpers |")
    print("|---|---:|---:|---:|---:|")
    for name in args.only.split(","):
        if name.endswith("-first"):
            clear_caches()
        wall, _, _, rc = timed(cases[name], work, env)
        argv = [*cases[name][:-1], cases[name][-1] + "-memory"]
        _, mb, tree, rc2 = timed(argv, work, env, sample=True)
        rc = rc or rc2
        status = "" if rc == 0 else f" (exit {rc})"
        print(f"| {name}{status} | {wall:.1f} s | {wall / base_wall:.0f}x | {mb:,.0f} MB | {tree:,.0f} MB |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"outputs in {work}")


if __name__ == "__main__":
    main()
