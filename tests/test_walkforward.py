"""Walk-forward: in-sample choice, out-of-sample stitching, no peeking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_feeds import get_source
from rotationlab import stats
from rotationlab.config import RunConfig
from rotationlab.errors import UserError
from rotationlab.sweeps import build_spec
from rotationlab.walk_forward import _windows, walk_forward


@pytest.fixture(scope="module")
def wf():
    base = RunConfig(start="2002-01-01", end="2009-12-31")
    spec = build_spec(base, [("lookback_days", "3,10"), ("threshold", "0.02,0.04")])
    data = get_source("sample").load_many(spec.symbols)
    return walk_forward(spec, data, is_years=2, oos_years=1)


def test_each_choice_is_the_in_sample_best_and_precedes_its_window(wf):
    r = wf.trial_returns
    for row in wf.windows.itertuples():
        assert row.is_end < row.oos_start
        ins = r.loc[row.is_start:row.is_end]
        scores = {c: stats.sharpe(ins[c].dropna().to_numpy()) for c in r.columns}
        assert row.chosen == max(scores, key=scores.get)
        assert row.is_objective == pytest.approx(scores[row.chosen], rel=1e-12)


def test_out_of_sample_pieces_are_the_chosen_returns(wf):
    r = wf.trial_returns
    expected = pd.concat([r.loc[w.oos_start:w.oos_end, w.chosen].fillna(0.0) for w in wf.windows.itertuples()])
    np.testing.assert_array_equal(wf.oos_returns.to_numpy(), expected.to_numpy())
    assert wf.oos_returns.index.is_monotonic_increasing and not wf.oos_returns.index.has_duplicates
    assert wf.summary["n_windows"] == len(wf.windows) >= 5
    assert wf.summary["oos"]["cagr"] == pytest.approx(stats.cagr(wf.oos_returns.to_numpy()))


def test_windows_roll_and_anchor():
    dates = pd.bdate_range("2000-01-01", "2005-12-31")
    rolling = _windows(dates, 2, 1, anchored=False)
    anchored = _windows(dates, 2, 1, anchored=True)
    assert [w[1].year for w in rolling] == [2002, 2003, 2004, 2005]
    assert all(w[0] == dates[0] for w in anchored)
    assert rolling[1][0] == pd.Timestamp("2001-01-03")  # two years before its out-of-sample start


def test_bad_walk_forward_settings():
    base = RunConfig(start="2002-01-01", end="2003-06-30")
    spec = build_spec(base, [("lookback_days", "3,10")])
    data = get_source("sample").load_many(spec.symbols)
    with pytest.raises(UserError, match="shorter than --is-years"):
        walk_forward(spec, data, is_years=5, oos_years=1)
    with pytest.raises(UserError, match="objective"):
        walk_forward(spec, data, objective="alpha")


def test_walkforward_command(tmp_path, capsys):
    import json

    from pypdf import PdfReader

    from rotationlab.cli import main
    out = tmp_path / "wf"
    rc = main(["walkforward", "--start", "2002-01-01", "--end", "2008-12-31", "--grid", "lookback_days=3,10",
               "--is-years", "2", "--oos-years", "1", "--jobs", "1", "--out", str(out)])
    assert rc == 0
    doc = json.loads((out / "walkforward.json").read_text())
    rows = pd.read_csv(out / "walkforward.csv")
    assert doc["n_windows"] == len(rows) >= 4 and set(rows["chosen"]) <= {"lookback_days=3", "lookback_days=10"}
    text = "".join(p.extract_text() for p in PdfReader(out / "report.pdf").pages)
    assert "Walk-forward windows" in text and f"{doc['oos']['cagr']:.2%}" in text
    assert main(["walkforward", "--grid", "lookback=3,5", "--out", str(tmp_path / "x")]) == 2
    assert "did you mean 'lookback_days'" in capsys.readouterr().err
