"""Breadth and relative-strength signals: the expression functions rs, pct_above, advancers,
thrust and golden_cross (exact values on hand-made rows, NaN handling, causality, limits), and
the rules built on them (relative_strength_rotation, breadth_rotation, cyclical_defensive): their
two forms agree, both engines agree, their signals are the expressions' values bit for bit, and
their sentences, signal descriptions and flip distances say what they do."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import SHARED_MARKET, make_bars, needs_shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotationlab import expr as E
from rotationlab import fast
from rotationlab.config import Execution, RunConfig
from rotationlab.errors import UserError
from strategies import rule_class

nan = np.nan
A = [1.0, 2.0, 3.0, 2.0, 4.0, 5.0, 6.0]
B = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
C = [nan, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0]   # starts a bar later
D = [nan] * 7                              # no data at all


def env():
    return E.Panel(close={"A": A, "B": B, "C": C, "D": D})


def series(text, panel=None, **names):
    return E.parse(text, what="--rule").evaluate(E.SeriesContext(panel or env(), names))


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def refused(text, panel=None, **names) -> str:
    with pytest.raises(E.ExprError) as e:
        series(text, panel, **names)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("bad --rule ")
    return msg


# -- expression functions on hand-made rows ------------------------------------------------------
def test_rs_is_the_ratio_over_its_own_average_minus_one():
    r = np.array(A) / np.array(B)
    want = [nan, nan] + [r[t] / np.mean(r[t - 2: t + 1]) - 1.0 for t in range(2, 7)]
    same(series("rs(A, B, 3)"), want)
    # by hand: t=2: 1.5 / mean(0.5, 1, 1.5) - 1 = 0.5; t=3: 1 / (3.5 / 3) - 1 = -1/7
    assert want[2] == 0.5 and math.isclose(want[3], -1 / 7, rel_tol=1e-15)
    same(series("rs(close(A), 'B', n)", n=3), want)      # a bare symbol, close() or a string
    assert np.isnan(series("rs(C, B, 3)")[:3]).all() and not np.isnan(series("rs(C, B, 3)")[3])
    assert np.isnan(series("rs(A, D, 2)")).all()


def test_pct_above_counts_members_strictly_above_their_average():
    # t=2: A 3 > 2 yes, B 2 > 2 no, C's window holds a NaN: 1 of 2. t=3: A 2 < 7/3, B no, C 1 < 2: 0 of 3.
    # t=4: A 4 > 3, C 2 > 5/3: 2 of 3 (D never counts)
    same(series("pct_above(3, A, B, C, D)"), [nan, nan, 0.5, 0.0, 2 / 3, 2 / 3, 2 / 3])
    same(series("pct_above(1, A, B)"), [0.0] * 7)           # a value is never above itself
    same(series("pct_above(2, D)"), [nan] * 7)              # no member counts: NaN


def test_advancers_is_the_share_up_on_the_day():
    # t=1: A up, B flat, C has no previous close: 1 of 2; t=2: A up, C down: 1 of 3; t=3: none up
    same(series("advancers(A, B, C, D)"), [nan, 0.5, 1 / 3, 0.0, 2 / 3, 2 / 3, 2 / 3])
    same(series("advancers(A)"), [nan, 1, 1, 0, 1, 1, 1])


def test_golden_cross_is_one_while_the_fast_average_is_above_the_slow_one():
    # t=3: mean(3, 2) = 2.5 > mean(2, 3, 2); t=4: mean(2, 4) = 3 == mean(3, 2, 4): not above
    same(series("golden_cross(A, 2, 3)"), [nan, nan, 1, 1, 0, 1, 1])
    same(series("golden_cross(C, 1, 2)"), [nan, nan, 0, 0, 1, 1, 1])


SHARE = [0.3] * 12 + [1.0] * 10 + [0.3] * 5


@pytest.mark.parametrize("n, fires", [(10, [16]), (4, [16]), (3, [])])
def test_breadth_thrust_on_a_hand_made_share(n, fires):
    # the 10-bar mean: 0.3 through t=11, 0.37 at t=12 (the last reading below 0.40), 0.44, 0.51, 0.58,
    # then 0.72 at t=16: above 0.615 for the first time, 4 bars after the low reading
    got = E.breadth_thrust(np.array(SHARE), 0.40, 0.615, n)
    a = E.rolling_mean(np.array(SHARE), 10)
    assert a[12] < 0.40 < a[13] and a[15] < 0.615 < a[16]
    want = np.zeros(len(SHARE))
    want[:9] = nan
    want[fires] = 1.0
    same(got, want)


def _thrust_members(lead: int = 12):
    """Ten members: 3 up each day for ``lead`` days, then all 10 up for 10 days, then 3 again."""
    k = 10
    ups = [3] * lead + [10] * 10 + [3] * 5
    closes = np.full((k, len(ups) + 1), 100.0)
    for t, u in enumerate(ups, start=1):
        step = np.where(np.arange(k) < u, 1.01, 0.995)
        closes[:, t] = closes[:, t - 1] * step
    return {f"S{i}": closes[i] for i in range(k)}


def test_thrust_through_the_language_matches_zweig_levels():
    close = _thrust_members()
    panel = E.Panel(close=close)
    members = ", ".join(close)
    got = series(f"thrust(0.40, 0.615, 10, {members})", panel)
    want = E.breadth_thrust(E.advancing_share(list(close.values())), 0.40, 0.615, 10)
    same(got, want)
    assert np.flatnonzero(got == 1.0).tolist() == [17]       # SHARE shifted by the first bar (no change yet)
    same(series(f"advancers({members})", panel)[1:], SHARE)
    assert np.nansum(series(f"thrust(0.40, 0.9, 10, {members})", panel)) == 1.0   # 1.0 > 0.9 at t = 22
    assert np.nansum(series(f"thrust(0.20, 0.615, 10, {members})", panel)) == 0.0  # never below 0.20


def test_margins_and_needed_symbols_of_the_new_functions():
    m = E.parse("pct_above(3, A, B, C) >= 0.5").margin(E.SeriesContext(env(), {}))
    np.testing.assert_allclose(m, [nan, nan, 0.0, -0.5, 2 / 3 - 0.5, 2 / 3 - 0.5, 2 / 3 - 0.5], rtol=0, atol=1e-15)
    e = E.parse("rs(xli, SPY, n) > t and pct_above(n, XLK, sym, 'BRK-B') > 0.5 and thrust(lo, 0.6, 10, XLE) "
                "and golden_cross(^GSPC, 50, 200) and advancers(XLF, XLP) > 0")
    assert e.needed_symbols({"sym": "XLE", "n": 3, "t": 0.0, "lo": 0.4}) == (
        "xli", "SPY", "XLK", "XLE", "BRK-B", "^GSPC", "XLF", "XLP")
    assert e.functions == ("rs", "pct_above", "thrust", "golden_cross", "advancers")
    assert "lo" in e.names and "t" in e.names and "BRK-B" in e.symbols and "^GSPC" in e.symbols


@pytest.mark.parametrize("text, needle", [
    ("thrust(0.7, 0.6, 3, A, B) > 0", "needs 0 <= LOW < HIGH <= 1"),
    ("thrust(-0.1, 0.6, 3, A) > 0", "needs 0 <= LOW < HIGH <= 1"),
    ("thrust(close(A), 0.6, 3, A) > 0", "argument 1 of thrust() must be a number"),
    ("thrust(0.4, 0.6, 3) > 0", "thrust() takes 4 or more arguments"),
    ("pct_above(3) > 0", "pct_above() takes 2 or more arguments"),
    ("pct_above(ret(A, 1), A) > 0", "the window of pct_above() must be a number of bars"),
    ("pct_above(8, A) > 0", "longer than the data"),
    ("pct_above(0, A) > 0", "from 1 to 100,000"),
    ("golden_cross(A, 3, 2) > 0", "needs FAST < SLOW, got 3 and 2"),
    ("rs(A, B) > 0", "rs() takes 3 arguments"),
    ("rs(A, nope, 3) > 0", "unknown symbol or name 'nope'"),
    ("advancers() > 0", "advancers() takes 1 or more arguments"),
])
def test_refusals_are_one_line(text, needle):
    assert needle in refused(text)


def test_the_work_limit_covers_the_new_averages():
    x = 100 + np.cumsum(np.random.default_rng(0).normal(size=30_000))
    panel = E.Panel(close={s: x for s in ("A", "B", "C", "D")})
    ctx = dict(n=15_000)
    assert "too much work" in refused("pct_above(n, A, B, C) > 0", panel, **ctx)
    assert "too much work" in refused("rs(A, B, n) + rs(A, C, n) + rs(B, C, n) > 0", panel, **ctx)
    assert "too much work" in refused("golden_cross(A, n - 1, n) + golden_cross(B, n - 1, n) > 0", panel, **ctx)
    series("pct_above(200, A, B, C, D) > 0.5 and rs(A, B, 50) > 0", panel)  # ordinary use is fine


CAUSAL = ["rs(A, B, n)", "pct_above(n, A, B, C)", "advancers(A, B, C)", "thrust(0.3, 0.6, n, A, B, C)",
          "golden_cross(A, n, m)", "rs(A, B, n) > 0.01 and pct_above(m, A, B) >= 0.5"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), T=st.integers(12, 80), frac=st.floats(0, 1), text=st.sampled_from(CAUSAL),
       n=st.integers(1, 6), poison=st.sampled_from([nan, 0.0, -1.0, 1e300, np.inf]))
def test_every_new_function_is_causal(seed, T, frac, text, n, poison):
    rng = np.random.default_rng(seed)
    close = {s: 100 * np.exp(np.cumsum(rng.normal(0, 0.02, T))) for s in "ABC"}
    close["C"][: rng.integers(0, 4)] = nan
    k = int(frac * (T - 1))
    names = {"n": n, "m": n + 3}
    e = E.parse(text)
    before = e.evaluate(E.SeriesContext(E.Panel(close=close), names))
    bad = {s: v.copy() for s, v in close.items()}
    for v in bad.values():
        v[k + 1:] = poison if rng.random() < 0.5 else rng.normal(0, 1e6, T - k - 1)
    after = e.evaluate(E.SeriesContext(E.Panel(close=bad), names))
    same(before[: k + 1], after[: k + 1])


def test_basket_relative_strength_does_not_depend_on_price_levels():
    rng = np.random.default_rng(5)
    xs = [100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300))) for _ in range(4)]
    rs = E.relative_strength(E.basket_line(xs[:2]), E.basket_line(xs[2:]), 50)
    scaled = E.relative_strength(E.basket_line([xs[0] * 37.0, xs[1]]), E.basket_line([xs[2], xs[3] / 9.0]), 50)
    np.testing.assert_allclose(scaled, rs, rtol=0, atol=1e-12)
    same(E.basket_line([xs[0]]), xs[0])                  # one member: the member itself
    np.testing.assert_allclose(E.basket_line(xs[:2]), np.sqrt(xs[0] * xs[1]), rtol=1e-13)


# -- the rules -----------------------------------------------------------------------------------
SECTORS = ("XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY")
ZERO = Execution(commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0)


def synthetic(symbols, T=700, seed=11):
    """Random walks (a common factor plus noise) as Bars, one per symbol."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0003, 0.01, T)
    out = {}
    for i, s in enumerate(symbols):
        r = common * (0.5 + 0.15 * i) + rng.normal(0, 0.008, T)
        out[s] = make_bars(s, 50 * (1 + i) * np.exp(np.cumsum(r)), start="2015-01-01")
    return out


RS_BASE = {"rotation_symbols": ("XLI", "XLV", "XLF", "XLP"), "growth_symbols": ("XLK",), "benchmark_symbols": ("SPY",)}
RS_SETS = [{}, {"rs_days": 20, "threshold": 0.01, "confirm_days": 2, "hold_days": 10, "exit_threshold": 0.01},
           {"signal_symbols": ("XLI",), "rotation_symbols": ("XLI",), "rs_days": 100, "threshold": 0.0},
           {"rotation_weights": (0.4, 0.3, 0.2, 0.1), "growth_symbols": (), "rs_days": 10, "threshold": 0.005}]
CD_SETS = [{}, {"rs_days": 20, "threshold": 0.0, "exit_threshold": 0.0},
           {"rs_days": 30, "threshold": 0.02, "exit_threshold": 0.005, "hold_days": 5, "confirm_days": 1,
            "cyclical_weights": (0.4, 0.3, 0.2, 0.1)}]
BR_BASE = {"universe": SECTORS}
BR_SETS = [{}, {"thrust": True, "hold_days": 20}, {"breadth_days": 100, "threshold": 0.75, "exit_threshold": 0.5,
                                                   "confirm_days": 3, "growth_symbols": ("XLP", "XLU")},
           {"breadth_days": 20, "threshold": 0.5, "exit_threshold": 0.5, "thrust": True, "thrust_low": 0.3,
            "thrust_high": 0.7, "thrust_days": 5, "rotation_symbols": ("XLK", "XLY"), "rotation_weights": (0.6, 0.4)}]
CASES = [("relative_strength_rotation", RS_BASE, RS_SETS), ("cyclical_defensive", {}, CD_SETS),
         ("breadth_rotation", BR_BASE, BR_SETS)]


@pytest.fixture(scope="module")
def fake():
    return synthetic([*SECTORS, "SPY"])


@pytest.fixture(scope="module")
def sectors():
    from data_feeds import get_source
    return get_source("csv", data_dir=SHARED_MARKET).load_many([*SECTORS, "SPY"])


@pytest.mark.parametrize("strategy, base, sets", CASES, ids=[c[0] for c in CASES])
def test_both_forms_agree_on_synthetic_data(fake, strategy, base, sets):
    cfg = RunConfig(strategy=strategy, params=base, benchmark="SPY", execution=ZERO)
    assert fast.check_forms(cfg, fake, sets) == len(sets)


@needs_shared
@pytest.mark.parametrize("strategy, base, sets", CASES, ids=[c[0] for c in CASES])
def test_both_forms_agree_on_the_sector_spdrs(sectors, strategy, base, sets):
    cfg = RunConfig(strategy=strategy, params=base, benchmark="SPY", execution=ZERO)
    assert fast.check_forms(cfg, sectors, sets) == len(sets)


@needs_shared
@pytest.mark.parametrize("strategy, base, sets", CASES, ids=[c[0] for c in CASES])
def test_the_fast_engine_agrees_with_backtrader(sectors, strategy, base, sets):
    from test_fast import _check_against_backtrader
    cfg = RunConfig(strategy=strategy, params=base, benchmark="SPY", start="2012-01-01", execution=ZERO)
    res, worst = _check_against_backtrader(cfg, sectors, sets[:2], fast.AGREEMENT_TOLERANCE["zero_cost"])
    assert (res.n_fills > 4).all()
    with_costs = RunConfig(strategy=strategy, params=base, benchmark="SPY", start="2016-01-01",
                           execution=Execution(fractional=False))
    _check_against_backtrader(with_costs, sectors, sets[2:3], fast.AGREEMENT_TOLERANCE["costs"])


def _signals(strategy, params, data):
    from rotationlab.engine import run
    return run(RunConfig(strategy=strategy, params=params, benchmark="SPY", execution=ZERO), data=data)


def test_the_rules_log_the_expressions_values(fake):
    """The logged signal is the expression language's value on the same closes, bit for bit."""
    from rotationlab.layout import layout
    for strategy, params, text in [
        ("relative_strength_rotation", {**RS_BASE, "signal_symbols": ("XLI",), "rs_days": 30}, "rs(XLI, SPY, 30)"),
        ("breadth_rotation", {**BR_BASE, "breadth_days": 40}, f"pct_above(40, {', '.join(SECTORS)})"),
    ]:
        res = _signals(strategy, params, fake)
        rule = rule_class(strategy).create(params)
        lay = layout(RunConfig(strategy=strategy, params=params, benchmark="SPY"), fake, rule)
        value = E.parse(text).evaluate(E.SeriesContext(E.Panel(close=lay.closes), {}))
        logged = res.signals["spread"].to_numpy(dtype=float)
        same(logged, value[lay.tf:])
        assert set(res.signals["state"]) <= {"growth", "pending", "rotated"}


def test_thrust_entries_rotate_the_breadth_rule():
    close = _thrust_members(lead=42)
    bars = {s: make_bars(s, c, start="2020-01-01") for s, c in close.items()}
    data = {**bars, "SPY": bars["S9"]}
    members = ", ".join(close)
    fired = series(f"thrust(0.40, 0.615, 10, {members})", E.Panel(close=close))
    share = series(f"pct_above(30, {members})", E.Panel(close=close))
    assert np.flatnonzero(fired == 1.0).tolist() == [47]
    assert share[47] == 0.3                              # the seven laggards are still below their average
    params = {"universe": tuple(close), "breadth_days": 30, "threshold": 0.9, "exit_threshold": 0.0,
              "thrust": True, "rotation_symbols": ("S0",), "growth_symbols": ("S9",), "hold_days": 3}
    sig = _signals("breadth_rotation", params, data).signals
    first = sig.index[sig["state"] == "rotated"][0]
    assert first == bars["S0"].frame.index[47] and bool(sig.loc[first, "triggered"])
    sig = _signals("breadth_rotation", {**params, "thrust": False}, data).signals
    assert sig.index[sig["state"] == "rotated"][0] > bars["S0"].frame.index[47]  # breadth alone comes later


def test_sentences_leave_out_what_is_off():
    rs = rule_class("relative_strength_rotation").create(RS_BASE)
    assert rs.sentence() == ("Hold XLK; when the ratio of XLI+XLV+XLF+XLP to SPY (geometric means of the closes) is at "
                             "least 2.00% above its 50-day average, rotate into XLI,XLV,XLF,XLP, and rotate back once "
                             "the ratio falls below its average.")
    more = rule_class("relative_strength_rotation").create({**RS_BASE, **RS_SETS[1]}).sentence()
    assert "stays above it 2 more days (follow-through)" in more and "for at least 10 days" in more
    assert "1.00% or more below its average" in more
    one = rule_class("relative_strength_rotation").create({**RS_BASE, **RS_SETS[2]}).sentence()
    assert "geometric" not in one and "is above its 100-day average" in one
    br = rule_class("breadth_rotation").create(BR_BASE).sentence()
    assert br == ("Hold cash; when at least 60% of XLE,XLF,XLI,XLK,XLP,XLU,XLV,XLY close above their own 50-day "
                  "average, rotate into SPY, and rotate back once fewer than 40% are above their average.")
    thrust = rule_class("breadth_rotation").create({**BR_BASE, "thrust": True}).sentence()
    assert "breadth thrust (the 10-day average share of them advancing rises from below 40.0% to above 61.5% within " \
           "10 days)" in thrust
    cd = rule_class("cyclical_defensive").create().sentence()
    assert cd.startswith("Hold the defensives XLP,XLU,XLV; when the ratio of the cyclicals (XLY,XLI,XLF,XLE)")
    assert "follow-through" not in cd and "at least 1.00% above its 50-day average" in cd


def test_describe_signal_and_roles():
    rs = rule_class("relative_strength_rotation").create({**RS_BASE, "signal_symbols": ("XLI",)})
    info = rs.describe_signal()
    assert info["legs"] == ["XLI", "SPY"] and info["threshold"] == 0.02 and info["exit_threshold"] is None
    assert "legs" not in rule_class("relative_strength_rotation").create(RS_BASE).describe_signal()
    cd = rule_class("cyclical_defensive").create()
    assert cd.symbols()["growth"] == ["XLP", "XLU", "XLV"] and cd.symbols()["rotation"] == ["XLY", "XLI", "XLF", "XLE"]
    br = rule_class("breadth_rotation").create({**BR_BASE, "growth_symbols": ("XLP",)})
    assert br.describe_signal()["units"] == "share" and br.needed()[:8] == list(SECTORS)
    assert br.warmup_bars() == 50 and rule_class("breadth_rotation").create(
        {**BR_BASE, "thrust": True, "breadth_days": 5}).warmup_bars() == 11


def test_flip_distance_in_the_signals_own_units(fake):
    import rotationlab.state as S
    cfg = RunConfig(strategy="relative_strength_rotation", params=RS_BASE, benchmark="SPY")
    rule = rule_class("relative_strength_rotation").create({**RS_BASE, "threshold": 0.5})  # never reached
    info = S.rule_state(cfg, fake, rule)
    d = info["distance"]
    assert info["state"] == "growth" and d["to"] == "entry" and d["level"] == 0.5
    assert d["value"] == 0.5 - d["signal"] and d["signal"] == info["spread"]
    assert d["text"] == f"relative strength {abs(d['value']) * 100:.2f} points below the 50.00% entry threshold"
    rule = rule_class("breadth_rotation").create({**BR_BASE, "threshold": 0.0, "exit_threshold": 0.0})  # always in
    info = S.rule_state(RunConfig(strategy="breadth_rotation", params=BR_BASE, benchmark="SPY"), fake, rule)
    d = info["distance"]
    assert info["state"] == "rotated" and d["to"] == "exit" and d["value"] == -d["signal"]
    assert d["text"].startswith(f"share above average {d['signal'] * 100:.2f} points above the 0.0% exit level")


@pytest.mark.parametrize("strategy, params, needle", [
    ("relative_strength_rotation", {"rs_days": 1}, "rs_days must be >= 2"),
    ("relative_strength_rotation", {"threshold": -0.01}, "threshold and exit_threshold must be >= 0"),
    ("relative_strength_rotation", {"rotation_symbols": ("^GSPC",)}, "the measured basket and its benchmark are the same"),
    ("relative_strength_rotation", {"rotation_weights": (0.5,), "rotation_symbols": ("A", "B")}, "one weight per symbol"),
    ("cyclical_defensive", {"defensive_symbols": ("XLP", "XLI")}, "XLI is both cyclical and defensive"),
    ("cyclical_defensive", {"cyclical_weights": (0.9, 0.9, 0.0, 0.0)}, "must sum to at most 1"),
    ("breadth_rotation", {"threshold": 0.3, "exit_threshold": 0.5}, "need 0 <= exit_threshold <= threshold <= 1"),
    ("breadth_rotation", {"thrust": True, "thrust_low": 0.7}, "need 0 <= thrust_low < thrust_high <= 1"),
    ("breadth_rotation", {"universe": ()}, "give the universe"),
    ("breadth_rotation", {"rotation_symbols": ()}, "give rotation_symbols"),
])
def test_bad_parameters_are_one_line(strategy, params, needle):
    with pytest.raises(UserError) as e:
        rule_class(strategy).create(params)
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


#: The rules on the sample's three indices, for the look-ahead check of tests/test_lookahead.py.
LOOKAHEAD = {
    "relative_strength_rotation": {"rs_days": 20, "threshold": 0.005, "hold_days": 3},
    "cyclical_defensive": {"cyclical_symbols": ("^DJI",), "defensive_symbols": ("^IXIC",), "rs_days": 20,
                           "threshold": 0.0, "exit_threshold": 0.0},
    "breadth_rotation": {"universe": ("^DJI", "^IXIC", "^GSPC"), "breadth_days": 20, "threshold": 0.6,
                         "exit_threshold": 0.3, "thrust": True, "thrust_low": 0.3, "thrust_high": 0.6,
                         "rotation_symbols": ("^GSPC",), "growth_symbols": ("^DJI",)},
}


@pytest.mark.parametrize("strategy", list(LOOKAHEAD))
@pytest.mark.parametrize("frac, seed", [(0.4, 1), (0.75, 2)])
def test_the_future_cannot_change_the_past(strategy, frac, seed):
    from data_feeds import get_source
    from rotationlab.engine import run
    from test_lookahead import _assert_same, _poison, _upto
    window = get_source("sample").load_many(["^DJI", "^IXIC", "^GSPC"], "2007-06-01", "2008-12-31")
    cfg = RunConfig(strategy=strategy, params=LOOKAHEAD[strategy])
    full = run(cfg, data=window)
    dates = full.equity.index
    cut = dates[int(frac * (len(dates) - 1))]
    truncated = run(cfg, data={s: b.between(None, cut) for s, b in window.items()})
    poisoned = run(cfg, data={s: _poison(b, cut, seed) for s, b in window.items()})
    base = _upto(full, cut)
    assert len(base[0]) > 10 and len(full.trades) > 4
    _assert_same(_upto(full, cut, fills_before=True), _upto(truncated, cut, fills_before=True))
    _assert_same(base, _upto(poisoned, cut))
    assert not poisoned.equity.loc[cut:].iloc[2:].equals(full.equity.loc[cut:].iloc[2:])
