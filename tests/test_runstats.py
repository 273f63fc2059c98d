"""Run-level statistics: bootstrap intervals, random-timing null, breakdowns, report page."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_bars

from rotationlab.config import Execution, RunConfig
from rotationlab.engine import run
from rotationlab.runstats import run_statistics

PARAMS = {"dow_symbol": "D", "nasdaq_symbol": "N", "growth_symbols": "N", "rotation_symbols": "D",
          "lookback_days": "1", "threshold": "0.04", "hold_days": "15"}


def _planted(edge, seed=2, n=2000):
    rng = np.random.default_rng(seed)
    d = np.clip(rng.normal(0.0002, 0.01, n), -0.015, 0.015)
    q = np.clip(rng.normal(0.0002, 0.01, n), -0.015, 0.015)
    s = 60
    while s < n - 40:
        d[s], q[s] = 0.03, -0.03
        d[s + 1:s + 16] += edge
        q[s + 1:s + 16] -= edge
        s += int(rng.integers(60, 120))
    return {"D": make_bars("D", 100 * np.cumprod(1 + d)), "N": make_bars("N", 100 * np.cumprod(1 + q))}


def _run(data):
    ex = Execution(commission_bps=0, slippage_bps=0)
    return run(RunConfig(strategy="dow_nasdaq_divergence", params=PARAMS, benchmark="N", execution=ex), data=data)


def test_random_timing_finds_a_planted_edge_and_not_noise():
    good = run_statistics(_run(_planted(0.004)), n_boot=200, n_draws=300, seed=1)
    assert good["random_timing"]["p_value_greater"] < 0.01
    assert good["random_timing"]["n_episodes"] > 10
    noise = run_statistics(_run(_planted(0.0)), n_boot=200, n_draws=300, seed=1)
    assert noise["random_timing"]["p_value_greater"] > 0.05


def test_intervals_contain_their_estimate_and_breakdowns_add_up():
    res = _run(_planted(0.002))
    s = run_statistics(res, n_boot=300, n_draws=100, seed=4)
    for key in ("cagr", "sharpe", "excess_return"):
        assert s[key]["low"] <= s[key]["estimate"] <= s[key]["high"], key
    n = len(res.returns) - 1
    assert sum(v["days"] for v in s["by_decade"].values()) == n
    assert sum(v["days"] for v in s["by_signal_state"].values()) <= n
    assert set(s["by_signal_state"]) <= {"growth", "rotated", "pending", "warmup"}
    same = run_statistics(res, n_boot=300, n_draws=100, seed=4)
    assert json.dumps(s, sort_keys=True, default=str) == json.dumps(same, sort_keys=True, default=str)


def test_buy_and_hold_has_no_random_timing():
    data = {"A": make_bars("A", 100 * np.cumprod(1 + np.full(300, 0.001)))}
    res = run(RunConfig(strategy="buy_and_hold", params={"symbol": "A"}, benchmark=None), data=data)
    s = run_statistics(res, n_boot=100, n_draws=50, seed=0)
    assert s["random_timing"] is None and "excess_return" not in s


def test_run_report_has_the_statistics_page(tmp_path):
    from pypdf import PdfReader

    import rotationlab as rl
    from reports.run_report import write_report
    run_ = rl.run(strategy="dow_nasdaq_divergence", params=PARAMS, benchmark="N", commission_bps=0, slippage_bps=0,
                  data=_planted(0.003, n=800))
    out = write_report(run_, tmp_path / "r", html=False)["metrics"]
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert doc["statistics"]["random_timing"]["p_value_greater"] == pytest.approx(
        out["statistics"]["random_timing"]["p_value_greater"])
    text = PdfReader(tmp_path / "r" / "report.pdf").pages[2].extract_text()
    assert "Is the edge more than luck?" in text
    assert f"{doc['statistics']['random_timing']['p_value_greater']:.3f}" in text
