"""The `run` command end to end on the sample, and its input errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import SHARED_MARKET, needs_shared

from rotationlab.cli import main


def test_run_writes_the_result_files(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "--start", "2007-01-01", "--end", "2009-12-31", "--out", str(out), "--no-pdf",
                 "--timings"]) == 0
    for name in ("equity.csv", "metrics.json", "equity.png", "trades.csv", "weights.csv", "signals.csv"):
        assert (out / name).is_file(), name
    trades = pd.read_csv(out / "trades.csv")
    assert list(trades.columns) == ["date", "symbol", "size", "price", "commission"]
    assert set(trades["symbol"]) <= {"^IXIC", "^DJI"}
    assert list(pd.read_csv(out / "signals.csv").columns) == ["date", "spread", "triggered", "state"]
    weights = pd.read_csv(out / "weights.csv", index_col="date")
    assert list(weights.columns) == ["^IXIC", "^DJI"] and weights.sum(axis=1).max() <= 1.0
    meta = json.loads((out / "metrics.json").read_text())["run"]
    assert meta["strategy"] == "dow_nasdaq_divergence"
    assert meta["execution"]["fills_by_symbol"] == {  # one fill time for every leg: ^DJI has closes only
        "^IXIC": "next close (a traded series has close prices only: ^DJI)", "^DJI": "next close (close prices only)"}
    assert meta["config"]["benchmark"] == "^GSPC"
    printed = capsys.readouterr().out
    assert "CAGR" in printed
    phases = {}  # --timings: "  name   1.23 s" lines
    for line in printed.splitlines():
        if line.startswith("  ") and line.endswith(" s"):
            name, value, _ = line.strip().rsplit(None, 2)
            phases[name] = float(value)
    total = phases.pop("total (after Python's own start-up)")
    top = [v for name, v in phases.items() if not name.startswith(("CSV", "charts", "binding"))]
    assert {"loading data and running the engine", "writing the report"} <= set(phases)
    # each printed figure is rounded to 0.01 s: their sum may pass the total by half of that each
    assert all(v >= 0 for v in phases.values()) and sum(top) <= total + 0.005 * (len(top) + 1)


def test_same_config_writes_byte_identical_metrics(tmp_path):
    args = ["run", "--start", "2010-01-01", "--end", "2011-12-31", "--no-pdf"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("metrics.json", "equity.csv", "trades.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("argv, needle", [
    (["run", "--strategy", "dow_nasdaq_divergense"], "did you mean 'dow_nasdaq_divergence'"),
    (["run", "-p", "lookback=3"], "did you mean 'lookback_days'"),
    (["run", "-p", "threshold"], "must look like key=value"),
    (["run", "--commission-bps", "-1"], "--commission-bps -1.0: must be between 0 and 10000"),
    (["run", "--benchmark", "SPY"], "unknown symbol 'SPY' for the embedded sample"),
    (["run", "--start", "2030-01-01"], "2030-01-01"),
])
def test_bad_run_input_is_one_line_and_exit_2(argv, needle, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    from rotationlab.errors import UserError
    with pytest.raises(UserError):
        main(["run", "--debug", "--strategy", "nope", "--out", str(tmp_path / "o")])


@needs_shared
def test_divergence_on_the_real_etf_csvs(tmp_path):
    out = tmp_path / "etf"
    rc = main(["run", "--source", "csv", "--data-dir", str(SHARED_MARKET), "--start", "2001-01-01",
               "-p", "dow_symbol=DIA", "-p", "nasdaq_symbol=QQQ", "-p", "growth_symbols=QQQ",
               "-p", "rotation_symbols=DIA,IWM", "--benchmark", "SPY", "--out", str(out), "--no-pdf"])
    assert rc == 0
    eq = pd.read_csv(out / "equity.csv", parse_dates=["date"])
    assert eq["date"].iloc[0] == pd.Timestamp("2001-01-02") and eq["date"].iloc[-1] == pd.Timestamp("2026-06-15")
    assert set(pd.read_csv(out / "trades.csv")["symbol"]) == {"QQQ", "DIA", "IWM"}
