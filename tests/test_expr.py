"""The bounded expression language: grammar, exact values of every function on hand-made rows,
three-valued logic, margins, causality, bit-identity with the per-bar rules, and hostile input
(each refused with one line, fast, with bounded memory)."""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotationlab import expr as E
from rotationlab.errors import UserError

nan = np.nan
PARAMS = {"lookback_days": 5, "hold_days": 20, "threshold": 0.03, "fill": "next_open",
          "rotation_symbols": ("DIA", "IWM"), "rotation_weights": (), "small_cap_confirm": False}


def scalar(text, **names):
    return E.parse(text).evaluate(E.ScalarContext(names))


def series(text, env, **names):
    return E.parse(text, what="--rule").evaluate(E.SeriesContext(env, names))


def refused(text, ctx=None, what="--constraint") -> str:
    """The one-line message of an expression that must be refused (parse, check or evaluation)."""
    ctx = ctx if ctx is not None else E.ScalarContext(PARAMS)
    t0 = time.perf_counter()
    with pytest.raises(E.ExprError) as e:
        E.parse(text, what=what).evaluate(ctx)
    assert time.perf_counter() - t0 < 1.0
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"bad {what} ") and len(msg) < 600
    return msg


# -- hand-made panel ---------------------------------------------------------------------------
DIA = [10.0, 11.0, 12.0, 9.0, 15.0, 15.0, 18.0]
QQQ = [nan, 20.0, 22.0, 22.0, 11.0, 22.0, 33.0]       # NaN warm-up: its first bar is missing
IWM = [5.0, 6.0, nan, 8.0, 10.0, 12.0, 12.0]          # a NaN inside
FLAT = [5.0, 5.0, 5.0, 5.0, 6.0, 6.0, 6.0]


def panel():
    close = {"DIA": DIA, "QQQ": QQQ, "IWM": IWM, "FLAT": FLAT, "^DJI": [x * 100 for x in DIA], "BRK-B": DIA}
    opens = {"DIA": [9.5, 10.5, 11.5, 9.5, 14.0, 15.5, 17.0]}
    high = {"DIA": [10.5, 11.5, 12.5, 12.0, 15.5, 16.0, 18.5]}
    low = {"DIA": [9.0, 10.0, 11.0, 8.5, 13.5, 14.5, 16.5]}
    return E.Panel(close=close, open=opens, high=high, low=low)


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


# -- grammar -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("1 - 2 - 3", -4), ("-2 * 3", -6), ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("8 / 4 / 2", 1.0),
    ("7 % 3", 1), ("-7 % 3", 2), ("- -3", 3), ("+3 - -3", 6), ("2 * -3", -6), ("10 - 2 * 3 - 1", 3),
    ("1 < 2 < 3", True), ("1 < 3 < 2", False), ("3 > 2 > 2", False), ("3 >= 2 >= 2", True),
    ("1 < 2 != 3", True), ("2 == 2.0", True), ("0.015", 0.015), ("1e-3", 0.001), (".5", 0.5),
    ("1.5E+2", 150.0), ("true", True), ("False", False), ("not 1 == 2", True),
    ("not 0 and 0", False), ("1 or 0 and 0", True), ("(1 or 0) and 0", False),
    ("'a' < 'b'", True), ("'DIA' == \"DIA\"", True), ("1 in (1, 2)", True), ("3 not in [1, 2]", True),
    ("-1 in (-1,)", True), ("() == []", True), ("abs(-2.5)", 2.5), ("min(3, 1, 2)", 1), ("max(3, 1, 2)", 3),
    ("round(2.5)", 2), ("round(1.23456, 2)", 1.23), ("round(1234, -2)", 1200), ("true + 1", 2),
])
def test_scalar_precedence_associativity_and_functions(text, value):
    got = scalar(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("a", [0, 1])
@pytest.mark.parametrize("b", [0, 1])
@pytest.mark.parametrize("c", [0, 1])
def test_boolean_precedence_matches_python(a, b, c):
    for text in ["not a and b", "a or b and c", "not a or not b and c", "a and not b == c", "a < b < c",
                 "a == b != c", "not (a or b) and c"]:
        assert scalar(text, a=a, b=b, c=c) == bool(eval(text, {}, {"a": a, "b": b, "c": c})), text


def test_scalar_names_lists_and_strings():
    assert scalar("'DIA' in rotation_symbols and fill == 'next_open'", **PARAMS) is True
    assert scalar("rotation_symbols == ('DIA', 'IWM') and rotation_weights == ()", **PARAMS) is True
    assert scalar("threshold * 100 in (3, 3.0) and max(rotation_weights) == 0.5", **{**PARAMS, "rotation_weights": (0.5, 0.25)})
    assert scalar("min(w) + max(w)", w=(0.25, 0.5, 0.125)) == 0.625
    assert scalar("lookback_days != 5 and threshold / (lookback_days - 5) > 0", **PARAMS) is False  # short-circuit
    assert scalar("lookback_days == 5 or 1 / 0 > 0", **PARAMS) is True
    assert scalar("'x' in (1, 'x')") is True and scalar("1 in ('1',)") is False


@pytest.mark.parametrize("text, needle", [
    ("fill == 3", "cannot compare a string with a number using '=='"),
    ("rotation_symbols > 1", "cannot compare a list with a number using '>'"),
    ("lookback_days in 5", "'in' needs a list on its right"),
    ("fill + 1", "'+' needs numbers, got a string"),
    ("-fill", "'-' needs numbers, got a string"),
    ("abs(fill)", "'abs' needs numbers, got a string"),
    ("min(rotation_weights)", "min() of one argument needs a non-empty list"),
    ("round(threshold, 16)", "round(x, digits) needs whole digits from -15 to 15"),
    ("threshold / (hold_days - 20)", "division by zero"),
    ("hold_days % 0", "division by zero"),
])
def test_scalar_evaluation_errors(text, needle):
    assert needle in refused(text)


def test_the_value_of_the_constraint_example_in_the_sweep_cli():
    e = E.parse("hold_days >= lookback_days and not (lookback_days == 2 and hold_days > 10)")
    kept = [(n, h) for n in (2, 5) for h in (5, 20) if e.evaluate(E.ScalarContext({"lookback_days": n, "hold_days": h}))]
    assert kept == [(2, 5), (5, 5), (5, 20)]
    assert e.names == ("hold_days", "lookback_days") and e.symbols == () and e.functions == ()


# -- the series functions, exact values --------------------------------------------------------
def test_close_open_high_low_and_symbols_of_every_spelling():
    env = panel()
    same(series("close(DIA)", env), DIA)
    same(series("open(DIA)", env), [9.5, 10.5, 11.5, 9.5, 14.0, 15.5, 17.0])
    same(series("high(DIA) - low(DIA)", env), [1.5, 1.5, 1.5, 3.5, 2.0, 1.5, 2.0])
    same(series("close(^DJI)", env), [x * 100 for x in DIA])
    same(series("close('BRK-B')", env), DIA)
    same(series('close("QQQ")', env), QQQ)
    same(series("close(dow_symbol)", env, dow_symbol="QQQ"), QQQ)  # a string parameter is a symbol
    out = series("close(DIA)", env)
    out[0] = -1.0
    same(series("close(DIA)", env), DIA)  # the result is a copy, never the panel's array


def test_ret_is_the_two_float_operations():
    env = panel()
    same(series("ret(DIA, 2)", env), [nan, nan, 12 / 10 - 1, 9 / 11 - 1, 15 / 12 - 1, 15 / 9 - 1, 18 / 15 - 1])
    same(series("ret(QQQ, 1)", env), [nan, nan, 22 / 20 - 1, 0.0, -0.5, 1.0, 0.5])
    same(series("ret(IWM, 1)", env), [nan, 6 / 5 - 1, nan, nan, 10 / 8 - 1, 12 / 10 - 1, 0.0])
    same(series("ret(DIA, 7)", env), [nan] * 7)


def test_sma_max_min_on_hand_made_rows():
    env = panel()
    same(series("sma(DIA, 3)", env), [nan, nan, 11.0, 32 / 3, 12.0, 13.0, 16.0])
    same(series("sma(close(DIA), 3)", env), series("sma(DIA, 3)", env))  # a bare symbol means its close
    same(series("sma(IWM, 2)", env), [nan, 5.5, nan, nan, 9.0, 11.0, 12.0])
    same(series("sma(DIA, 1)", env), DIA)
    same(series("max(DIA, 3)", env), [nan, nan, 12.0, 12.0, 15.0, 15.0, 18.0])
    same(series("min(DIA, 3)", env), [nan, nan, 10.0, 9.0, 9.0, 9.0, 15.0])
    same(series("max(IWM, 2)", env), [nan, 6.0, nan, nan, 10.0, 12.0, 12.0])
    same(series("min(QQQ, 7)", env), [nan] * 7)
    same(series("max(DIA, 7)", env), [nan] * 6 + [18.0])
    same(series("sma(close(DIA) - close(QQQ), 2)", env), [nan, nan, -9.5, -11.5, -4.5, -1.5, -11.0])
    same(series("sma(n, 2)", env, n=4), [nan, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0])  # a numeric parameter
    same(series("abs(ret(QQQ, 1))", env), [nan, nan, 22 / 20 - 1, 0.0, 0.5, 1.0, 0.5])


def test_zscore_uses_the_sample_standard_deviation():
    env = panel()
    got = series("zscore(DIA, 3)", env)
    want = [nan, nan, 1.0, -5 / math.sqrt(21), 1.0, 2 / math.sqrt(12), 2 / math.sqrt(3)]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    assert np.isnan(got[:2]).all()
    # flat windows (std 0) are NaN; so are windows holding a NaN
    flat = series("zscore(FLAT, 3)", env)
    assert np.isnan(flat[[0, 1, 2, 3, 6]]).all()
    np.testing.assert_allclose(flat[4:6], [(6 - 16 / 3) / np.std([5, 5, 6], ddof=1), (6 - 17 / 3) / np.std([5, 6, 6], ddof=1)],
                               rtol=1e-14)
    assert np.isnan(series("zscore(IWM, 2)", env)[[0, 2, 3]]).all()


def test_series_arithmetic_comparisons_and_parameters():
    env = panel()
    spread = series("ret(DIA, n) - ret(QQQ, n) >= threshold", env, n=1, threshold=-0.05)
    d, q = np.array(DIA), np.array(QQQ)
    rd, rq = np.r_[nan, d[1:] / d[:-1] - 1], np.r_[nan, q[1:] / q[:-1] - 1]
    want = np.where(np.isnan(rd - rq), nan, (rd - rq >= -0.05).astype(float))
    same(spread, want)
    assert set(np.unique(spread[~np.isnan(spread)])) <= {0.0, 1.0}
    same(series("1 + 2", env), [3.0] * 7)                  # scalars broadcast
    same(series("close(DIA) / 0 > 1", env), [1.0] * 7)    # x / 0 is +inf (IEEE)
    same(series("close(QQQ) == close(QQQ)", env), [nan] + [1.0] * 6)
    same(series("10 < close(DIA) <= 15", env), [0, 1, 1, 0, 1, 1, 0])
    same(series("close(DIA) % 4", env), [2, 3, 0, 1, 3, 3, 2])


KLEENE = [0.0, 1.0, nan]


def test_kleene_truth_tables():
    a = np.repeat(KLEENE, 3)
    b = np.tile(KLEENE, 3)
    env = E.Panel(close={"A": a, "B": b})
    # rows: a = 0,0,0, 1,1,1, nan,nan,nan; b = 0,1,nan repeated
    same(series("close(A) and close(B)", env), [0, 0, 0, 0, 1, nan, 0, nan, nan])
    same(series("close(A) or close(B)", env), [0, 1, nan, 1, 1, 1, nan, 1, nan])
    same(series("not close(A)", env), [1, 1, 1, 0, 0, 0, nan, nan, nan])
    same(series("not (close(A) and close(B)) == (not close(A) or not close(B))", env),
         [1, 1, 1, 1, 1, nan, 1, nan, nan])  # De Morgan where known
    same(series("close(A) * 5 and 1", env), [0, 0, 0, 1, 1, 1, nan, nan, nan])  # non-zero is true


def test_memoised_sub_expressions(monkeypatch):
    calls = {"close": 0, "mean": 0}

    class Counting(E.Panel):
        def close(self, symbol):
            calls["close"] += 1
            return super().close(symbol)

    real_mean = E.rolling_mean

    def counting_mean(x, n):
        calls["mean"] += 1
        return real_mean(x, n)

    monkeypatch.setattr(E, "rolling_mean", counting_mean)
    env = Counting(close={"DIA": DIA, "QQQ": QQQ})
    ctx = E.SeriesContext(env, {}, length=len(DIA))
    out = E.parse("ret(DIA, 2) - ret(DIA, 2) + sma(DIA, 3) + sma(close(DIA), 3) > sma(DIA, 3)").evaluate(ctx)
    assert calls == {"close": 1, "mean": 2}  # sma(DIA, 3) once; sma(close(DIA), 3) is another spelling
    same(out, [nan, nan, 1, 1, 1, 1, 1])


# -- margins -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, margin", [
    ("a >= b", 2.0), ("a > b", 2.0), ("a <= b", -2.0), ("a < b", -2.0), ("a == b", -2.0), ("a != b", 2.0),
    ("b >= a", -2.0), ("a >= b and c > b", 2.0), ("a >= b and c < b", -6.0), ("a >= b or c < b", 2.0),
    ("not a >= b", -2.0), ("not (a < b or c < b)", 2.0), ("b < a < c", 2.0), ("b < c < a", -4.0), ("a == a", 0.0),
])
def test_margin_of_each_operator(text, margin):
    got = E.parse(text).margin(E.ScalarContext({"a": 3, "b": 1, "c": 7}))
    assert got == margin and type(got) is float


def test_margin_in_units_and_kleene_over_a_series():
    env = panel()
    m = E.parse("ret(DIA, 1) - ret(QQQ, 1) >= 0.015").margin(E.SeriesContext(env, {}))
    d, q = np.array(DIA), np.array(QQQ)
    same(m, (np.r_[nan, d[1:] / d[:-1] - 1] - np.r_[nan, q[1:] / q[:-1] - 1]) - 0.015)
    a = np.array([-0.3, 0.5, nan, 0.2])
    b = np.array([nan, nan, nan, -0.1])
    env2 = E.Panel(close={"A": a, "B": b})
    ctx = E.SeriesContext(env2, {})
    same(E.parse("close(A) > 0 and close(B) > 0").margin(ctx), [-0.3, nan, nan, -0.1])
    same(E.parse("close(A) > 0 or close(B) > 0").margin(ctx), [nan, 0.5, nan, 0.2])
    same(E.parse("not close(A) > 0").margin(ctx), [0.3, -0.5, nan, -0.2])


@pytest.mark.parametrize("text, needle", [
    ("a + b", "margin needs a condition"), ("a", "margin needs a condition"),
    ("a in (1, 2)", "margin is not defined for 'in'"), ("s == 'x'", "margin is not defined for '=='"),
])
def test_margin_needs_a_numeric_condition(text, needle):
    with pytest.raises(E.ExprError, match="^bad --constraint") as e:
        E.parse(text).margin(E.ScalarContext({"a": 1, "b": 2, "s": "x"}))
    assert needle in str(e.value)


# -- checking against a context ----------------------------------------------------------------
@pytest.mark.parametrize("text, needle", [
    ("lookbak_days > 1", "unknown name 'lookbak_days' (did you mean 'lookback_days'?); use parameter names"),
    ("ret(DIA, 5) > 0", "unknown function 'ret'"),
    ("opn('x')", "unknown function 'opn'; use abs(x), min(a, b, ...), max(a, b, ...), round(x)"),
    ("fill == ^DJI", "write symbols in quotes here: '^DJI'"),
    ("round()", "round() takes 1 to 2 arguments"),
    ("abs(1, 2)", "abs() takes 1 argument (abs(x)), got 2"),
])
def test_check_in_the_scalar_context(text, needle):
    assert needle in refused(text)


@pytest.mark.parametrize("text, needle", [
    ("ret(DIAA, 5) > 0", "unknown symbol 'DIAA' (did you mean 'DIA'?); available: DIA, QQQ, IWM, FLAT, ^DJI, BRK-B"),
    ("sma(QQQQ, 5) > 0", "unknown symbol or name 'QQQQ' (did you mean 'QQQ'?)"),
    ("rett(DIA, 5)", "unknown function 'rett' (did you mean 'ret'?)"),
    ("ret(DIA)", "ret() takes 2 arguments (ret(SYMBOL, DAYS)), got 1"),
    ("ret(close(DIA), 5)", "ret() needs a symbol first"),
    ("ret(DIA, close(DIA))", "the window of ret() must be a number of bars"),
    ("ret(DIA, n + 0.5)", "must be a whole number of bars from 1 to 100,000, got 5.5"),
    ("ret(DIA, 0)", "from 1 to 100,000, got 0"),
    ("ret(DIA, -3)", "got -3"),
    ("ret(DIA, 1000000000)", "from 1 to 100,000, got 1000000000"),
    ("sma(DIA, 8)", "the window of sma() is 8 bars, longer than the data (7 bars)"),
    ("zscore(DIA, 1)", "from 2 to 100,000"),
    ("ret(fill, 2)", "unknown symbol 'next_open'"),
    ("ret(n, 2)", "ret() needs a symbol first, but parameter 'n' is a number"),
    ("close(DIA) > fill", "parameter 'fill' is a string, not a number"),
    ("close(DIA) > 'x'", "a string stands only for a symbol"),
    ("^DJI > 3", "a symbol needs a function, e.g. close(^DJI)"),
    ("n in (1, 2)", "'in' compares parameter values"),
    ("low(QQQ)", "no low prices for 'QQQ'"),
    ("unknown > 1", "unknown name 'unknown'"),
])
def test_check_in_the_series_context(text, needle):
    ctx = E.SeriesContext(panel(), {"n": 5, "fill": "next_open"})
    assert needle in refused(text, ctx, what="--rule")


def test_names_symbols_functions_and_needed_symbols():
    e = E.parse("ret(dow_symbol, n) - ret(^IXIC, n) >= t and sma(IWM, 5) > sma(k, 3) and close('BRK-B') > 0")
    assert e.names == ("n", "t", "IWM", "k")
    assert e.symbols == ("dow_symbol", "^IXIC", "BRK-B")
    assert e.functions == ("ret", "sma", "close")
    assert e.needed_symbols({"dow_symbol": "^DJI", "n": 5, "t": 0.0, "k": 2}) == ("^DJI", "^IXIC", "IWM", "BRK-B")
    assert e.needed_symbols({"dow_symbol": "^DJI", "k": "SPY"}) == ("^DJI", "^IXIC", "IWM", "SPY", "BRK-B")
    assert E.parse("x > 1").text == "x > 1"


def test_errors_are_user_errors_naming_the_flag():
    with pytest.raises(UserError) as e:
        E.parse("x >", what="--rule")
    assert str(e.value) == "bad --rule 'x >': expected a value at column 4, got the end"
    assert e.value.reason == "expected a value at column 4, got the end"
    assert str(pytest.raises(E.ExprError, E.parse, "x $ 3").value) == "bad --constraint 'x $ 3': unexpected '$' at column 3"
    err = pickle.loads(pickle.dumps(e.value))
    assert type(err) is E.ExprError and str(err) == str(e.value) and err.reason == e.value.reason


# -- causality and bit-identity ----------------------------------------------------------------
CAUSAL = ["close(A)", "open(A)", "high(A)", "low(A)", "ret(A, n)", "sma(A, n)", "max(A, n)", "min(A, n)",
          "zscore(A, m)", "abs(ret(A, 1))", "sma(close(A) - close(B), n)", "zscore(ret(A, 1), m)",
          "max(ret(B, 1), n) > min(sma(A, 2), m) or not close(A) > 3", "ret(A, n) - ret(B, n) >= 0.01 and ret(B, 1) > 0",
          "close(A) / close(B) % 2"]


def _random_panel(rng, T, poison_after=None):
    out = {}
    for field in ("close", "open", "high", "low"):
        out[field] = {}
        for s in ("A", "B"):
            x = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, T)))
            x[: rng.integers(0, 3)] = nan
            out[field][s] = x
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), T=st.integers(6, 60), frac=st.floats(0, 1), text=st.sampled_from(CAUSAL),
       n=st.integers(1, 6), poison=st.sampled_from([nan, 0.0, -1.0, 1e300, np.inf]))
def test_every_series_function_is_causal(seed, T, frac, text, n, poison):
    rng = np.random.default_rng(seed)
    data = _random_panel(rng, T)
    k = int(frac * (T - 1))
    e = E.parse(text)
    names = {"n": n, "m": max(2, n)}
    before = e.evaluate(E.SeriesContext(E.Panel(**data), names))
    bad = {f: {s: v.copy() for s, v in d.items()} for f, d in data.items()}
    for d in bad.values():
        for v in d.values():
            v[k + 1:] = poison if rng.random() < 0.5 else rng.normal(0, 1e6, T - k - 1)
    after = e.evaluate(E.SeriesContext(E.Panel(**bad), names))
    np.testing.assert_array_equal(before[: k + 1], after[: k + 1])
    m = e.margin(E.SeriesContext(E.Panel(**bad), names)) if e.root.kind in ("cmp", "and", "or", "not") else None
    if m is not None:
        np.testing.assert_array_equal(e.margin(E.SeriesContext(E.Panel(**data), names))[: k + 1], m[: k + 1])


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 400), frac=st.floats(0, 1), holes=st.integers(0, 3),
       scale=st.sampled_from([1e-3, 1.0, 1e4]))
def test_sma_is_bit_identical_to_np_mean_and_ret_to_the_per_bar_formula(seed, T, frac, holes, scale):
    rng = np.random.default_rng(seed)
    x = (100 + np.cumsum(rng.normal(size=T))) * scale
    x[rng.integers(0, T, holes)] = nan
    n = 1 + int(frac * (T - 1))
    env = E.Panel(close={"X": x})
    got = series("sma(X, n)", env, n=n)
    want = [np.mean(x[t + 1 - n: t + 1]) if t + 1 >= n else nan for t in range(T)]
    np.testing.assert_array_equal(got, want)  # bit for bit, NaN where a window holds one
    r = series("ret(X, n)", env, n=n)
    np.testing.assert_array_equal(r, [float(x[t] / x[t - n] - 1.0) if t >= n else nan for t in range(T)])
    for fn, ref in (("max", np.max), ("min", np.min)):
        np.testing.assert_array_equal(series(f"{fn}(X, n)", env, n=n),
                                      [ref(x[t + 1 - n: t + 1]) if t + 1 >= n else nan for t in range(T)])
    if n >= 2:
        z = series("zscore(X, n)", env, n=n)
        sd = [np.std(x[t + 1 - n: t + 1], ddof=1) if t + 1 >= n else nan for t in range(T)]
        mean, sd = np.array(want), np.array(sd)
        with np.errstate(all="ignore"):
            flat = sd <= 1e-12 * np.abs(mean)  # a constant window: NaN rather than rounding noise
            want_z = np.where(np.isnan(sd) | flat, nan, (x - mean) / sd)
        np.testing.assert_array_equal(z, want_z)


def test_sma_bit_identity_holds_for_long_windows_too():
    rng = np.random.default_rng(7)
    x = 100 + np.cumsum(rng.normal(size=30_000))
    env = E.Panel(close={"X": x})
    for n in (150, 1_000, 20_000):
        got = series("sma(X, n)", env, n=n)
        for t in (n - 1, n, len(x) // 2 + n // 2, len(x) - 1):
            assert got[t] == np.mean(x[t + 1 - n: t + 1]), (n, t)


def test_the_rule_of_the_divergence_strategy_matches_its_per_bar_history():
    """ret and sma in the language equal strategies.base.History's, bar by bar."""
    from strategies.base import History
    rng = np.random.default_rng(3)
    closes = {"^DJI": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300))),
              "^IXIC": 100 * np.exp(np.cumsum(rng.normal(0, 0.015, 300)))}
    closes["^IXIC"][:30] = nan
    env = E.Panel(close=closes)
    ctx = E.SeriesContext(env, {"lookback_days": 5, "threshold": 0.01})
    spread = E.parse("ret(^DJI, lookback_days) - ret(^IXIC, lookback_days)").evaluate(ctx)
    cross = E.parse("sma(^DJI, 50) > sma(^DJI, 200)").evaluate(ctx)
    for t in range(300):
        h = History(closes, None, t)
        want = h.ret("^DJI", 5) - h.ret("^IXIC", 5)
        assert (spread[t] == want) or (np.isnan(spread[t]) and np.isnan(want))
        fast, slow = h.sma("^DJI", 50), h.sma("^DJI", 200)
        assert cross[t] == (fast > slow) if not np.isnan(slow) else np.isnan(cross[t])


# -- hostile input -----------------------------------------------------------------------------
HOSTILE = [
    ("(((10**64)**64)**64)**64 > 1", "'**' is not supported"),
    ("'a' * 10**10 == 'a'", "'**' is not supported"),
    ("(1,) * 10**9 == (1,)", "'**' is not supported"),
    ("'a' * 10000000000 == 'a'", "'*' needs numbers, got a string"),
    ("(1,) * 1000000000 == (1,)", "'*' needs numbers, got a list"),
    ("lookback_days // 2 == 1", "'//' is not supported"),
    ("not " * 3000 + "hold_days", "too long (12,009 characters; at most 2,000)"),
    ("not " * 41 + "hold_days", "nested more than 40 levels deep"),
    ("(" * 10_000 + "1" + ")" * 10_000, "too long"),
    ("(" * 45 + "1" + ")" * 45, "nested more than 40 levels deep"),
    ("-" * 45 + "1", "nested more than 40 levels deep"),
    ("abs(" * 41 + "1" + ")" * 41, "nested more than 40 levels deep"),
    ("x" * 1_000_000, "too long (1,000,000 characters; at most 2,000)"),
    ("1" * 40 + " > 0", "is too long (at most 30 characters)"),
    ("1e999 > 0", "number 1e999 at column 1 is out of range"),
    ("1e16 > 0", "out of range"),
    ("+".join(["1"] * 600), "too many parts (at most 500)"),
    ("*".join(["1e15"] * 30) + " > 1", "a result is larger than 1e300 in size"),
    ("lookbak_days > 1", "unknown name 'lookbak_days' (did you mean 'lookback_days'?)"),
    ("foo(1)", "unknown function 'foo'"),
    ("a.b(1)", "unknown function 'a.b'"),
    ("hold_days.__class__", "unknown name 'hold_days.__class__'"),
    ("__import__('os')", "unknown function '__import__'"),
    ("__import__('os').system('true')", "unexpected '.'"),
    ("lambda: 1", "unexpected ':' at column 7"),
    ("hold_days if 1 else 2", "unexpected 'if' at column 11"),
    ("hold_days[0]", "unexpected '['"),
    ("'it''s' == fill", "unexpected \"'s'\""),
    ("fill == 'a\\'b'", "backslashes are not allowed in strings"),
    ('fill == "\\x41"', "backslashes are not allowed in strings"),
    ("fill == 'abc", "unterminated string starting at column 9"),
    ("fill == '" + "a" * 65 + "'", "string at column 9 is too long (at most 64 characters)"),
    ("fill == '\x00'", "non-printable"),
    ("hold_days = 1", "unexpected '=' at column 11 (use == to compare)"),
    ("hold_days > 1 && 1", "unexpected '&'"),
    ("hold_days ＞ 1", "unexpected '＞'"),
    ("hold_days > ٣", "unexpected '٣'"),
    ("1 + not hold_days", "'not' at column 5 must start a condition"),
    ("", "empty expression"), ("   ", "empty expression"),
    ("(1, hold_days)", "list items must be numbers, strings or true/false"),
    ("hold_days >", "expected a value"),
    ("(hold_days", "expected ')' at column 11, got the end"),
    ("min(1,)", "unexpected ')'"),
]


@pytest.mark.parametrize("text, needle", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_is_refused_fast_on_one_line(text, needle):
    assert needle in refused(text)


def test_hostile_series_input_is_refused_fast():
    rng = np.random.default_rng(0)
    env = E.Panel(close={"DIA": 100 + np.cumsum(rng.normal(size=30_000))})
    ctx = E.SeriesContext(env, {"n": 15_000})
    msg = refused("sma(DIA, n) + sma(DIA, n + 1) + sma(DIA, n + 2) > 0", ctx, what="--rule")
    assert "too much work" in msg
    assert "too much work" in refused("zscore(DIA, n) > 0 and zscore(DIA, n + 2) > 0", ctx, what="--rule")
    assert "window" in refused("ret(DIA, 1000000000) > 0", ctx, what="--rule")
    assert "longer than the data" in refused("sma(DIA, 40000)", ctx, what="--rule")
    t0 = time.perf_counter()
    E.parse("sma(DIA, 200) > sma(DIA, 50) and zscore(ret(DIA, 1), 250) < 2 and max(DIA, 5000) > 0").evaluate(ctx)
    assert time.perf_counter() - t0 < 1.0


VOCAB = ["1", "0", "2.5", "1e-3", "-", "+", "*", "/", "%", "**", "//", "(", ")", "[", "]", ",", "<", "<=", ">",
         ">=", "==", "!=", "=", "and", "or", "not", "in", "true", "False", "'DIA'", '"x"', "'", "\\", "^DJI",
         "lookback_days", "threshold", "fill", "rotation_symbols", "A", "B", "n", "ret", "sma", "max", "min",
         "zscore", "abs", "round", "close", "open", "high", "low", "foo", ".", "$", "@", "lambda", ":", "__import__",
         "1000000000", "99999999999999999999", "1e999", "x.y"]


def _series_ctx():
    rng = np.random.default_rng(1)
    close = {s: 100 + np.cumsum(rng.normal(size=50)) for s in ("A", "B", "DIA", "^DJI", "x")}
    return E.SeriesContext(E.Panel(close=close, open=close), {"n": 3, "lookback_days": 5, "threshold": 0.03})


SERIES_CTX = _series_ctx()


def _try_everything(text):
    t0 = time.perf_counter()
    for ctx in (E.ScalarContext({**PARAMS, "n": 3, "A": 1.5, "B": -2}), SERIES_CTX):
        try:
            e = E.parse(text)
            e.evaluate(ctx)
            e.margin(ctx)
        except E.ExprError as exc:
            assert "\n" not in str(exc)
    assert time.perf_counter() - t0 < 1.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(VOCAB), st.text(max_size=3)), max_size=40),
       st.sampled_from(["", " "]))
def test_token_soup_succeeds_or_raises_expr_error(tokens, sep):
    _try_everything(sep.join(tokens))


_leaf = st.one_of(st.sampled_from(["1", "0", "2.5", "-3", "1e-3", "true", "n", "lookback_days", "threshold", "A"]),
                  st.integers(-10**6, 10**6).map(str), st.floats(-1e6, 1e6, allow_nan=False).map(repr))
_sym = st.sampled_from(["A", "B", "^DJI", "'DIA'", "x"])
_win = st.one_of(st.integers(-2, 60).map(str), st.just("n"), st.just("lookback_days"))


def _extend(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "and", "or"]),
                  inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda s: f"(not {s})"), inner.map(lambda s: f"-({s})"), inner.map(lambda s: f"abs({s})"),
        st.tuples(st.sampled_from(["close", "open", "high", "low"]), _sym).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(_sym, _win).map(lambda t: f"ret({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(["sma", "max", "min", "zscore"]), st.one_of(_sym, inner), _win)
        .map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(st.sampled_from(["min", "max", "round"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} in ({t[1]}, 2))"),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_leaf, _extend, max_leaves=60))
def test_random_well_formed_expressions_succeed_or_raise_expr_error(text):
    _try_everything(text)


@pytest.mark.slow
def test_a_hostile_constraint_through_the_cli_is_one_line_exit_2_fast_and_small(tmp_path):
    """The sweep CLI refuses a hostile --constraint with exit code 2 and one stderr line, in under
    10 s and 1 GB (the child's own peak resident memory, from wait4)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for hostile in ["(((10**64)**64)**64)**64 > 1", "'a' * 10000000000 == 'a' or (1,) * 1000000000 == (1,)"]:
        err = tmp_path / "err.txt"
        with open(err, "wb") as fh:
            p = subprocess.Popen([sys.executable, str(ROOT / "run_backtest.py"), "sweep", "--grid", "lookback_days=2,5",
                                  "--constraint", hostile, "--out", str(tmp_path / "o")],
                                 cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=fh)
            timer = threading.Timer(10, p.kill)
            t0 = time.monotonic()
            timer.start()
            try:
                _, status, usage = os.wait4(p.pid, 0)
            finally:
                timer.cancel()
            p.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - t0
        lines = err.read_text().strip().splitlines()
        assert p.returncode == 2 and elapsed < 10, (p.returncode, elapsed, lines)
        assert len(lines) == 1 and lines[0].startswith("error: bad --constraint"), lines
        assert usage.ru_maxrss * 1024 < 1 << 30  # ru_maxrss is in KiB on Linux
        assert not (tmp_path / "o").exists()
