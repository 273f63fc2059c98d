"""Sweep overfitting section: deflated Sharpe and PBO over every trial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rotationlab.overfit import OverfitAccumulator, overfitting


def _trials(n_days=2000, n_trials=20, edge=0.0, seed=0):
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.01, n_days)
    x = 0.5 * common[:, None] + rng.normal(0, 0.01, (n_days, n_trials))
    x[:, 0] += edge
    return pd.DataFrame(x, index=pd.bdate_range("2001-01-01", periods=n_days),
                        columns=[f"combo {i}" for i in range(n_trials)])


def test_luck_is_called_luck():
    o = overfitting(_trials(seed=1))
    assert o["applicable"] and o["n_trials"] == 20
    assert 1 < o["n_trials_effective"] < 20  # correlated trials count as fewer
    assert o["deflated_sharpe_ratio"] < 0.5 and o["pbo"] > 0.25


def test_a_real_edge_survives_deflation():
    noise = overfitting(_trials(seed=1))
    weak = overfitting(_trials(edge=0.0015, seed=1))   # best trial's Sharpe ~2 a year
    strong = overfitting(_trials(edge=0.003, seed=1))
    assert weak["best"] == strong["best"] == "combo 0"
    assert noise["deflated_sharpe_ratio"] < 0.5 < weak["deflated_sharpe_ratio"] < strong["deflated_sharpe_ratio"]
    assert strong["deflated_sharpe_ratio"] > 0.99 and weak["pbo"] < 0.05 and strong["pbo"] < 0.01


def test_excess_over_benchmark_is_the_basis_when_given():
    t = _trials(seed=2)
    bench = t.mean(axis=1)
    o = overfitting(t, benchmark=bench)
    assert o["basis"].startswith("daily returns in excess") and "raw" in o
    assert o["best_sharpe_annual"] != o["raw"]["best_sharpe_annual"]


def test_too_few_trials_is_not_applicable():
    o = overfitting(_trials(n_trials=1))
    assert o["applicable"] is False and "2 combinations" in o["reason"]


# ------------------------------------------------------------------------------------
# the accumulator against the whole-matrix computation
# ------------------------------------------------------------------------------------

def _whole_matrix(trials: pd.DataFrame, n_splits: int = 16, benchmark=None) -> dict:
    """The overfitting section as computed before trials were accumulated in chunks (kept as
    the reference): the N x N correlation matrix for N_eff, both C x N CSCV metric matrices by
    matrix products, the OOS rank by scipy.stats.rankdata."""
    from itertools import combinations

    from scipy import stats as sps

    from rotationlab import stats
    if benchmark is not None:
        out = _whole_matrix(trials.sub(benchmark.reindex(trials.index), axis=0), n_splits)
        out["raw"] = {k: v for k, v in _whole_matrix(trials, n_splits).items() if k not in ("logits", "is_oos")}
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
    rows = np.arange(len(combos))
    omega = sps.rankdata(r_oos, axis=1)[rows, b] / (n + 1.0)
    logits = np.log(omega / (1 - omega))
    return {"n_trials": n, "n_trials_effective": n_eff, "n_days": len(t), "best": str(t.columns[best]),
            "best_sharpe_annual": sr[best] * np.sqrt(252), "expected_max_sharpe_annual": dsr["sr0"] * np.sqrt(252),
            "deflated_sharpe_ratio": dsr["dsr"], "psr_vs_zero": dsr["psr"], "pbo": float(np.mean(logits <= 0)),
            "prob_oos_loss": float(np.mean(r_oos[rows, b] < 0)),
            "degradation_slope": float(np.polyfit(r_is[rows, b], r_oos[rows, b], 1)[0]),
            "logits": list(logits), "is_oos": {"is_perf": list(r_is[rows, b]), "oos_perf": list(r_oos[rows, b])}}


def _assert_same(ref: dict, got: dict, path: str = ""):
    for k, v in ref.items():
        g = got[k]
        if isinstance(v, dict):
            _assert_same(v, g, f"{path}{k}.")
        elif isinstance(v, list):
            np.testing.assert_allclose(g, v, rtol=1e-9, atol=1e-12, err_msg=path + k)
        elif isinstance(v, float):
            assert abs(g - v) <= 1e-9 * max(1.0, abs(v)), (path + k, g, v)
        else:
            assert g == v, (path + k, g, v)


CASES = [dict(seed=1), dict(edge=0.0015, seed=1), dict(edge=0.003, seed=1), dict(seed=2),
         dict(n_days=1000, n_trials=37, seed=3)]


@pytest.mark.parametrize("case", CASES)
def test_same_as_whole_matrix(case):
    """overfitting() (now the accumulator) equals the whole-matrix computation to 1e-9 on the
    inputs above, raw and in excess of a benchmark, and adds how N_eff was computed."""
    t = _trials(**case)
    o = overfitting(t)
    _assert_same(_whole_matrix(t), o)
    assert o["n_trials_effective_method"].startswith("average correlation, exact")
    assert o["n_trials_constant"] == 0
    bench = t.mean(axis=1) * 0.5
    ob = overfitting(t, benchmark=bench)
    _assert_same(_whole_matrix(t, benchmark=bench), ob)
    assert ob["basis"].startswith("daily returns in excess") and ob["raw"]["basis"] == "daily returns"
    assert "logits" not in ob["raw"] and "is_oos" not in ob["raw"]


@pytest.mark.parametrize("chunk", [1, 3, 8, 100])
def test_chunks_of_columns_give_the_same_result(chunk):
    """Trials fed a few columns at a time (the last best-so-far kept, the first of equal Sharpe
    ratios winning) give the result of one block; duplicates tie wherever they arrive."""
    t = _trials(n_days=1200, n_trials=11, seed=4)
    t["dup of 5"] = t["combo 5"]
    t.insert(0, "dup of 7", t["combo 7"])
    bench = t.mean(axis=1)
    whole = OverfitAccumulator(t.index, benchmark=bench, n_splits=8)
    whole.add(t)
    ref = whole.result()
    acc = OverfitAccumulator(t.index, benchmark=bench, n_splits=8)
    for j in range(0, t.shape[1], chunk):
        acc.add(t.iloc[:, j:j + chunk].to_numpy(), labels=list(t.columns[j:j + chunk]))
    got = acc.result()
    assert got["best"] == ref["best"] and got["raw"]["best"] == ref["raw"]["best"]
    assert got["logits"] == ref["logits"] and got["pbo"] == ref["pbo"]
    _assert_same({k: v for k, v in ref.items() if k != "raw"}, got)
    _assert_same(ref["raw"], got["raw"])
    assert overfitting(t, benchmark=bench, n_splits=8, chunk_columns=chunk)["pbo"] == ref["pbo"]


def test_benchmark_gaps_and_missing_days():
    """Days on which a trial is missing are dropped for both bases; days without a benchmark
    return only for the excess basis, as when the excess frame was built and dropna'd."""
    t = _trials(n_days=900, n_trials=6, seed=5)
    t.iloc[:30, 2] = np.nan                    # a later start (longer warm-up)
    bench = t.mean(axis=1)
    bench.iloc[[100, 400, 401]] = np.nan
    o = overfitting(t, benchmark=bench, n_splits=8)
    assert o["n_days"] == 900 - 30 - 3 and o["raw"]["n_days"] == 900 - 30
    _assert_same(_whole_matrix(t, 8, benchmark=bench), o)


def test_constant_trials_are_left_out_and_counted():
    """A trial with no variance (never invested; or identical to the benchmark in the excess
    basis) has no Sharpe ratio or correlation: left out of that basis and counted."""
    t = _trials(n_days=700, n_trials=5, seed=6)
    bench = t["combo 3"].copy()
    t["cash"] = 0.0
    o = overfitting(t, benchmark=bench, n_splits=8)
    assert o["applicable"] and o["n_trials"] == 5 and o["n_trials_constant"] == 1  # combo 3 - benchmark = 0
    assert o["raw"]["n_trials"] == 5 and o["raw"]["n_trials_constant"] == 1        # cash
    ref_raw = _whole_matrix(t.drop(columns="cash"), 8)
    _assert_same({k: v for k, v in ref_raw.items() if k not in ("logits", "is_oos")}, o["raw"])
    _assert_same(_whole_matrix(t.drop(columns="combo 3").sub(bench, axis=0), 8), o)


def test_accumulator_checks_its_input():
    t = _trials(n_days=300, n_trials=3, seed=7)
    acc = OverfitAccumulator(t.index, n_splits=4)
    bad = t.copy()
    bad.iloc[5, 1] = np.nan
    with pytest.raises(ValueError, match="'combo 1' has NaN/inf on 1 of the 300 days"):
        acc.add(bad)
    with pytest.raises(ValueError, match="300 days x 2 trials"):
        acc.add(t.to_numpy()[:-1, :2], labels=["a", "b"])
    with pytest.raises(ValueError, match="even"):
        OverfitAccumulator(300, n_splits=5)
    acc.add(t.iloc[::-1])                      # a DataFrame is aligned to the calendar
    assert acc.result()["n_trials"] == 3
    few = OverfitAccumulator(t.index, n_splits=16)
    few.add(t.iloc[:, :1])
    r = few.result()
    assert not r["applicable"] and r["reason"] == "needs at least 2 combinations and 64 common days (have 1, 300)"
