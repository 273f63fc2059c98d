"""Sweep overfitting section: deflated Sharpe and PBO over every trial."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rotationlab.overfit import overfitting


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
