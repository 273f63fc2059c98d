"""How fast each kind of rule runs in the fast engine, as ratios to the backtrader engine measured
in the same run.

    python benchmarks/rule_speed.py [--data-dir DIR] [--jobs 2] [--bt-combos 4] [--repeat 3]

Data: DIA, QQQ, IWM, SPY (csv source; default ../shared/data/market beside the repository),
2001-01-01 to 2020-12-31 (the rule's state is built from its symbols' first common bar). Grid:
400 combinations, lookback_days 5..100 step 5 x threshold 0..0.095 step 0.005; signals DIA/QQQ,
growth QQQ, rotation DIA+IWM, benchmark SPY, default costs. Three kinds of rule:

* ``divergence``: the built-in rule (its vectorized form: a numba state machine per combination);
* ``expression``: ``signal_rule`` with the same entry and exit written as expressions (vectorized
  by the expression evaluator);
* ``decide-only``: a rule written as a user would, with only ``decide`` (the fast engine calls it
  per bar, in ``--jobs`` processes).

Timed: ``run_fast`` over the grid after ``prepare`` (compute only, as ``sweep --engine fast``
reports it), best of ``--repeat``; backtrader: ``--bt-combos`` combinations of each rule, its rate
extrapolated per combination. Every fast result of those combinations is confirmed against them.
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

import strategies.base as B  # noqa: E402
from data_feeds import get_source  # noqa: E402
from rotationlab import fast  # noqa: E402
from rotationlab.config import RunConfig  # noqa: E402

START, END = "2001-01-01", "2020-12-31"
ETF = dict(dow_symbol="DIA", nasdaq_symbol="QQQ", growth_symbols=("QQQ",), rotation_symbols=("DIA", "IWM"))
SPREAD = "ret(DIA, lookback_days) - ret(QQQ, lookback_days)"
EXPRESSIONS = dict(enter=f"{SPREAD} >= threshold", exit=f"{SPREAD} < 0", confirm=f"{SPREAD} > 0",
                   growth_symbols="QQQ", rotation_symbols="DIA,IWM", hold_days=20, lookback_days=5, threshold=0.03)


class DecideOnly(B.Rule):
    """The divergence rule's core, written with only ``decide`` (no vectorized form)."""

    rule = "Hold QQQ; rotate into DIA+IWM when DIA beats QQQ by {threshold:.2%} over {lookback_days} days."
    params = {"lookback_days": 5, "threshold": 0.03, "hold_days": 20}
    param_docs = {"lookback_days": "window", "threshold": "entry spread", "hold_days": "minimum hold"}
    has_signal = True

    def symbols(self):
        return {"signal": ["DIA", "QQQ"], "growth": ["QQQ"], "rotation": ["DIA", "IWM"], "traded": ["QQQ", "DIA", "IWM"]}

    def warmup_bars(self):
        return self.p.lookback_days + 1

    def start(self):
        self.rotated, self.held = False, 0
        self.growth, self.rotation = {"QQQ": 1.0}, {"DIA": 0.5, "IWM": 0.5}

    def decide(self, h):
        n = self.p.lookback_days
        spread = h.ret("DIA", n) - h.ret("QQQ", n)
        if spread != spread:
            return None
        if self.rotated:
            self.held += 1
            if self.held >= self.p.hold_days and spread < 0:
                self.rotated = False
        elif spread >= self.p.threshold:
            self.rotated, self.held = True, 0
        self.log_signal(spread=spread, triggered=spread >= self.p.threshold,
                        state="rotated" if self.rotated else "growth")
        return self.rotation if self.rotated else self.growth


def grid() -> list[dict]:
    return [{"lookback_days": n, "threshold": round(0.005 * i, 3)} for n in range(5, 101, 5) for i in range(20)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "market"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--bt-combos", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = get_source("csv", data_dir=args.data_dir).load_many(["DIA", "QQQ", "IWM", "SPY"])
    t_jit = fast.warm_up()
    key = B.remember(DecideOnly)
    common = dict(start=START, end=END, source="csv", benchmark="SPY")
    cases = {"divergence": RunConfig(params=ETF, **common),
             "expression": RunConfig(strategy="signal_rule", params=EXPRESSIONS, **common),
             "decide-only": RunConfig(strategy=key, **common)}
    sets = grid()
    print(f"{len(sets)} combinations, DIA/QQQ/IWM/SPY {START}..{END}, {args.jobs} jobs; numba load {t_jit:.2f} s; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'rule':<12} {'fast combos/s':>14} {'backtrader combos/s':>20} {'fast / backtrader':>18}  agreement")
    rows = {}
    for name, base in cases.items():
        best, res = float("inf"), None
        for _ in range(args.repeat):
            prep = fast.prepare(base, data, sets)
            t0 = time.perf_counter()
            res = fast.run_fast(prep, sets, jobs=args.jobs)
            best = min(best, time.perf_counter() - t0)
        pick = [sets[int(i)] for i in np.linspace(0, len(sets) - 1, args.bt_combos).round().astype(int)]
        from rotationlab.engine import run
        t0 = time.perf_counter()
        for ps in pick:
            run(fast.config_for(base, ps), data=data)
        t_bt = (time.perf_counter() - t0) / len(pick)
        diffs = fast.confirm(base, data, pick, res)
        rate = len(sets) / best
        rows[name] = rate
        print(f"{name:<12} {rate:>14,.0f} {1 / t_bt:>20,.2f} {rate * t_bt:>17,.0f}x  max rel. diff {diffs.max():.1e}")
    print("targets: expression >= 2,000/s: {}; decide-only >= 50/s: {}".format(
        "met" if rows["expression"] >= 2000 else "NOT met", "met" if rows["decide-only"] >= 50 else "NOT met"))


if __name__ == "__main__":
    main()
