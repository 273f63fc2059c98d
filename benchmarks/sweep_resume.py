"""Interrupt-and-resume proof on a config's full grid: the sweep is run once straight through, and
once interrupted with Ctrl-C (SIGINT to the command's process group) after N rows and resumed;
the two sweep.csv files must be byte-identical.

    python benchmarks/sweep_resume.py [--config configs/divergence_etf.toml] [--jobs 2]
        [--interrupt-after 40] [--data-dir ../shared/data/market] [--start ...] [--end ...]

Prints the wall time of each step, the rows kept at the interruption, the rows the resume
computed, and whether the files are identical (exit code 1 if not). The test suite runs the same
check on one year of ETF data (tests/test_sweep.py::test_etf_sweep_of_120_combinations_...).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rows(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def _default_sigint():
    """Let the sweep see Ctrl-C even if this script runs where SIGINT is ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def sweep(argv, out, resume=False, interrupt_after=None):
    cmd = [sys.executable, str(ROOT / "run_backtest.py"), "sweep", *argv, "--out", str(out), "--no-pdf",
           "--no-progress", *(["--resume"] if resume else [])]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_default_sigint)
    if interrupt_after:
        while rows(out / "sweep.csv") < interrupt_after and proc.poll() is None:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate()
    return proc.returncode, time.perf_counter() - t0, stdout, stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "divergence_etf.toml"))
    ap.add_argument("--jobs", default="2")
    ap.add_argument("--interrupt-after", type=int, default=40)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--start", default=None)
    ap.add_argument("--end", default=None)
    args = ap.parse_args()
    argv = ["--config", args.config, "--jobs", args.jobs]
    for flag in ("data_dir", "start", "end"):
        if getattr(args, flag):
            argv += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    with tempfile.TemporaryDirectory() as tmp:
        full, cut = Path(tmp) / "full", Path(tmp) / "cut"
        rc, secs, out, err = sweep(argv, full)
        if rc != 0:
            sys.exit(f"uninterrupted sweep failed ({rc}): {err.strip()}")
        total = rows(full / "sweep.csv")
        print(f"uninterrupted: {total} rows in {secs:.1f} s ({total / secs:.2f} combos/s); {out.splitlines()[0]}")
        rc, secs, out, err = sweep(argv, cut, interrupt_after=args.interrupt_after)
        kept = rows(cut / "sweep.csv")
        print(f"interrupted after {secs:.1f} s: exit {rc}, {kept} rows kept; stderr: {err.strip().splitlines()[-1]}")
        rc, secs, out, err = sweep(argv, cut, resume=True)
        if rc != 0:
            sys.exit(f"resume failed ({rc}): {err.strip()}")
        print(f"resumed: {secs:.1f} s; {out.splitlines()[0]}")
        same = (cut / "sweep.csv").read_bytes() == (full / "sweep.csv").read_bytes()
        print(f"sweep.csv of the interrupted+resumed sweep identical to the uninterrupted one: {same}")
        sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
