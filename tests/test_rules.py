"""One rule, two engines: expression rules, rule files written outside the project, rules defined
in Python; their per-bar and vectorized forms agree, and so do the two engines."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SHARED_MARKET, needs_shared

import rotationlab as rl
from rotationlab import fast
from rotationlab.cli import main
from rotationlab.config import RunConfig
from rotationlab.engine import run
from rotationlab.errors import UserError

SPREAD = "ret(^DJI, lookback_days) - ret(^IXIC, lookback_days)"
#: The divergence rule written as an expression rule (its exit: the spread below zero by at
#: least exit_threshold; its follow-through: the spread still positive).
DIVERGENCE_AS_EXPRESSIONS = {
    "enter": f"{SPREAD} >= threshold",
    "exit": f"{SPREAD} < 0 and ret(^IXIC, lookback_days) - ret(^DJI, lookback_days) >= exit_threshold",
    "confirm": f"{SPREAD} > 0",
    "growth_symbols": "^IXIC", "rotation_symbols": "^DJI", "hold_days": 20,
    "lookback_days": 5, "threshold": 0.03, "exit_threshold": 0.0,
}


@pytest.fixture(scope="module")
def sample():
    from data_feeds import get_source
    return get_source("sample").load_many(["^DJI", "^IXIC", "^GSPC"])


def test_signal_rule_reproduces_the_divergence_rule_in_both_engines(sample):
    div = run(RunConfig(), data=sample)
    expr = RunConfig(strategy="signal_rule", params=DIVERGENCE_AS_EXPRESSIONS)
    bt = run(expr, data=sample)
    assert len(bt.trades) == len(div.trades) > 100
    np.testing.assert_allclose(bt.equity.to_numpy(), div.equity.to_numpy(), rtol=1e-9, atol=0)
    res = fast.run_fast(fast.prepare(expr, sample), [{}, {"lookback_days": 10, "threshold": 0.01, "confirm_days": 2}])
    np.testing.assert_allclose(res.equity[0], div.equity.to_numpy(), rtol=1e-9, atol=0)
    ref = run(RunConfig(params={"lookback_days": 10, "threshold": 0.01, "confirm_days": 2}), data=sample)
    np.testing.assert_allclose(res.equity[1], ref.equity.to_numpy(), rtol=1e-9, atol=0)
    assert res.metrics_row(0)["n_rotations"] == 49 == int(((div.signals["state"] == "rotated")
                                                          & (div.signals["state"].shift() != "rotated")).sum())


def test_expression_parameters_are_parameters_of_the_rule(sample, tmp_path):
    with pytest.raises(UserError, match="give a value for lookback_days"):
        rl.run(strategy="signal_rule", params={k: v for k, v in DIVERGENCE_AS_EXPRESSIONS.items()
                                               if k != "lookback_days"}, data=sample, stats=False)
    with pytest.raises(UserError, match="unknown function 'rett'"):
        rl.run(strategy="signal_rule", params={**DIVERGENCE_AS_EXPRESSIONS,
                                               "enter": "rett(^DJI, lookback_days) >= threshold"},
               data=sample, stats=False)
    # any name in an expression can be swept, in the fast engine and in backtrader alike
    sw = rl.sweep(strategy="signal_rule", params=DIVERGENCE_AS_EXPRESSIONS, data=sample, start="2005-01-01",
                  grid={"lookback_days": [3, 10], "threshold": "0.01:0.02:0.01"}, out=tmp_path / "sw", report=False,
                  progress=False, confirm=1)
    assert len(sw.frame) == 4 and (sw.frame["error"] == "").all()
    assert "vectorized and per-bar decisions identical" in sw.confirmed


def test_the_two_forms_agree_on_every_built_in_rule(sample):
    cases = {
        "dow_nasdaq_divergence": [{}, {"confirm_days": 2, "threshold": 0.01}, {"tech_breakdown_exit": 30},
                                  {"golden_cross_symbol": "^GSPC", "require_opposite_signs": True, "threshold": 0.0}],
        "golden_cross_timing": [{}, {"fast_days": 20, "slow_days": 60}],
        "static_blend": [{}], "always_rotated": [{}], "buy_and_hold": [{}],
        "signal_rule": [{**DIVERGENCE_AS_EXPRESSIONS, "cash_when": "zscore(^IXIC, 20) < -1.5"}],
    }
    for strategy, sets in cases.items():
        base = RunConfig(strategy=strategy, start="2002-01-01", end="2010-12-31", params=sets[0])
        assert fast.check_forms(base, sample, sets) == len(sets), strategy


def test_a_vectorized_form_that_disagrees_is_caught(sample, monkeypatch):
    from strategies.divergence import DowNasdaqDivergence
    real = DowNasdaqDivergence.vectorized_many

    def off_by_one(cls, panel, rules):
        decs = real.__func__(cls, panel, rules)
        for dec in decs:
            dec.codes[1:] = dec.codes[:-1].copy()  # decide one day late
        return decs
    monkeypatch.setattr(DowNasdaqDivergence, "vectorized_many", classmethod(off_by_one))
    with pytest.raises(fast.AgreementError, match="targets differ"):
        fast.check_forms(RunConfig(start="2005-01-01", end="2008-12-31"), sample, [{}])


RULE_FILE = '''
"""Rotate into XLI when it beats XLK by a threshold over a lookback; back when XLK leads."""
import rotationlab as rl


class XliOverXlk(rl.Rule):
    rule = "Hold XLK; rotate into XLI when it beats XLK by {threshold:.2%} over {lookback_days} days; back when XLK leads."
    params = {"lookback_days": 20, "threshold": 0.02}
    param_docs = {"lookback_days": "window of the returns, in bars", "threshold": "how much XLI must beat XLK by"}
    has_signal = True

    def symbols(self):
        return {"signal": ["XLI", "XLK"], "growth": ["XLK"], "rotation": ["XLI"], "traded": ["XLK", "XLI"]}

    def warmup_bars(self):
        return self.p.lookback_days + 1

    def start(self):
        self.rotated = False

    def decide(self, h):
        n = self.p.lookback_days
        spread = h.ret("XLI", n) - h.ret("XLK", n)
        if spread != spread:
            return None
        if not self.rotated and spread >= self.p.threshold:
            self.rotated = True
        elif self.rotated and spread < 0:
            self.rotated = False
        self.log_signal(spread=spread, triggered=spread >= self.p.threshold,
                        state="rotated" if self.rotated else "growth")
        return {"XLI": 1.0} if self.rotated else {"XLK": 1.0}
'''


@pytest.fixture()
def rule_file(tmp_path):
    path = tmp_path / "elsewhere" / "xli_rule.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(RULE_FILE))
    return f"{path}:XliOverXlk"


@needs_shared
def test_a_rule_file_written_outside_the_project_works_on_every_command(rule_file, tmp_path, capsys):
    data = ["--source", "csv", "--data-dir", str(SHARED_MARKET), "--benchmark", "SPY"]
    quick = ["--start", "2015-01-01", "--end", "2019-12-31", "--no-pdf", "--no-html"]
    assert main(["list", "--strategy", rule_file]) == 0
    assert "rotate into XLI when it beats XLK by 2.00%" in capsys.readouterr().out
    assert main(["run", "--strategy", rule_file, *data, *quick, "--out", str(tmp_path / "run")]) == 0
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["run"]["strategy"] == rule_file and m["metrics"]["n_trades"] > 10 and "vs_growth" in m
    assert main(["compare", "--strategy", rule_file, "-p", "threshold=0.03", "--strategy", "buy_and_hold", "-p",
                 "symbol=XLK", *data, *quick, "--out", str(tmp_path / "cmp")]) == 0
    assert main(["study", "--strategy", rule_file, *data, *quick, "--n-boot", "50", "--n-null", "50",
                 "--out", str(tmp_path / "st")]) == 0
    assert main(["walkforward", "--strategy", rule_file, *data, "--start", "2010-01-01", "--grid",
                 "lookback_days=10,20", "--is-years", "3", "--oos-years", "2", "--no-pdf", "--no-html",
                 "--out", str(tmp_path / "wf")]) == 0
    for engine in ("fast", "backtrader"):
        extra = ["--confirm", "2"] if engine == "fast" else ["--jobs", "1"]
        assert main(["sweep", "--strategy", rule_file, *data, *quick, "--grid", "lookback_days=10,20,40",
                     "--grid", "threshold=0.01,0.03", "--engine", engine, *extra, "--no-progress",
                     "--out", str(tmp_path / f"sw-{engine}")]) == 0
    out = capsys.readouterr().out
    assert "confirmed 4 rows in backtrader" in out and "largest relative equity difference 0.00e+00" in out
    a = pd.read_csv(tmp_path / "sw-fast" / "sweep.csv")
    b = pd.read_csv(tmp_path / "sw-backtrader" / "sweep.csv")
    for col in ("sharpe", "cagr", "n_trades", "n_rotations"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9)


@pytest.mark.parametrize("text, needle", [
    ("def broken(:\n", "syntax error at line 1"),
    ("import rotationlab as rl\nclass R(rl.Rule):\n    params = {'n': 5}\n", "has no decide(self, h) method"),
    ("import rotationlab as rl\nraise RuntimeError('boom')\n", "failed to import: RuntimeError: boom"),
    ("x = 1\n", "defines 0 rules"),
])
def test_errors_in_a_rule_file_are_one_line(tmp_path, capsys, text, needle):
    path = tmp_path / "bad.py"
    path.write_text(text)
    spec = f"{path}:R" if "class R" in text else str(path)
    assert main(["run", "--strategy", spec, "--no-pdf", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_unknown_parameter_of_a_rule_file_and_a_missing_class(rule_file, capsys, tmp_path):
    assert main(["run", "--strategy", rule_file, "-p", "lookbak_days=3", "--out", str(tmp_path / "o")]) == 2
    assert "did you mean 'lookback_days'" in capsys.readouterr().err
    assert main(["run", "--strategy", rule_file.replace("XliOverXlk", "XliOverXlx"), "--out",
                 str(tmp_path / "o")]) == 2
    assert "did you mean 'XliOverXlk'" in capsys.readouterr().err


def test_a_rule_defined_in_python_runs_from_a_dataframe_without_files(tmp_path):
    class Leader(rl.Rule):
        """Hold whichever of A and B rose more over the last n days."""
        rule = "Hold the one of A and B that rose more over the last {n} days."
        params = {"n": 10}
        param_docs = {"n": "look-back in bars"}

        def symbols(self):
            return {"signal": [], "traded": ["A", "B"]}

        def warmup_bars(self):
            return self.p.n + 1

        def decide(self, h):
            a, b = h.ret("A", self.p.n), h.ret("B", self.p.n)
            if a != a or b != b:
                return None
            return {"A": 1.0} if a >= b else {"B": 1.0}

    idx = pd.bdate_range("2015-01-01", periods=600)
    rng = np.random.default_rng(0)
    closes = pd.DataFrame({"A": 100 * np.cumprod(1 + rng.normal(0.0004, 0.01, 600)),
                           "B": 50 * np.cumprod(1 + rng.normal(0.0002, 0.012, 600))}, index=idx)
    res = rl.run(data=closes, rule=Leader, benchmark="none", stats=False)
    assert res.metrics["metrics"]["n_trades"] > 5 and res.equity.index[0] == idx[10]
    # the fast engine runs the same rule per bar, exactly
    sw = rl.sweep(data=closes, rule=Leader, benchmark="none", grid={"n": [5, 10, 20]}, report=False,
                  progress=False, confirm=1, out=tmp_path / "sw")
    assert (sw.frame["error"] == "").all() and "0.00e+00" in sw.confirmed


def test_no_rule_specific_code_in_the_engines_or_reports():
    for folder in ("rotationlab", "reports", "data_feeds"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert "dow_symbol" not in text.replace("``dow_symbol``", ""), path
            assert "nasdaq_symbol" not in text, path
    assert "divergence" not in (ROOT / "rotationlab" / "kernel.py").read_text().lower()
    assert "divergence" not in (ROOT / "rotationlab" / "fast.py").read_text().lower()
