"""Strategy rules on hand-made paths: each option of the divergence rule and each baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_bars

from rotationlab.config import Execution, RunConfig, resolve_params
from rotationlab.engine import run
from rotationlab.errors import UserError
from strategies import STRATEGIES

ZERO = Execution(cash=10_000.0, commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0)


def _path(returns, start=100.0):
    return list(start * np.cumprod(np.r_[1.0, 1.0 + np.asarray(returns, dtype=float)]))


def _run(strategy, data, **params):
    cfg = RunConfig(strategy=strategy, params={k: str(v) for k, v in params.items()}, benchmark=None, execution=ZERO)
    return run(cfg, data=data)


DIV = dict(dow_symbol="D", nasdaq_symbol="N", growth_symbols="N", rotation_symbols="D",
           lookback_days=1, threshold=0.02, hold_days=0)


def _dn(d_rets, n_rets, **extra):
    data = {"D": make_bars("D", _path(d_rets)), "N": make_bars("N", _path(n_rets))}
    data.update(extra)
    return data


def _states(res):
    return list(res.signals["state"])


def test_threshold_is_inclusive_and_a_fraction():
    res = _run("dow_nasdaq_divergence", _dn([0, 0.01, 0, 0], [0, -0.0101, 0, 0]), **DIV)
    assert _states(res)[:3] == ["growth", "rotated", "rotated"]
    res = _run("dow_nasdaq_divergence", _dn([0, 0.01, 0, 0], [0, -0.0095, 0, 0]), **DIV)
    assert "rotated" not in _states(res)


def test_require_opposite_signs():
    # Dow +3%, Nasdaq +0.5%: spread 2.5% triggers only without the sign condition.
    data = _dn([0, 0.03, 0, 0], [0, 0.005, 0, 0])
    assert "rotated" in _states(_run("dow_nasdaq_divergence", data, **DIV))
    assert "rotated" not in _states(_run("dow_nasdaq_divergence", data, **DIV, require_opposite_signs=True))


def test_confirm_days_waits_for_follow_through_and_cancels_on_reversal():
    held = _dn([0, 0.03, 0.001, 0.001, 0, 0], [0, 0, 0, 0, 0, 0])
    st = _states(_run("dow_nasdaq_divergence", held, **DIV, confirm_days=2))
    assert st[:4] == ["growth", "pending", "pending", "rotated"]
    failed = _dn([0, 0.03, -0.002, 0.001, 0, 0], [0, 0, 0, 0, 0, 0])
    st = _states(_run("dow_nasdaq_divergence", failed, **DIV, confirm_days=2))
    assert st[:3] == ["growth", "pending", "growth"] and "rotated" not in st


def test_hold_days_and_exit_threshold():
    d = [0, 0.03, 0, 0, 0, 0, 0, 0, 0]
    n = [0, 0, 0.005, 0.005, 0.03, 0, 0, 0, 0]
    # exit_threshold 1%: the 0.5% Nasdaq lead does not bring it back, the 3% one does.
    st = _states(_run("dow_nasdaq_divergence", _dn(d, n), **{**DIV, "exit_threshold": 0.01}))
    assert st[:5] == ["growth", "rotated", "rotated", "rotated", "growth"]
    # hold_days 5 keeps it rotated through the 3% Nasdaq day
    st = _states(_run("dow_nasdaq_divergence", _dn(d, n), **{**DIV, "exit_threshold": 0.01, "hold_days": 5}))
    assert st[:5] == ["growth"] + ["rotated"] * 4


def test_small_cap_confirm():
    base = [0, 0.03, 0, 0]
    nas = [0, 0, 0, 0]
    weak = make_bars("S", _path([0, -0.01, 0, 0]))
    strong = make_bars("S", _path([0, 0.01, 0, 0]))
    p = {**DIV, "small_cap_symbol": "S", "small_cap_confirm": True}
    assert "rotated" not in _states(_run("dow_nasdaq_divergence", _dn(base, nas, S=weak), **p))
    assert "rotated" in _states(_run("dow_nasdaq_divergence", _dn(base, nas, S=strong), **p))


def test_golden_cross_filter():
    n = 40
    d = [0] * 30 + [0.03] + [0] * (n - 31)
    up = make_bars("G", _path([0.01] * n))
    down = make_bars("G", _path([-0.01] * n))
    p = {**DIV, "golden_cross_symbol": "G", "golden_cross_fast_days": 5, "golden_cross_slow_days": 20}
    assert "rotated" in _states(_run("dow_nasdaq_divergence", _dn(d, [0] * n, G=up), **p))
    assert "rotated" not in _states(_run("dow_nasdaq_divergence", _dn(d, [0] * n, G=down), **p))


def test_tech_breakdown_exit_holds_cash_instead_of_growth():
    n_rets = [0.01] * 10 + [-0.05] + [0] * 5
    res = _run("dow_nasdaq_divergence", _dn([0] * 16, n_rets), **{**DIV, "tech_breakdown_exit": 5})
    tgt = res.targets["N"]
    assert tgt.iloc[5] == 1.0 and tgt.loc[res.targets.index[10 - 4]] == 1.0
    assert tgt.iloc[-6] == 0.0  # the close after the 5% drop is below its 5-day average


def test_rotation_weights_are_used():
    # (every series moves a little: a flat series would read as close-only and fill at the close)
    data = _dn([0, 0.03, 0, 0], [0, 0.0001, -0.0001, 0.0001], I=make_bars("I", _path([0, 0.001, -0.001, 0.001])))
    res = _run("dow_nasdaq_divergence", data, **{**DIV, "rotation_symbols": "D,I", "rotation_weights": "0.7,0.3"})
    assert res.targets.iloc[1].to_dict() == {"N": 0.0, "D": 0.7, "I": 0.3}
    assert res.weights.iloc[2]["D"] == pytest.approx(0.7, rel=1e-3)


def test_static_blend_rebalances_monthly():
    idx = pd.bdate_range("2021-01-01", "2021-04-30")
    a = make_bars("A", _path([0.01] * (len(idx) - 1)), start="2021-01-01")
    b = make_bars("B", _path([0.0] * (len(idx) - 1)), start="2021-01-01")
    res = _run("static_blend", {"A": a, "B": b}, symbols="A,B")
    months = sorted({d.month for d in res.trades["date"]})
    assert months == [1, 2, 3, 4]  # bought in January, then one rebalance in each new month
    first_days = res.trades.groupby(res.trades["date"].dt.month)["date"].min()
    assert all(d.day <= 4 for d in first_days)


def test_momentum_rotation_holds_the_leader():
    n = 80
    a = make_bars("A", _path([0.002] * n))
    b = make_bars("B", _path([0.004] * n))
    res = _run("momentum_rotation", {"A": a, "B": b}, universe="A,B", top_n=1, lookback_days=20)
    assert set(res.trades["symbol"]) == {"B"} and (res.weights["A"] == 0).all()


def test_golden_cross_timing_in_and_out():
    rets = [0.01] * 40 + [-0.02] * 40
    res = _run("golden_cross_timing", {"A": make_bars("A", _path(rets))}, symbol="A", fast_days=5, slow_days=20)
    assert res.targets["A"].iloc[5] == 1.0 and res.targets["A"].iloc[-1] == 0.0


def test_always_rotated_and_buy_and_hold():
    data = {"A": make_bars("A", _path([0.01] * 10)), "B": make_bars("B", _path([0.0] * 10))}
    res = _run("always_rotated", data, rotation_symbols="A,B")
    assert res.targets.iloc[0].to_dict() == {"A": 0.5, "B": 0.5}
    res = _run("buy_and_hold", data, symbol="A")
    assert len(res.trades) == 1


def test_parameter_errors_are_one_line_with_did_you_mean():
    with pytest.raises(UserError, match=r"no parameter 'lookback'.*did you mean 'lookback_days'"):
        resolve_params("dow_nasdaq_divergence", ["lookback=3"])
    with pytest.raises(UserError, match=r"unknown strategy 'dow_nasdaq_divergense'.*did you mean 'dow_nasdaq_divergence'"):
        resolve_params("dow_nasdaq_divergense", [])
    with pytest.raises(UserError, match=r"threshold='abc': expected a number"):
        resolve_params("dow_nasdaq_divergence", ["threshold=abc"])
    with pytest.raises(UserError, match="small_cap_confirm needs small_cap_symbol"):
        resolve_params("dow_nasdaq_divergence", ["small_cap_confirm=true"])
    _, v = resolve_params("dow_nasdaq_divergence", ["rotation_symbols=DIA,IWM", "rotation_weights=0.5,0.5"])
    assert v["rotation_symbols"] == ("DIA", "IWM") and v["rotation_weights"] == (0.5, 0.5)


def test_every_strategy_documents_its_rule_and_parameters():
    assert {"dow_nasdaq_divergence", "buy_and_hold", "static_blend", "momentum_rotation", "always_rotated",
            "golden_cross_timing"} <= set(STRATEGIES)
    example = {"signal_rule": {"enter": "ret(DIA, 5) >= 0.01", "exit": "ret(DIA, 5) < 0", "growth_symbols": "QQQ"}}
    for key, cls in STRATEGIES.items():
        assert key == key.lower() and " " not in key
        assert cls.rule and "{" not in cls.create(example.get(key, {})).sentence()
        assert set(cls.param_docs) == set(cls.defaults()), key


def test_list_command_prints_rules_and_defaults(capsys):
    from rotationlab.cli import main
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for key in STRATEGIES:
        assert key in out
    assert "lookback_days = 5" in out and "threshold = 0.03" in out
