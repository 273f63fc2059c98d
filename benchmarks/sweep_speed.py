"""Sweep speed: a 48-combination divergence sweep on the embedded sample with 1 and 2 local jobs and
on a 2-worker Dask cluster started here (scheduler and workers as processes on 127.0.0.1).

    python benchmarks/sweep_speed.py [--start 1999-01-01] [--end 2018-12-31] [--no-dask]

Grid: lookback_days 2,5,10,20 x threshold 0.01..0.04 x hold_days 10,20,40 = 48 combinations.
The data is loaded once up front (not timed); each timing is the wall time of
``rotationlab.sweeps.run_sweep`` into a fresh folder: worker start-up (the process pool, or the
data scatter for Dask) included, reports not written. Dask workers are single-threaded
(``--nthreads 1``) and have imported the project before the clock starts, as forked pool workers
have. Prints combos/s, the speed-ups over one job, the CPU seconds per combination of every
process involved (independent of other load on the machine) and whether the three sweep.csv
files are byte-identical.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rotationlab import sweeps as S  # noqa: E402
from rotationlab.config import RunConfig  # noqa: E402
from rotationlab.engine import load_data  # noqa: E402

GRID = [("lookback_days", "2,5,10,20"), ("threshold", "0.01:0.04:0.01"), ("hold_days", "10,20,40")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(workers: int, logdir: Path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []

    def spawn(args, log):
        with open(logdir / log, "wb") as fh:
            procs.append(subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT, env=env, stdout=fh,
                                          stderr=subprocess.STDOUT, start_new_session=True))
    spawn(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler.log")
    for i in range(workers):
        spawn(["worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
               "--name", f"bench-{i}"], f"worker{i}.log")
    return f"tcp://127.0.0.1:{port}", procs


def stop(procs):
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def warm(_=None):
    import reports.metrics  # noqa: F401
    import rotationlab.engine  # noqa: F401
    return True


def cpu_seconds(pids=()) -> float:
    """CPU time of this process, its reaped children and the processes ``pids`` (and theirs)."""
    import resource

    import psutil
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    for pid in pids:
        try:
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                t = q.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def timed(spec, data, out, pids=(), **kw) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every process involved)."""
    c0, t0 = cpu_seconds(pids), time.perf_counter()
    S.run_sweep(spec, data, out, progress=False, **kw)
    secs, cpu = time.perf_counter() - t0, cpu_seconds(pids) - c0
    print(f"  {out.name}: {secs:.1f} s wall, {cpu:.1f} CPU s; load average now {os.getloadavg()[0]:.2f}",
          flush=True)
    return secs, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", default=None, help="first trading date (default: the sample's, 1999)")
    ap.add_argument("--end", default=None)
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask cluster")
    args = ap.parse_args()
    base = RunConfig(start=args.start, end=args.end)
    spec = S.build_spec(base, GRID)
    data = load_data(base, spec.symbols)
    n = len(spec.combos)
    print(f"{n} combinations of {', '.join(spec.names)}; dow_nasdaq_divergence on the sample, "
          f"{args.start or 'data start'} to {args.end or 'data end'}; {S.default_jobs()} cores here, "
          f"load average {os.getloadavg()[0]:.2f}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for jobs in (1, 2):
            results[f"local, {jobs} job{'s' if jobs > 1 else ''}"] = (*timed(spec, data, tmp / f"j{jobs}", jobs=jobs),
                                                                    tmp / f"j{jobs}")
        if not args.no_dask:
            address, procs = start_cluster(2, tmp)
            try:
                client = S.connect(address, timeout=30)
                client.wait_for_workers(2, timeout=60)
                client.run(warm)
                results["dask, 2 workers"] = (*timed(spec, data, tmp / "dask", pids=[p.pid for p in procs],
                                                     dask_scheduler=address, client=client), tmp / "dask")
                client.close()
            finally:
                stop(procs)
        one = results["local, 1 job"][0]
        ref = (tmp / "j1" / "sweep.csv").read_bytes()
        for label, (secs, cpu, out) in results.items():
            same = (out / "sweep.csv").read_bytes() == ref
            print(f"{label:<16} {secs:7.2f} s  {n / secs:6.2f} combos/s  speed-up {one / secs:4.2f}x  "
                  f"{cpu / n:5.2f} CPU s/combo  sweep.csv identical to 1 job: {same}")
        print("CPU s/combo counts every process of the run (for Dask: scheduler, nannies and workers too); "
              "with other work on the machine the wall times and speed-ups drop, the CPU cost does not.")


if __name__ == "__main__":
    main()
