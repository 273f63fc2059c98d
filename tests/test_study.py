"""Event study and execution-lag table: known answers on synthetic data, determinism, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_MARKET, make_bars, needs_shared

from rotationlab.cli import main
from rotationlab.config import RunConfig
from rotationlab.events import basket_forward, event_study, independent, lag_sensitivity

PARAMS = {"dow_symbol": "D", "nasdaq_symbol": "N", "growth_symbols": "N", "rotation_symbols": "D",
          "lookback_days": "1", "threshold": "0.04", "hold_days": "0"}


def _synthetic(edge: float, seed: int, n: int = 2500, n_events: int = 25, gap=(60, 96)):
    """Two noisy series; on planted dates the Dow jumps 3% and the Nasdaq drops 3% (a trigger), then
    for 20 days the Dow drifts by +edge a day and the Nasdaq by -edge."""
    rng = np.random.default_rng(seed)
    d = rng.normal(0.0003, 0.01, n)
    q = rng.normal(0.0003, 0.01, n)
    d = np.clip(d, -0.015, 0.015)  # noise alone never triggers (needs a 4% spread)
    q = np.clip(q, -0.015, 0.015)
    gaps = rng.integers(*gap, size=n_events)
    starts = 50 + np.cumsum(gaps) - gaps[0]
    assert starts[-1] < n - 60
    for s in starts:
        d[s], q[s] = 0.03, -0.03
        d[s + 1:s + 21] += edge
        q[s + 1:s + 21] -= edge
    data = {"D": make_bars("D", 100 * np.cumprod(1 + d)), "N": make_bars("N", 100 * np.cumprod(1 + q))}
    return data, starts


def _cfg():
    return RunConfig(strategy="dow_nasdaq_divergence", params=PARAMS, benchmark=None)


def test_planted_edge_is_found_and_noise_is_not():
    data, starts = _synthetic(edge=0.004, seed=3)
    st = event_study(_cfg(), data=data, horizons=(5, 20), n_boot=300, n_null=400, seed=1)
    assert st.summary["n_triggers"] == len(starts)
    r = st.summary["results"]["rotation_minus_growth_20d"]
    assert r["mean"] > 0.1 and r["ci_low"] > 0
    assert r["p_value_two_sided_cluster"] < 0.01 and r["p_value_greater"] < 0.01
    noise, _ = _synthetic(edge=0.0, seed=3)
    st0 = event_study(_cfg(), data=noise, horizons=(20,), n_boot=300, n_null=400, seed=1)
    r0 = st0.summary["results"]["rotation_minus_growth_20d"]
    assert r0["p_value_two_sided_cluster"] > 0.05 and r0["ci_low"] < 0 < r0["ci_high"]


def test_forward_returns_are_measured_from_the_close_after_the_trigger():
    closes = pd.DataFrame({"A": [100.0, 110, 121, 133.1, 146.41]}, index=pd.bdate_range("2020-01-01", periods=5))
    fwd = basket_forward(closes, {"A": 1.0}, horizon=2, entry_lag=1)
    assert fwd.iloc[0] == pytest.approx(133.1 / 110 - 1) and np.isnan(fwd.iloc[3])
    two = pd.DataFrame({"A": [1.0, 2.0, 2.0], "B": [1.0, 1.0, 3.0]}, index=closes.index[:3])
    assert basket_forward(two, {"A": 0.5, "B": 0.5}, 1, 0).iloc[0] == pytest.approx(0.5 * 1 + 0.5 * 0)


def test_independent_events_are_a_horizon_apart():
    cal = pd.bdate_range("2020-01-01", periods=30)
    kept = independent(cal[[0, 1, 2, 5, 6, 12]], cal, 5)
    assert list(kept) == list(cal[[0, 5, 12]])


def test_same_seed_same_numbers_and_outputs(tmp_path):
    data, _ = _synthetic(edge=0.002, seed=5, n=800, n_events=12, gap=(30, 56))
    a = event_study(_cfg(), data=data, horizons=(5,), n_boot=200, n_null=200, seed=7)
    b = event_study(_cfg(), data=data, horizons=(5,), n_boot=200, n_null=200, seed=7)
    c = event_study(_cfg(), data=data, horizons=(5,), n_boot=200, n_null=200, seed=8)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    assert a.summary["results"]["rotation_5d"]["ci_low"] != c.summary["results"]["rotation_5d"]["ci_low"]


def test_study_command_on_the_sample(tmp_path, capsys):
    out = tmp_path / "st"
    rc = main(["study", "--start", "2000-01-01", "--end", "2004-12-31", "--horizons", "5,20",
               "--n-boot", "100", "--n-null", "100", "--seed", "3", "--out", str(out)])
    assert rc == 0
    events = pd.read_csv(out / "events.csv")
    assert list(events.columns) == ["date", "spread"] + [f"{leg}_{h}d" for h in (5, 20)
                                                         for leg in ("rotation", "growth", "rotation_minus_growth")]
    doc = json.loads((out / "study.json").read_text())
    assert doc["seed"] == 3 and doc["n_triggers"] == len(events)
    assert set(doc["execution_lag"]) == {"same_close", "next_open", "next_close", "second_open"}
    r = doc["results"]["rotation_minus_growth_20d"]
    assert all(0 < r[k] <= 1 for k in r if "p_value" in k)
    for name in ("study_paths.png", "study_events.png", "study_distribution.png", "report.pdf"):
        assert (out / name).stat().st_size > 1000
    from pypdf import PdfReader
    text = "".join(p.extract_text() for p in PdfReader(out / "report.pdf").pages)
    assert "Forward returns after the triggers" in text and f"{r['p_value_two_sided_cluster']:.3f}" in text
    assert "survives execution delay" in text


@pytest.mark.parametrize("argv, needle", [
    (["study", "--horizons", "5,x"], "--horizons"),
    (["study", "--strategy", "buy_and_hold"], "needs a signal strategy"),
    (["study", "-p", "threshold=0.9"], "never triggered"),
])
def test_study_errors(argv, needle, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_execution_lag_table():
    data, _ = _synthetic(edge=0.004, seed=3, n=700, n_events=10, gap=(30, 56))
    params = {**PARAMS, "hold_days": "20"}  # hold through the planted 20-day drift
    table = lag_sensitivity(RunConfig(strategy="dow_nasdaq_divergence", params=params, benchmark="D"), data=data)
    assert list(table.index) == ["same_close", "next_open", "next_close", "second_open"]
    assert table["n_trades"].nunique() == 1
    # the planted edge lasts 20 days after a jump: the later the fill, the less of it is kept
    assert table.loc["same_close", "cagr"] > table.loc["second_open", "cagr"]


@needs_shared
def test_study_on_the_real_etf_csvs(tmp_path):
    out = tmp_path / "etf"
    rc = main(["study", "--source", "csv", "--data-dir", str(SHARED_MARKET), "--start", "2001-01-01",
               "-p", "dow_symbol=DIA", "-p", "nasdaq_symbol=QQQ", "-p", "growth_symbols=QQQ",
               "-p", "rotation_symbols=DIA,IWM", "--benchmark", "SPY", "--n-boot", "100", "--n-null", "100",
               "--out", str(out), "--no-pdf"])
    assert rc == 0
    doc = json.loads((out / "study.json").read_text())
    assert doc["n_triggers"] > 20 and doc["legs"]["rotation"] == {"DIA": 0.5, "IWM": 0.5}


def test_the_basket_measured_is_the_basket_held():
    """Rotation weights summing below 1 leave the rest in cash: the study's legs are those
    weights, not rescaled to 1."""
    from rotationlab.config import RunConfig
    from rotationlab.engine import run
    from rotationlab.events import study_legs
    res = run(RunConfig(start="2005-01-01", end="2007-12-31",
                        params={"rotation_symbols": "^DJI,^GSPC", "rotation_weights": "0.3,0.2"}))
    legs = study_legs(res)
    assert legs["rotation"] == {"^DJI": 0.3, "^GSPC": 0.2} and legs["growth"] == {"^IXIC": 1.0}
