"""Fast engine speed: combinations per second of rotationlab.fast, of backtrader and of a minimal
numpy reference, on the same grid, printed as ratios from one run.

    python benchmarks/fast_speed.py [--data-dir DIR] [--jobs N] [--bt-combos 8] [--repeat 3]

Data: DIA, QQQ, IWM from the csv source; ``--data-dir`` defaults to ``../shared/data/market``
relative to the repository root (the shared data checked out beside it). Period 2001-01-01 to
2020-12-31 (the engine loads the warm-up before the start itself).

Grid: dow_nasdaq_divergence, lookback_days 5..100 step 5 x threshold 0..0.095 step 0.005 = 400
combinations; signals DIA/QQQ, growth QQQ, rotation DIA+IWM, other parameters at their defaults,
default execution (1 bp commission, 2 bp slippage, 1% cash buffer, fractional shares), no benchmark.

* fast engine: ``prepare`` + ``run_fast`` over the 400 combinations, timed after the data is loaded
  (the issue's "timed over the sweep itself"); best of ``--repeat``, each with a fresh ``prepare``.
  Compiling the loops (first run on a machine) or loading them from numba's cache happens once per
  process and is reported on its own line.
* backtrader: ``rotationlab.engine.run`` on ``--bt-combos`` combinations spread over the grid; its
  combos/s is that subset's rate (each run is independent, so it extrapolates per combination).
  The fast results of those combinations are confirmed against these runs (largest difference shown).
* numpy reference: the two-asset spread rule (hold QQQ; hold DIA on the day after the DIA return
  minus the QQQ return over the look-back is >= threshold; close-to-close returns, no costs) as a
  plain per-combination numpy loop over the same grid; compared with the fast engine running the
  same two-asset rule (growth QQQ, rotation DIA, hold_days 0, no costs) on the same grid.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from data_feeds import align, get_source  # noqa: E402
from rotationlab import fast  # noqa: E402
from rotationlab.config import Execution, RunConfig  # noqa: E402
from rotationlab.engine import run  # noqa: E402

START, END = "2001-01-01", "2020-12-31"
LOOKBACKS = list(range(5, 101, 5))
THRESHOLDS = [round(0.005 * i, 3) for i in range(20)]
ETF = dict(dow_symbol="DIA", nasdaq_symbol="QQQ", growth_symbols=("QQQ",), rotation_symbols=("DIA", "IWM"))
TWO_ASSET = dict(dow_symbol="DIA", nasdaq_symbol="QQQ", growth_symbols=("QQQ",), rotation_symbols=("DIA",),
                 hold_days=0, exit_threshold=0.0)


def grid() -> list[dict]:
    return [{"lookback_days": n, "threshold": x} for n in LOOKBACKS for x in THRESHOLDS]


def time_fast(base, data, sets, jobs, repeat):
    best, res = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        prep = fast.prepare(base, data)
        res = fast.run_fast(prep, sets, jobs=jobs)
        best = min(best, time.perf_counter() - t0)
    return best, res


def numpy_reference(data, sets):
    """The two-asset spread rule, one numpy pass per combination; returns (seconds, equities)."""
    t0 = time.perf_counter()
    panel = align({s: data[s].between("2000-06-01", END) for s in ("DIA", "QQQ")})
    dia = panel.frames["DIA"]["close"].reindex(panel.calendar).to_numpy()
    qqq = panel.frames["QQQ"]["close"].reindex(panel.calendar).to_numpy()
    first = int(np.searchsorted(panel.calendar, np.datetime64(START)))
    r_dia = dia[1:] / dia[:-1] - 1.0
    r_qqq = qqq[1:] / qqq[:-1] - 1.0
    out = []
    for ps in sets:
        n, x = ps["lookback_days"], ps["threshold"]
        spread = np.full(len(dia), -np.inf)
        spread[n:] = (dia[n:] / dia[:-n] - 1.0) - (qqq[n:] / qqq[:-n] - 1.0)
        hold_dia = spread[first:-1] >= x  # decided at the close of t, held t -> t+1
        daily = np.where(hold_dia, r_dia[first:], r_qqq[first:])
        out.append(np.cumprod(1.0 + daily))
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "market"),
                    help="folder with DIA.csv, QQQ.csv, IWM.csv (default: ../shared/data/market from the repo root)")
    ap.add_argument("--jobs", type=int, default=2, help="threads of the fast engine (default 2)")
    ap.add_argument("--bt-combos", type=int, default=8, help="combinations run in backtrader (default 8)")
    ap.add_argument("--repeat", type=int, default=5, help="timings of the fast engine and of the numpy reference; "
                    "the best is kept (default 5)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    data = get_source("csv", data_dir=args.data_dir).load_many(["DIA", "QQQ", "IWM"])
    t_load = time.perf_counter() - t0
    t_jit = fast.warm_up()
    sets = grid()
    base = RunConfig(params=ETF, start=START, end=END, source="csv", benchmark=None, execution=Execution())
    print(f"grid: {len(sets)} combinations (lookback_days 5..100 x threshold 0..0.095) of dow_nasdaq_divergence, "
          f"DIA/QQQ/IWM {START}..{END}; data loaded in {t_load:.2f} s (not timed below)")
    print(f"numba: compile or cache load of the loops (once per process): {t_jit:.2f} s")
    if hasattr(os, "getloadavg"):
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start "
              "(other work on the machine slows every line below)")

    t_fast, res = time_fast(base, data, sets, args.jobs, args.repeat)
    t_fast1, _ = time_fast(base, data, sets, 1, args.repeat)
    bad = [e for e in res.errors if e]
    rate_fast = len(sets) / t_fast
    print(f"fast engine, {args.jobs} threads: {t_fast * 1e3:8.1f} ms  {rate_fast:10,.0f} combos/s "
          f"(prepare + run_fast, best of {args.repeat}; {len(bad)} errors)")
    print(f"fast engine, 1 thread:  {t_fast1 * 1e3:8.1f} ms  {len(sets) / t_fast1:10,.0f} combos/s")
    print(f"fast engine incl. the JIT cache load: {len(sets) / (t_fast + t_jit):,.0f} combos/s")

    k = max(1, args.bt_combos)
    pick = [sets[int(i)] for i in np.linspace(0, len(sets) - 1, k).round().astype(int)]
    t0 = time.perf_counter()
    for ps in pick:
        run(fast.config_for(base, ps), data=data)
    t_bt = time.perf_counter() - t0
    rate_bt = k / t_bt
    print(f"backtrader: {k} combinations in {t_bt:.2f} s  {rate_bt:10,.2f} combos/s "
          f"(extrapolated per combination; 400 would take {400 / rate_bt:,.0f} s)")
    diffs = fast.confirm(base, data, pick, res)
    print(f"agreement on those {k}: largest relative equity difference {diffs.max():.3g} "
          f"(tolerance {fast.tolerance_for(base.execution):g})")

    two = RunConfig(params=TWO_ASSET, start=START, end=END, source="csv", benchmark=None,
                    execution=Execution(commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0))
    t_two, t_ref = float("inf"), float("inf")
    for _ in range(args.repeat):  # interleaved, so that both see the same machine
        t_two = min(t_two, time_fast(two, data, sets, args.jobs, 1)[0])
        t_ref = min(t_ref, numpy_reference(data, sets)[0])
    rate_two, rate_ref = len(sets) / t_two, len(sets) / t_ref
    print(f"two-asset rule, fast engine: {rate_two:10,.0f} combos/s;  numpy reference: {rate_ref:10,.0f} combos/s")
    print()
    print(f"fast / backtrader:               {rate_fast / rate_bt:8,.0f}x")
    print(f"fast / numpy reference (2-asset): {rate_two / rate_ref:8.2f}x  (target >= 0.33: within 3x)")
    print(f"targets: >= 1,000 combos/s on the 400 grid: {'met' if rate_fast >= 1000 else 'NOT met'} "
          f"({rate_fast:,.0f}); within 3x of the numpy reference: {'met' if rate_two * 3 >= rate_ref else 'NOT met'} "
          f"({rate_ref / rate_two:.2f}x slower)")


if __name__ == "__main__":
    main()
