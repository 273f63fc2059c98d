"""The ``signal`` command and condition / analog studies: the latest state of a rule, what
followed the days a condition held, and what followed a day's closest analogs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_MARKET, needs_shared

from rotationlab.cli import main

ETF = ["--source", "csv", "--data-dir", str(SHARED_MARKET), "-p", "dow_symbol=DIA", "-p", "nasdaq_symbol=QQQ",
       "-p", "growth_symbols=QQQ", "-p", "rotation_symbols=DIA,IWM", "--benchmark", "SPY"]


def _closes(symbol):
    """The close column of a shared CSV, read by hand (flat or yfinance's three-line header, as
    PROVENANCE.md says)."""
    path = SHARED_MARKET / f"{symbol}.csv"
    if path.read_text().startswith("Price,"):
        f = pd.read_csv(path, header=[0, 1], index_col=0, skiprows=[2], parse_dates=True)
        return f["Close"].iloc[:, 0].rename("close")
    f = pd.read_csv(path, index_col=0, parse_dates=True)
    f.columns = [c.lower() for c in f.columns]
    return f["close"]


@needs_shared
def test_signal_json_matches_a_hand_computation_from_the_csvs(capsys):
    assert main(["signal", *ETF, "--asof", "2020-06-15", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    dia, qqq, iwm = _closes("DIA"), _closes("QQQ"), _closes("IWM")
    both = pd.concat([dia, qqq, iwm], axis=1, keys=["DIA", "QQQ", "IWM"], sort=True).dropna().loc[:"2020-06-15"]
    spread = (both["DIA"] / both["DIA"].shift(5) - 1) - (both["QQQ"] / both["QQQ"].shift(5) - 1)
    # the default rule by hand: rotate when the spread >= 3%, stay >= 20 days, back when it is < 0
    state, held, since = "growth", 0, None
    for day, x in spread.dropna().items():
        if state == "rotated":
            held += 1
            if held >= 20 and x < 0:
                state, since = "growth", day
        elif x >= 0.03:
            state, held, since = "rotated", 0, day
    assert got["asof"] == "2020-06-15"
    assert got["spread"] == pytest.approx(spread.iloc[-1], rel=1e-12)
    assert got["state"] == state and got["since"] == f"{since:%Y-%m-%d}"
    assert got["distance"]["hold_days_left"] == max(0, 20 - held)


def test_signal_on_the_sample_is_one_line(capsys):
    assert main(["signal", "--asof", "2008-10-10"]) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and line.startswith("dow_nasdaq_divergence as of 2008-10-10: ")
    assert "5-day return" in line and ("entry threshold" in line or "back to growth" in line)
    assert main(["signal", "--asof", "1990-01-01"]) == 2


@needs_shared
def test_a_condition_study_includes_the_day_of_the_note(tmp_path):
    out = tmp_path / "when"
    rc = main(["study", "--source", "csv", "--data-dir", str(SHARED_MARKET), "-p", "dow_symbol=^DJI",
               "-p", "nasdaq_symbol=^IXIC", "-p", "growth_symbols=^IXIC", "-p", "rotation_symbols=^DJI",
               "--benchmark", "^GSPC", "--when", "ret(^DJI,1) - ret(^IXIC,1) >= 0.015 and ret(^RUT,1) > 0",
               "--horizons", "1,5,20", "--n-boot", "100", "--n-null", "200", "--no-pdf", "--no-html",
               "--out", str(out)])
    assert rc == 0
    events = pd.read_csv(out / "events.csv", parse_dates=["date"], index_col="date")
    assert pd.Timestamp("2025-07-01") in events.index
    dji, ixic, rut = _closes("^DJI"), _closes("^IXIC"), _closes("^RUT")
    c = pd.concat([dji, ixic, rut], axis=1, keys=["d", "i", "r"], sort=True).dropna()
    r = c / c.shift(1) - 1
    want = r.index[((r["d"] - r["i"]) >= 0.015) & (r["r"] > 0)]
    assert set(events.index) <= set(want) and len(events) >= len(want) - 2  # the trading period's days
    s = json.loads((out / "study.json").read_text())
    assert s["events"].startswith("days when") and s["verdict"]["verdict"] in (
        "evidence of an edge", "no evidence of an edge", "evidence against the rule", "inconclusive")


@needs_shared
def test_an_analog_study_names_its_analogs(tmp_path):
    out = tmp_path / "on"
    rc = main(["study", "--source", "csv", "--data-dir", str(SHARED_MARKET), "-p", "dow_symbol=^DJI",
               "-p", "nasdaq_symbol=^IXIC", "-p", "growth_symbols=^IXIC", "-p", "rotation_symbols=^DJI",
               "--benchmark", "^GSPC", "--on", "2025-07-01", "--analogs", "15", "--horizons", "1,5,20",
               "--n-boot", "100", "--n-null", "200", "--no-pdf", "--no-html", "--out", str(out)])
    assert rc == 0
    s = json.loads((out / "study.json").read_text())
    assert s["on"] == "2025-07-01" and len(s["analogs"]) == 15 and "Euclidean distance" in s["distance"]
    days = [pd.Timestamp(a["date"]) for a in s["analogs"]]
    assert all(abs((d - pd.Timestamp("2025-07-01")).days) > 20 for d in days)
    dist = [a["distance"] for a in s["analogs"]]
    assert dist == sorted(dist) and np.isfinite(dist).all()


def test_an_asof_in_the_future_is_refused_and_one_past_the_data_is_named(capsys):
    from rotationlab.cli import main
    assert main(["signal", "--asof", "2100-01-01"]) == 2
    assert "--asof 2100-01-01 is after today" in capsys.readouterr().err
    assert main(["signal", "--asof", "2020-06-15"]) == 0
    assert "note: the data end on 2018-12-31, before --asof 2020-06-15" in capsys.readouterr().out
