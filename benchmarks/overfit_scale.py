"""How long does the sweep overfitting section take, and how much memory, at 40,000 trials?

Generates (seeded) correlated synthetic trials -- a few common factors plus noise, like a grid of
rotation rules sharing their markets -- in chunks of columns, feeds them to
``rotationlab.overfit.OverfitAccumulator`` with a benchmark (raw and excess returns, DSR and PBO
with S=16: 12,870 CSCV splits) and prints seconds and peak resident memory. The whole matrix is
never built.

Then it compares, on a size the old method can hold (2,000 trials by default), the accumulator
with the whole-matrix computation the overfitting section used before (N x N correlation matrix,
two C(S, S/2) x N metric matrices, scipy ranks, called once for raw and once for excess returns):
both timed in the same run, the ratio printed, and their results checked equal.

Every measurement runs in its own subprocess, so each peak-memory figure is its own.

    PYTHONPATH=. python benchmarks/overfit_scale.py                # 40,000 x 5,000, then 2,000
    PYTHONPATH=. python benchmarks/overfit_scale.py --trials 4000 --compare-trials 500
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
N_FACTORS = 8


def factors(n_days: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily factor returns (n_days x N_FACTORS) and the benchmark (the first factor)."""
    rng = np.random.default_rng([seed, 0])
    f = rng.normal(0.0003, 0.01, (n_days, N_FACTORS))
    return f, f[:, 0].copy()


def trial_chunk(f: np.ndarray, seed: int, first: int, k: int) -> np.ndarray:
    """Trials first .. first+k-1: random factor loadings plus their own noise; a few carry a
    small edge. The same trial is the same whatever the chunking (seeded by its chunk)."""
    rng = np.random.default_rng([seed, 1, first])
    loadings = rng.dirichlet(np.ones(N_FACTORS) * 0.3, size=k).T          # N_FACTORS x k
    x = f @ loadings + rng.normal(0.0, 0.006, (len(f), k))
    x[:, ::997] += 0.0002
    return x


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def whole_matrix(trials: pd.DataFrame, n_splits: int, benchmark: pd.Series | None = None) -> dict:
    """The overfitting section as computed before chunked accumulation (whole matrices)."""
    from scipy import stats as sps

    from rotationlab import stats
    if benchmark is not None:
        out = whole_matrix(trials.sub(benchmark.reindex(trials.index), axis=0), n_splits)
        out["raw"] = whole_matrix(trials, n_splits)
        return out
    t = trials.dropna(how="any")
    arr = t.to_numpy()
    n = arr.shape[1]
    sr = np.asarray(stats.sharpe(arr, periods=1), dtype=float)
    best = int(np.nanargmax(sr))
    r = arr[:, best]
    corr = np.corrcoef(arr, rowvar=False)
    rho = min(1.0, max(0.0, (corr.sum() - n) / (n * (n - 1))))
    n_eff = rho + (1 - rho) * n
    dsr = stats.deflated_sharpe_ratio(sr[best], sr, len(r), float(sps.skew(r)),
                                      float(sps.kurtosis(r, fisher=False)), n_trials_effective=n_eff)
    s = n_splits
    m = arr[len(arr) % s:]
    size = len(m) // s
    combos = list(combinations(range(s), s // 2))
    ins = np.zeros((len(combos), s))
    for i, c in enumerate(combos):
        ins[i, list(c)] = 1.0
    blocks = m.reshape(s, size, n)
    centred = blocks - m.mean(axis=0)
    raw1, c1, c2 = blocks.sum(axis=1), centred.sum(axis=1), (centred * centred).sum(axis=1)
    half = size * (s // 2)

    def metric(sel):
        cm = (sel @ c1) / half
        return ((sel @ raw1) / half) / np.sqrt(np.clip((sel @ c2 - half * cm * cm) / (half - 1), 0, None))

    r_is, r_oos = metric(ins), metric(1.0 - ins)
    b = np.argmax(r_is, axis=1)
    omega = sps.rankdata(r_oos, axis=1)[np.arange(len(combos)), b] / (n + 1.0)
    return {"n_trials_effective": float(n_eff), "deflated_sharpe_ratio": float(dsr["dsr"]),
            "pbo": float(np.mean(np.log(omega / (1 - omega)) <= 0)), "best": str(t.columns[best])}


def run_accumulator(n_trials: int, n_days: int, chunk: int, seed: int, n_splits: int) -> dict:
    from rotationlab.overfit import OverfitAccumulator
    f, bench = factors(n_days, seed)
    days = pd.bdate_range("2000-01-03", periods=n_days)
    gen = 0.0
    t0 = time.perf_counter()
    acc = OverfitAccumulator(days, benchmark=pd.Series(bench, index=days), n_splits=n_splits)
    for first in range(0, n_trials, chunk):
        g0 = time.perf_counter()
        x = trial_chunk(f, seed, first, min(chunk, n_trials - first))
        gen += time.perf_counter() - g0
        acc.add(x, labels=[f"trial {first + i}" for i in range(x.shape[1])])
    a0 = time.perf_counter()
    out = acc.result()
    total = time.perf_counter() - t0
    return {"case": "accumulator", "trials": n_trials, "days": n_days, "seconds_total": total,
            "seconds_generating": gen, "seconds_statistics": total - gen, "seconds_result": time.perf_counter() - a0,
            "peak_rss_mb": peak_rss_mb(), "n_trials_effective": out["n_trials_effective"],
            "deflated_sharpe_ratio": out["deflated_sharpe_ratio"], "pbo": out["pbo"], "best": out["best"],
            "raw": {k: out["raw"][k] for k in ("n_trials_effective", "deflated_sharpe_ratio", "pbo", "best")}}


def run_whole(n_trials: int, n_days: int, chunk: int, seed: int, n_splits: int) -> dict:
    f, bench = factors(n_days, seed)
    days = pd.bdate_range("2000-01-03", periods=n_days)
    blocks = [trial_chunk(f, seed, first, min(chunk, n_trials - first)) for first in range(0, n_trials, chunk)]
    frame = pd.DataFrame(np.hstack(blocks), index=days, columns=[f"trial {i}" for i in range(n_trials)])
    del blocks
    base = peak_rss_mb()
    t0 = time.perf_counter()
    out = whole_matrix(frame, n_splits, benchmark=pd.Series(bench, index=days))
    seconds = time.perf_counter() - t0
    return {"case": "whole_matrix", "trials": n_trials, "days": n_days, "seconds_statistics": seconds,
            "peak_rss_mb": peak_rss_mb(), "peak_rss_mb_before": base, **out}


def child(args) -> None:
    fn = {"accumulator": run_accumulator, "whole_matrix": run_whole}[args.case]
    print(json.dumps(fn(args.trials, args.days, args.chunk, args.seed, args.splits)))


def spawn(case: str, trials: int, args) -> dict:
    cmd = [sys.executable, __file__, "--case", case, "--trials", str(trials), "--days", str(args.days),
           "--chunk", str(args.chunk), "--seed", str(args.seed), "--splits", str(args.splits)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=40_000)
    p.add_argument("--days", type=int, default=5_000)
    p.add_argument("--chunk", type=int, default=1_000, help="trials per chunk fed to the accumulator")
    p.add_argument("--compare-trials", type=int, default=2_000)
    p.add_argument("--splits", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--case", choices=["accumulator", "whole_matrix"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.case:
        child(args)
        return 0
    big = spawn("accumulator", args.trials, args)
    print(f"accumulator, {big['trials']:,} trials x {big['days']:,} days, raw + excess, S={args.splits}: "
          f"{big['seconds_total']:.1f} s ({big['seconds_generating']:.1f} s generating the trials, "
          f"{big['seconds_statistics']:.1f} s statistics, of which {big['seconds_result']:.1f} s CSCV and DSR "
          f"at the end), peak RSS {big['peak_rss_mb']:,.0f} MB "
          f"(the trial matrix alone would be {big['trials'] * big['days'] * 8 / 1e6:,.0f} MB)")
    print(f"  excess: N_eff {big['n_trials_effective']:.1f}, DSR {big['deflated_sharpe_ratio']:.3f}, "
          f"PBO {big['pbo']:.3f}, best {big['best']}; raw: N_eff {big['raw']['n_trials_effective']:.1f}, "
          f"DSR {big['raw']['deflated_sharpe_ratio']:.3f}, PBO {big['raw']['pbo']:.3f}")
    small = spawn("accumulator", args.compare_trials, args)
    old = spawn("whole_matrix", args.compare_trials, args)
    same = all(abs(small[k] - old[k]) <= 1e-9 * max(1.0, abs(old[k]))
               for k in ("n_trials_effective", "deflated_sharpe_ratio", "pbo")) and small["best"] == old["best"]
    same = same and all(abs(small["raw"][k] - old["raw"][k]) <= 1e-9 * max(1.0, abs(old["raw"][k]))
                        for k in ("n_trials_effective", "deflated_sharpe_ratio", "pbo"))
    print(f"{args.compare_trials:,} trials x {args.days:,} days, raw + excess: accumulator "
          f"{small['seconds_statistics']:.1f} s, peak RSS {small['peak_rss_mb']:,.0f} MB; whole matrix "
          f"{old['seconds_statistics']:.1f} s, peak RSS {old['peak_rss_mb']:,.0f} MB "
          f"({old['peak_rss_mb_before']:,.0f} MB holding the trial frame); "
          f"speed-up {old['seconds_statistics'] / small['seconds_statistics']:.1f}x; "
          f"same results: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
