"""How fast each kind of rule runs in the fast engine, as ratios to the backtrader engine measured
in the same run.

    python benchmarks/rule_speed.py [--data-dir DIR] [--jobs 2] [--bt-combos 4] [--repeat 3]
                                    [--baseline 93008ef|none] [--rounds 30]

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
reports it, equity streamed rather than kept), best of ``--repeat``; backtrader: ``--bt-combos``
combinations of each rule, its rate extrapolated per combination. Every fast result of those
combinations is confirmed against them.

Then the built-in divergence rule against the engine before the rules were opened (``--baseline``,
default 93008ef: the last revision whose kernel had the rule written into it), extracted from git
into a temporary folder: both engines run the same grid in two worker processes
(benchmarks/engine_worker.py), alternately, ``--rounds`` times each; the best and the median of
each and their ratios are printed. ``--baseline none`` skips it (e.g. without git history).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
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


def against_baseline(rev: str, data_dir: str, jobs: int, rounds: int) -> None:
    """The divergence grid in this tree and in revision ``rev``, alternately, in two workers."""
    worker = Path(__file__).with_name("engine_worker.py")
    with tempfile.TemporaryDirectory(prefix="rotationlab-baseline-") as tmp:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "rotationlab", "data_feeds",
                              "strategies"], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            t.extractall(tmp, filter="data")
        trees = {f"baseline {rev}": tmp, "this tree": str(ROOT)}
        procs = {name: subprocess.Popen([sys.executable, str(worker), root, data_dir, str(jobs)], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE) for name, root in trees.items()}
        try:
            for p in procs.values():
                if p.stdout.readline().strip() != "ready":
                    raise SystemExit("a benchmark worker failed to start")
            times: dict = {name: [] for name in procs}
            for k in range(rounds):  # alternate which goes first
                for name in (list(procs) if k % 2 == 0 else list(procs)[::-1]):
                    procs[name].stdin.write("go\n")
                    procs[name].stdin.flush()
                    times[name].append(float(procs[name].stdout.readline()))
        finally:
            for p in procs.values():
                p.stdin.close()
                p.wait()
    n = len(grid())
    print(f"\ndivergence rule, {n} combinations, {jobs} jobs, {rounds} alternating rounds each (compute only):")
    print(f"{'engine':<18} {'best combos/s':>14} {'median combos/s':>16}")
    for name, ts in times.items():
        print(f"{name:<18} {n / min(ts):>14,.0f} {n / statistics.median(ts):>16,.0f}")
    old, new = times[f"baseline {rev}"], times["this tree"]
    print(f"this tree / baseline: {min(old) / min(new):.2f}x (best), {statistics.median(old) / statistics.median(new):.2f}x "
          "(median); >= 1.00 is no slower")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "market"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--bt-combos", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default="93008ef", help="git revision to compare the divergence rule with, or none")
    ap.add_argument("--rounds", type=int, default=30)
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
            fast.run_fast(prep, sets, jobs=args.jobs, keep_equity=False)
            best = min(best, time.perf_counter() - t0)
        res = fast.run_fast(fast.prepare(base, data, sets), sets, jobs=args.jobs)  # with equity, to confirm
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
    if args.baseline.lower() != "none":
        against_baseline(args.baseline, args.data_dir, args.jobs, args.rounds)


if __name__ == "__main__":
    main()
