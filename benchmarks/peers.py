"""The fast engine beside its peers on the same data and grid, as one table of combinations per
second and ratios to this project, all measured in one run.

    python benchmarks/peers.py [--data-dir DIR] [--jobs 2] [--bt-combos 4] [--repeat 3]

Data: DIA, QQQ (csv source; default ../shared/data/market beside the repository), 2001-01-01 to
2020-12-31. Grid: 400 combinations, lookback_days 5..100 step 5 x threshold 0..0.095 step 0.005.
The rule, the same in every engine: hold QQQ; hold DIA instead on every day after a close at
which DIA's return minus QQQ's over the look-back is at least the threshold; orders at the next
open, no costs, fully invested, fractional shares.

* this project, fast engine: ``signal_rule`` (enter: spread >= threshold, exit: spread <
  threshold), ``prepare`` + ``run_fast``;
* a plain numba loop: the same rule and fills, written directly for this one rule (the floor of
  what compiled code can do; no calendar, validation, costs or metrics);
* vectorbt (if installed): ``Portfolio.from_orders`` with target-percent orders at the next
  open, all combinations as columns grouped with shared cash, signals built with pandas;
* this project, backtrader engine: ``--bt-combos`` combinations, its rate extrapolated.

Every engine but backtrader is timed best of ``--repeat`` (after a call that compiles or loads its
numba code). Each engine's final equity on a few combinations is compared with the fast engine's (they agree
to float rounding where their arithmetic is the same, and closely otherwise).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from data_feeds import align, get_source  # noqa: E402
from rotationlab import fast  # noqa: E402
from rotationlab.config import Execution, RunConfig  # noqa: E402

START, END = "2001-01-01", "2020-12-31"
SPREAD = "ret(DIA, lookback_days) - ret(QQQ, lookback_days)"
RULE = dict(enter=f"{SPREAD} >= threshold", exit=f"{SPREAD} < threshold", growth_symbols="QQQ",
            rotation_symbols="DIA", hold_days=0, lookback_days=5, threshold=0.0)
FREE = Execution(commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0, drift_tolerance=0.999)


def grid() -> list[dict]:
    return [{"lookback_days": n, "threshold": round(0.005 * i, 3)} for n in range(5, 101, 5) for i in range(20)]


def arrays(data):
    panel = align({s: data[s] for s in ("DIA", "QQQ")})
    cal = panel.calendar[panel.calendar <= pd.Timestamp(END)]
    o = {s: panel.frames[s]["open"].reindex(cal).to_numpy() for s in ("DIA", "QQQ")}
    c = {s: panel.frames[s]["close"].reindex(cal).to_numpy() for s in ("DIA", "QQQ")}
    return cal, o, c


def numba_reference(cal, o, c, sets, first):
    import numba

    @numba.njit(cache=True)
    def one(dia_o, dia_c, qqq_o, qqq_c, n, x, first):
        T = len(dia_c)
        cash, sd, sq = 1_000_000.0, 0.0, 0.0
        want = -1  # 0: QQQ, 1: DIA; decided at the first close, held from the next open
        held = -1
        eq = np.empty(T - first)
        for t in range(first, T):
            if want >= 0 and held != want:  # trade at this open
                value = cash + sd * dia_o[t] + sq * qqq_o[t]
                cash = value
                sd = value / dia_o[t] if want == 1 else 0.0
                sq = value / qqq_o[t] if want == 0 else 0.0
                cash = 0.0
                held = want
            eq[t - first] = cash + sd * dia_c[t] + sq * qqq_c[t]
            if t >= n:
                s = (dia_c[t] / dia_c[t - n] - 1.0) - (qqq_c[t] / qqq_c[t - n] - 1.0)
                want = 1 if s >= x else 0
        return eq

    args = (o["DIA"], c["DIA"], o["QQQ"], c["QQQ"])
    one(*args, 5, 0.0, first)  # compile (or load) outside the clock
    t0 = time.perf_counter()
    out = [one(*args, ps["lookback_days"], ps["threshold"], first) for ps in sets]
    return time.perf_counter() - t0, out


def vectorbt_run(cal, o, c, sets, first):
    try:
        import vectorbt as vbt
    except ImportError:
        return None, None
    close = pd.DataFrame(c, index=cal)
    opens = pd.DataFrame(o, index=cal)
    t0 = time.perf_counter()
    cols, w_cols, p_cols, c_cols = [], [], [], []
    for k, ps in enumerate(sets):
        n, x = ps["lookback_days"], ps["threshold"]
        s = (close["DIA"] / close["DIA"].shift(n) - 1) - (close["QQQ"] / close["QQQ"].shift(n) - 1)
        dia = (s >= x).astype(float).shift(1).fillna(0.0)  # decided at the close, held from the next open
        w_cols += [dia, 1.0 - dia]
        p_cols += [opens["DIA"], opens["QQQ"]]
        c_cols += [close["DIA"], close["QQQ"]]
        cols += [(k, "DIA"), (k, "QQQ")]
    idx = pd.MultiIndex.from_tuples(cols, names=["combo", "symbol"])
    size = pd.concat(w_cols, axis=1).iloc[first:]
    size.columns = idx
    price = pd.concat(p_cols, axis=1).iloc[first:]
    price.columns = idx
    cl = pd.concat(c_cols, axis=1).iloc[first:]
    cl.columns = idx
    pf = vbt.Portfolio.from_orders(cl, size=size, size_type="targetpercent", price=price, group_by="combo",
                                   cash_sharing=True, call_seq="auto", init_cash=1_000_000.0, freq="1D")
    value = pf.value()
    seconds = time.perf_counter() - t0
    return seconds, [value[k].to_numpy() for k in range(len(sets))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "market"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--bt-combos", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = get_source("csv", data_dir=args.data_dir).load_many(["DIA", "QQQ"])
    fast.warm_up()
    sets = grid()
    base = RunConfig(strategy="signal_rule", params=RULE, start=START, end=END, source="csv", benchmark=None,
                     execution=FREE)
    t_fast, res = float("inf"), None
    for _ in range(args.repeat):
        prep = fast.prepare(base, data, sets)
        t0 = time.perf_counter()
        res = fast.run_fast(prep, sets, jobs=args.jobs)
        t_fast = min(t_fast, time.perf_counter() - t0)
    cal, o, c = arrays(data)
    first = int(cal.get_loc(res.dates[0][0]))
    t_ref = min(numba_reference(cal, o, c, sets, first)[0] for _ in range(args.repeat))
    _, ref_eq = numba_reference(cal, o, c, sets, first)
    t_vbt, vbt_eq = None, None
    for _ in range(args.repeat):  # best of --repeat, as the others (the first call compiles vectorbt's kernels)
        t, vbt_eq = vectorbt_run(cal, o, c, sets, first)
        t_vbt = t if t_vbt is None or t is None else min(t_vbt, t)
    from rotationlab.engine import run
    pick = [sets[int(i)] for i in np.linspace(0, len(sets) - 1, args.bt_combos).round().astype(int)]
    t0 = time.perf_counter()
    for ps in pick:
        run(fast.config_for(base, ps), data=data)
    t_bt = (time.perf_counter() - t0) / len(pick)

    def agree(eqs):
        if eqs is None:
            return "-"
        worst = 0.0
        for i in (0, len(sets) // 2, len(sets) - 1):
            a = res.equity[i]
            b = np.asarray(eqs[i])[-len(a):]
            worst = max(worst, float(np.max(np.abs(a - b) / np.abs(a))))
        return f"{worst:.1e}"

    rate = len(sets) / t_fast
    rows = [("Rotation Lab, fast engine", rate, "(reference)"),
            ("plain numba loop (this rule only)", len(sets) / t_ref, agree(ref_eq))]
    if t_vbt is not None:
        import vectorbt as vbt
        rows.append((f"vectorbt {vbt.__version__}", len(sets) / t_vbt, agree(vbt_eq)))
    else:
        rows.append(("vectorbt (not installed)", float("nan"), "-"))
    rows.append(("Rotation Lab, backtrader engine", 1 / t_bt, "confirmed"))
    print(f"{len(sets)} combinations, DIA/QQQ {START}..{END}, {args.jobs} jobs; {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    print("| engine | combos/s | ratio to the fast engine | largest final-equity difference |")
    print("|---|---:|---:|---:|")
    for name, r, diff in rows:
        ratio = "-" if r != r else f"{r / rate:.3g}x"
        shown = "-" if r != r else f"{r:,.1f}" if r < 100 else f"{r:,.0f}"
        print(f"| {name} | {shown} | {ratio} | {diff} |")


if __name__ == "__main__":
    main()
