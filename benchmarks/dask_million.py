"""A sweep of 1,000,000 combinations on the fast engine, on a local 4-worker Dask cluster.

    python benchmarks/dask_million.py [--data-dir DIR] [--exit-steps 100] [--workers 4] [--keep]

Starts a ``distributed.LocalCluster`` (``--workers`` processes, one thread each) on this machine,
then runs, in a fresh process as a user would,

    run_backtest.py sweep --engine fast --dask-scheduler ADDRESS  (DIA/QQQ/IWM, 2001-2020, SPY)
        --grid lookback_days=5:100:5 --grid threshold=0:0.098:0.002 --grid hold_days=0:45:5
        --grid exit_threshold=0:E:0.0001

(20 x 50 x 10 x ``--exit-steps`` combinations: 1,000,000 at the default 100) with the
overfitting section and the report. The baseline, measured in the same run: the same command
without Dask on the first ``--baseline-steps`` exit thresholds (40,000 combinations at 4), whose
combinations per second the Dask run is compared with. Prints the wall clock of each, their
rates, the ratio, and the peak memory of the sweep process (``wait4``).
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


def grid(exit_steps: int) -> list[str]:
    top = (exit_steps - 1) * 0.0001
    return ["--grid", "lookback_days=5:100:5", "--grid", "threshold=0:0.098:0.002", "--grid", "hold_days=0:45:5",
            "--grid", f"exit_threshold=0:{top:.4f}:0.0001"]


def timed(argv, env) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS in MB, exit code, the last lines of stdout) of one command."""
    out = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out.seek(0)
    text = out.read().decode(errors="replace")
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), "\n".join(text.splitlines()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "market"))
    ap.add_argument("--exit-steps", type=int, default=100, help="exit thresholds (100: 1,000,000 combinations)")
    ap.add_argument("--baseline-steps", type=int, default=4, help="exit thresholds of the local baseline")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the output folders")
    args = ap.parse_args()
    from distributed import LocalCluster

    work = Path(tempfile.mkdtemp(prefix="rotationlab-million-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, str(ROOT / "run_backtest.py"), "sweep", *ETF, "--data-dir", args.data_dir,
           "--no-progress"]
    n_base = 20 * 50 * 10 * args.baseline_steps
    n = 20 * 50 * 10 * args.exit_steps
    print(f"machine: {os.uname().machine}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    base = timed([*cli, *grid(args.baseline_steps), "--out", str(work / "local")], env)
    if base[2]:
        sys.exit(f"the local baseline failed:\n{base[3]}")
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        t0 = time.perf_counter()
        dask = timed([*cli, *grid(args.exit_steps), "--dask-scheduler", lc.scheduler_address,
                      "--out", str(work / "dask")], env)
        print(f"cluster: {args.workers} workers x 1 thread at {lc.scheduler_address}, up "
              f"{time.perf_counter() - t0:.0f} s")
    if dask[2]:
        sys.exit(f"the Dask sweep failed (exit {dask[2]}):\n{dask[3]}")
    rate_b, rate_d = n_base / base[0], n / dask[0]
    print("| sweep | combinations | wall clock | combinations/s (whole command) | peak memory |")
    print("|---|---:|---:|---:|---:|")
    print(f"| local, fast engine (baseline) | {n_base:,} | {base[0]:.1f} s | {rate_b:,.0f} | {base[1]:,.0f} MB |")
    print(f"| Dask, {args.workers} local workers | {n:,} | {dask[0]:.1f} s | {rate_d:,.0f} "
          f"({rate_d / rate_b:.2f}x the baseline) | {dask[1]:,.0f} MB |")
    print(dask[3])
    if args.keep:
        print(f"outputs in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
