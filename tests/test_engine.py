"""Engine: hand-worked trades, fill timing, costs, late listings, and agreement with an
independent simulator."""

from __future__ import annotations

import dataclasses

import json

import numpy as np
import pandas as pd
import pytest
from conftest import make_bars
from simulator import simulate

from data_feeds import get_source
from rotationlab.config import Execution, RunConfig
from rotationlab.engine import run

ZERO = Execution(cash=10_000.0, commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0)


def _divergence(**params):
    base = dict(dow_symbol="D", nasdaq_symbol="N", growth_symbols="N", rotation_symbols="D",
                lookback_days=1, threshold=0.02, hold_days=0, exit_threshold=0.0)
    base.update(params)
    return {k: str(v) for k, v in base.items()}


def test_hand_built_divergence_trades_and_final_equity():
    # Day 0 warms up (lookback 1). Close of day 1: both flat -> target growth N, bought at
    # day 2's open. Close of day 3: D +1%, N -2% -> spread 3% >= 2%: rotate; filled at day 4's
    # open. Close of day 5: N +3%, D 0% -> spread -3% < 0: rotate back at day 6's open.
    d_close = [100, 100, 100, 101, 101, 101, 101, 101]
    n_close = [50, 50, 50, 49, 49, 50.47, 50.47, 50.47]
    opens_d = [100, 100, 100, 100, 102, 101, 101, 101]
    opens_n = [50, 50, 50, 50, 48, 50, 51, 50]
    data = {"D": make_bars("D", d_close, opens=opens_d), "N": make_bars("N", n_close, opens=opens_n)}
    cfg = RunConfig(strategy="dow_nasdaq_divergence", params=_divergence(), benchmark=None, execution=ZERO)
    res = run(cfg, data=data)
    dates = data["D"].frame.index
    assert res.equity.index[0] == dates[1]  # first decision once lookback history exists
    t = res.trades
    # Day 2: buy N with all 10,000 at the open 50 -> 200 shares.
    assert t.iloc[0].to_dict() == {"date": dates[2], "symbol": "N", "size": pytest.approx(200.0, rel=1e-8),
                                   "price": 50.0, "commission": 0.0}
    # Day 4 open: sell 200 N at 48 (cash 9,600), buy D at 102 -> 94.1176... shares.
    assert (t.iloc[1]["date"], t.iloc[1]["symbol"], t.iloc[1]["size"], t.iloc[1]["price"]) == (dates[4], "N", pytest.approx(-200.0, rel=1e-8), pytest.approx(48.0))
    assert t.iloc[2]["date"] == dates[4] and t.iloc[2]["symbol"] == "D"
    assert t.iloc[2]["size"] == pytest.approx(9600 / 102, rel=1e-8)
    # Day 6 open: sell D at 101 (cash 9600/102*101), buy N at 51.
    cash6 = 9600 / 102 * 101
    assert t.iloc[3]["price"] == pytest.approx(101) and t.iloc[4]["price"] == pytest.approx(51)
    assert t.iloc[4]["size"] == pytest.approx(cash6 / 51, rel=1e-8)
    # Final equity: the N shares at the last close 50.47.
    assert res.equity.iloc[-1] == pytest.approx(cash6 / 51 * 50.47, rel=1e-8)
    assert len(t) == 5
    sig = res.signals
    assert list(sig["state"].loc[dates[3]:dates[5]]) == ["rotated", "rotated", "growth"]
    assert bool(sig["triggered"].loc[dates[3]]) and sig["spread"].loc[dates[3]] == pytest.approx(0.01 + 0.02)


def test_costs_are_charged_in_basis_points():
    data = {"A": make_bars("A", [10, 10, 10, 10], opens=[10, 10, 10, 10])}
    ex = Execution(cash=1000.0, commission_bps=10.0, slippage_bps=50.0, cash_buffer=0.01)
    res = run(RunConfig(strategy="buy_and_hold", params={"symbol": "A"}, benchmark=None, execution=ex), data=data)
    fill = res.trades.iloc[0]
    assert fill["price"] == pytest.approx(10 * 1.005)  # buy slipped up 50 bps
    assert fill["size"] == pytest.approx(1000 * 0.99 / 10)  # sized at the open, 1% buffer kept
    assert fill["commission"] == pytest.approx(fill["size"] * fill["price"] * 0.001)


def test_close_only_feed_fills_at_next_close_and_says_so():
    closes = [100, 101, 102, 103, 104]
    data = {"D": make_bars("D", closes, close_only=True)}
    res = run(RunConfig(strategy="buy_and_hold", params={"symbol": "D"}, benchmark=None, execution=ZERO), data=data)
    first = res.trades.iloc[0]
    assert first["date"] == data["D"].frame.index[1] and first["price"] == 101
    assert res.execution["fills_by_symbol"]["D"] == "next close (close prices only)"


def test_same_close_is_an_explicit_labelled_option():
    data = {"A": make_bars("A", [10, 11, 12, 13], opens=[9, 9, 9, 9])}
    ex = Execution(cash=1000.0, commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0, fill="same_close")
    res = run(RunConfig(strategy="buy_and_hold", params={"symbol": "A"}, benchmark=None, execution=ex), data=data)
    assert res.trades.iloc[0]["date"] == data["A"].frame.index[0] and res.trades.iloc[0]["price"] == 10
    assert "STUDY OPTION" in res.execution["fill_rule"]
    assert Execution().fill == "next_open"


def test_trading_starts_when_every_symbol_of_the_rule_has_prices():
    a = make_bars("A", np.linspace(100, 120, 60))
    b_full = make_bars("B", np.linspace(50, 60, 60))
    b = type(b_full).build(b_full.frame.iloc[30:], source="test", symbol="B", adjustment="unknown", close_only=False)
    cfg = RunConfig(strategy="static_blend", params={"symbols": "A,B"}, benchmark=None, execution=ZERO, start="2020-01-01")
    res = run(cfg, data={"A": a, "B": b})
    assert res.equity.index[0] == b.frame.index[0]   # not at --start: B has no prices before
    first = res.trades.groupby("symbol")["date"].min()
    assert first["A"] == first["B"] == b.frame.index[1]
    assert res.weights["A"].iloc[2] == pytest.approx(0.5, rel=1e-2)
    assert res.provenance["period"]["decisions_from"] == f"{b.frame.index[0]:%Y-%m-%d}"


def test_a_much_shorter_history_is_one_warning_line():
    """A universe symbol with a much shorter history, or an explicit --start it cuts, is one
    warning line naming it and the span lost; a two-symbol rule that needs both only records it."""
    bars = {s: make_bars(s, np.linspace(100, 120, 700) * (1 + i)) for i, s in enumerate("ACD")}
    bf = make_bars("B", np.linspace(50, 60, 700))
    bars["B"] = type(bf).build(bf.frame.iloc[400:], source="test", symbol="B", adjustment="price", close_only=False)
    three = RunConfig(strategy="static_blend", params={"symbols": "A,B,C"}, benchmark=None, execution=ZERO)
    (w,) = run(three, data=bars).warnings
    assert "B starts" in w and "1.5 years after A" in w and "\n" not in w
    two = RunConfig(strategy="static_blend", params={"symbols": "A,B"}, benchmark=None, execution=ZERO)
    res = run(two, data=bars)
    assert res.warnings == () and "B starts" in res.provenance["notes"][0]
    cut = run(dataclasses.replace(two, start=f"{bars['A'].frame.index[0]:%Y-%m-%d}"), data=bars)
    assert "--start" in cut.warnings[0] and "years later" in cut.warnings[0]
    same = run(dataclasses.replace(three, params={"symbols": "A,C,D"}), data=bars)
    assert same.warnings == () and same.provenance["notes"] == []


@pytest.fixture(scope="module")
def sample():
    return get_source("sample").load_many(["^DJI", "^IXIC", "^GSPC"])


def _sim_for(res, sample, **kw):
    syms = list(res.targets.columns)
    opens = pd.DataFrame({s: sample[s].frame["open"] for s in syms})
    closes = pd.DataFrame({s: sample[s].frame["close"] for s in syms})
    ex = res.execution
    return simulate(res.targets, opens, closes, cash=ex["cash"], commission_bps=ex["commission_bps"],
                    slippage_bps=ex["slippage_bps"], cash_buffer=ex["cash_buffer"],
                    drift_tolerance=ex["drift_tolerance"], fractional=ex["sizing"].startswith("fractional"),
                    fill_at=ex["fill_timing"]["at"], **kw)


def test_engine_agrees_with_independent_simulator_without_costs(sample):
    cfg = RunConfig(execution=Execution(commission_bps=0, slippage_bps=0, cash_buffer=0.0))
    res = run(cfg, data=sample)
    sim = _sim_for(res, sample)
    assert len(res.trades) > 50 and len(res.rejected) == 0
    np.testing.assert_allclose(res.equity.to_numpy(), sim.to_numpy(), rtol=1e-6)


# With costs and whole shares the two must still agree closely: both size the same way, but the
# engine rounds through backtrader's float accounting. Stated tolerance: 1e-4 relative.
COST_TOLERANCE = 1e-4


def test_engine_agrees_with_simulator_with_costs_and_whole_shares(sample):
    cfg = RunConfig(execution=Execution(commission_bps=5, slippage_bps=10, fractional=False))
    res = run(cfg, data=sample)
    sim = _sim_for(res, sample)
    np.testing.assert_allclose(res.equity.to_numpy(), sim.to_numpy(), rtol=COST_TOLERANCE)
    # and the costs matter: a zero-cost run ends measurably higher
    free = run(RunConfig(execution=Execution(commission_bps=0, slippage_bps=0, fractional=False)), data=sample)
    assert free.equity.iloc[-1] > res.equity.iloc[-1] * 1.01


def test_same_config_and_data_give_identical_metrics(tmp_path, sample):
    from reports.metrics import compute_metrics
    from rotationlab.results import dump_json
    a = run(RunConfig(start="2008-01-01", end="2010-12-31"), data=sample)
    b = run(RunConfig(start="2008-01-01", end="2010-12-31"), data=sample)
    assert dump_json(compute_metrics(a)) == dump_json(compute_metrics(b))
    assert a.equity.equals(b.equity) and a.trades.equals(b.trades)


def test_result_records_config_provenance_and_versions(sample):
    res = run(RunConfig(start="2008-01-01", end="2009-12-31"), data=sample)
    h = json.loads(json.dumps(res.header(), default=str))
    assert h["config"]["params"]["lookback_days"] == 5
    assert set(h["provenance"]["symbols"]) == {"^DJI", "^IXIC", "^GSPC"}
    assert all(len(m["sha256"]) == 64 for m in h["provenance"]["symbols"].values())
    assert h["provenance"]["alignment"]["policy"] == "union"
    assert h["versions"]["backtrader"] == "1.9.78.123"
    assert {"pandas", "numpy", "matplotlib", "scipy", "pypdf"} <= set(h["versions"])  # numbers and PDF
    assert h["provenance"]["period"]["trade_from"] >= "2008-01-01"


@pytest.mark.parametrize("fill, bar, column", [
    ("same_close", 0, "close"), ("next_open", 1, "open"), ("next_close", 1, "close"), ("second_open", 2, "open")])
def test_fill_modes_trade_at_the_stated_bar_and_price(fill, bar, column):
    closes = [10.0, 11.0, 12.0, 13.0, 14.0]
    opens = [9.5, 10.5, 11.5, 12.5, 13.5]
    data = {"A": make_bars("A", closes, opens=opens)}
    ex = Execution(cash=1000.0, commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0, fill=fill)
    res = run(RunConfig(strategy="buy_and_hold", params={"symbol": "A"}, benchmark=None, execution=ex), data=data)
    first = res.trades.iloc[0]
    assert first["date"] == data["A"].frame.index[bar]
    assert first["price"] == pytest.approx((opens if column == "open" else closes)[bar])
    assert len(res.trades) == 1  # a lagged order is not sent twice while it waits
    assert res.execution["fill"] == fill


def test_lagged_fills_do_not_send_extra_drift_orders(sample):
    counts = {}
    for fill in ("next_open", "next_close", "second_open"):
        res = run(RunConfig(start="2007-01-01", end="2009-12-31", execution=Execution(fill=fill)), data=sample)
        counts[fill] = len(res.trades)
    assert counts["next_open"] == counts["next_close"] == counts["second_open"] > 10


def test_a_rebalance_fills_every_leg_at_the_same_time_on_the_sample(sample):
    """^DJI has close prices only: every order of the run fills at the next close, so a switch
    out of ^DJI never buys ^IXIC at another time and price than the sale."""
    res = run(RunConfig(), data=sample)
    assert res.execution["close_only_symbols"] == ["^DJI"]
    assert res.execution["fill_timing"] == {"at": "close", "bars_after_decision": 1}
    t = res.trades
    closes = {s: sample[s].frame["close"] for s in ("^DJI", "^IXIC")}
    slip = res.execution["slippage_bps"] / 1e4
    for _, tr in t.iterrows():
        c = closes[tr["symbol"]].loc[tr["date"]]
        assert tr["price"] == pytest.approx(c * (1 + slip if tr["size"] > 0 else 1 - slip), rel=1e-12)
    switches = t.groupby("date")["symbol"].nunique()
    assert (switches == 2).sum() > 40  # rotations: both legs trade on the same day, at that day's close


def test_the_rules_daily_state_does_not_depend_on_start(sample):
    """The rule decides from its first bar whatever --start is: runs from 1999 and from 2006 agree
    on the state and spread of every common date."""
    early = run(RunConfig(), data=sample).signals
    late = run(RunConfig(start="2006-05-16"), data=sample).signals
    common = late.index
    assert len(common) > 3000 and common[0] == pd.Timestamp("2006-05-16")
    pd.testing.assert_frame_equal(early.loc[common], late)
