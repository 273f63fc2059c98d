"""Parameter sweeps: grid and constraint parsing, sweep.csv, parallel runs, interrupt and resume,
reports, and every input error as one line with exit code 2."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SHARED_MARKET, needs_shared

from rotationlab import sweeps as S
from rotationlab.cli import main
from rotationlab.config import RunConfig
from rotationlab.errors import UserError

PERIOD = ["--start", "2005-01-03", "--end", "2007-12-31"]
#: 2 x 2 x 2 = 8 combinations, one of them an execution setting
GRID = ["--grid", "lookback_days=5,10", "--grid", "threshold=0.02:0.03:0.01", "--grid", "commission_bps=1,10"]


def spec_of(grid, constraint=None, **cfg):
    return S.build_spec(RunConfig(**cfg), S.merge_grid(None, grid), constraint)


# -- grid --------------------------------------------------------------------------------------
def test_grid_values_ranges_and_types():
    spec = spec_of(["lookback_days=2,5,10:30:10", "threshold=0.01:0.05:0.01", "require_opposite_signs=true,false",
                    "rotation_symbols=^DJI|^DJI,^GSPC", "fill=next_open,next_close"])
    vals = {a.name: a.values for a in spec.axes}
    assert vals["lookback_days"] == (2, 5, 10, 20, 30)
    assert vals["threshold"] == (0.01, 0.02, 0.03, 0.04, 0.05)  # exact decimals, not 0.030000000000000002
    assert vals["require_opposite_signs"] == (True, False)
    assert vals["rotation_symbols"] == (("^DJI",), ("^DJI", "^GSPC"))
    assert [a.kind for a in spec.axes][-1] == "execution"
    assert len(spec.combos) == spec.grid_size == 5 * 5 * 2 * 2 * 2
    assert spec.columns[:5] == ["lookback_days", "threshold", "require_opposite_signs", "rotation_symbols", "fill"]
    assert spec.columns[5:7] == ["total_return", "cagr"] and spec.columns[-2:] == ["error", "combo_id"]
    assert spec.symbols == ["^DJI", "^IXIC", "^GSPC"]


def test_toml_lists_give_the_same_grid_as_the_cli_syntax():
    a = spec_of(["lookback_days=2,5", "rotation_symbols=^DJI|^DJI,^GSPC", "threshold=0.01:0.02:0.01"])
    b = S.build_spec(RunConfig(), [("lookback_days", [2, 5]), ("rotation_symbols", [["^DJI"], ["^DJI", "^GSPC"]]),
                                   ("threshold", [0.01, 0.02])])
    assert a.axes == b.axes and a.config_hash() == b.config_hash()
    assert [c.id for c in a.combos] == [c.id for c in b.combos]


def test_combination_ids_are_stable_hashes_of_the_values():
    spec = spec_of(["lookback_days=2,5", "threshold=0.01,0.02"])
    assert len({c.id for c in spec.combos}) == 4
    assert spec.combos[0].id == S.combo_id(["lookback_days", "threshold"], (2, 0.01))
    assert spec.config_hash() == spec_of(["lookback_days=2,5", "threshold=0.01,0.02"]).config_hash()


def test_cells_round_trip():
    assert S.cell(0.1 + 0.2) == "0.30000000000000004" and float(S.cell(0.1 + 0.2)) == 0.1 + 0.2
    assert S.cell(float("nan")) == "" and S.cell(None) == "" and S.cell(True) == "true"
    assert S.cell(("DIA", "IWM")) == "DIA,IWM" and S.cell(7) == "7"
    import numpy as np
    assert S.cell(np.float64(0.25)) == "0.25"


@pytest.mark.parametrize("grid, needle", [
    (["lookback=2,5"], "unknown parameter 'lookback' for strategy dow_nasdaq_divergence (did you mean 'lookback_days'?)"),
    (["lookback_days=2,x"], "bad grid lookback_days=2,x: parameter lookback_days='x': expected a whole number"),
    (["lookback_days=2,,5"], "empty value"),
    (["lookback_days=2,2"], "value 2 appears twice"),
    (["threshold=0.05:0.01:0.01"], "runs backwards"),
    (["threshold=0.01:0.05:0"], "step of '0.01:0.05:0' must be positive"),
    (["threshold=0.01:0.05:x"], "'x' is not a number"),
    (["lookback_days=1:3:0.5"], "takes whole numbers"),
    (["threshold"], "use NAME=VALUES"),
    (["threshold=0.01", "threshold=0.02"], "given twice"),
    (["fill=next_open,tomorrow"], "--fill 'tomorrow' is unknown"),
    (["lookback_days=0,5"], "combination lookback_days=0 is invalid: strategy dow_nasdaq_divergence: lookback_days must be >= 1"),
    ([], "give at least one --grid"),
])
def test_bad_grids(grid, needle):
    with pytest.raises(UserError) as e:
        spec_of(grid)
    assert needle in str(e.value) and "\n" not in str(e.value)


# -- constraint --------------------------------------------------------------------------------
def test_constraint_filters_and_sees_fixed_parameters():
    spec = spec_of(["lookback_days=2,5,10,20", "hold_days=5,10,20"],
                   "hold_days >= lookback_days and not (lookback_days == 2 and hold_days > 10) "
                   "and threshold * 100 in (3, 3.0) and dow_symbol == '^DJI'")
    kept = [c.values for c in spec.combos]
    assert kept == [(2, 5), (2, 10), (5, 5), (5, 10), (5, 20), (10, 10), (10, 20), (20, 20)]
    assert spec.grid_size == 12 and [c.index for c in spec.combos][:3] == [0, 1, 3]


@pytest.mark.parametrize("expr, needle", [
    ("__import__('os').system('true')", "unexpected '.' at column 17"),
    ("__import__('os')", "unknown function '__import__'"),
    ("threshold.real > 0", "unknown name 'threshold.real' (did you mean 'threshold'?)"),
    ("rotation_symbols[0] == 'x'", "unexpected '[' at column 17"),
    ("lambda: 1", "unexpected ':' at column 7"),
    ("[x for x in (1,)]", "list items must be numbers, strings or true/false"),
    ("threshold ** 2 > 0", "'**' is not supported: there is no power operator"),
    ("hold_day > 1", "unknown name 'hold_day' (did you mean 'hold_days'?)"),
    ("hold_days >", "expected a value at column 12, got the end"),
    ("lookback_days > 100", "impossible constraint 'lookback_days > 100': none of the 4 combinations"),
    ("threshold / (lookback_days - 2) > 0", "cannot evaluate it for lookback_days=2, hold_days=10 (division by zero)"),
    ("rotation_symbols > 1", "cannot evaluate it"),
])
def test_bad_constraints(expr, needle):
    with pytest.raises(UserError) as e:
        spec_of(["lookback_days=2,5", "hold_days=10,20"], expr)
    assert needle in str(e.value) and "\n" not in str(e.value)


# -- sweep.csv ---------------------------------------------------------------------------------
def test_rowfile_ignores_a_trailing_partial_line(tmp_path):
    rf = S.RowFile(tmp_path / "sweep.csv", ["a", "error", "combo_id"])
    rf.open(fresh=True)
    rf.append(["1", "", "id1"])
    rf.append(["2", "", "id2"])
    rf.close()
    with open(rf.path, "a") as fh:
        fh.write("3,,id")  # killed while writing this row
    assert rf.existing() == {"id1": "1,,id1\n", "id2": "2,,id2\n"}
    assert rf.path.read_text() == "a,error,combo_id\n1,,id1\n2,,id2\n"  # the torn row is cut off
    rf.open(fresh=False)
    rf.append(["3", "", "id3"])
    rf.close()
    rf.finalize({"id1": 2, "id2": 0, "id3": 1})
    assert rf.path.read_text() == "a,error,combo_id\n2,,id2\n3,,id3\n1,,id1\n"
    rf.path.write_text("a,error,combo_id\n1,id1\n")
    with pytest.raises(UserError, match="line 2 is malformed"):
        rf.existing()


# -- end to end --------------------------------------------------------------------------------
def sweep_argv(out, *extra):
    """A backtrader-engine sweep (one backtest per combination, rows appended as they finish)."""
    return ["sweep", *PERIOD, *GRID, "--out", str(out), "--no-progress", "--engine", "backtrader", *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The grid swept in this process (one job), with the full report."""
    out = tmp_path_factory.mktemp("sweep") / "one"
    assert main(sweep_argv(out, "--jobs", "1", "--top", "5")) == 0
    return out


def test_sweep_writes_rows_reports_and_manifest(reference):
    rows = pd.read_csv(reference / "sweep.csv", keep_default_na=False)
    assert list(rows.columns[:3]) == ["lookback_days", "threshold", "commission_bps"]
    assert len(rows) == 8 and rows["error"].eq("").all() and rows["combo_id"].is_unique
    assert list(zip(rows["lookback_days"], rows["threshold"], rows["commission_bps"]))[:3] == [
        (5, 0.02, 1.0), (5, 0.02, 10.0), (5, 0.03, 1.0)]  # grid order
    # costs matter: the expensive twin of each combination earns less
    cheap, dear = rows[rows["commission_bps"] == 1.0], rows[rows["commission_bps"] == 10.0]
    assert (cheap["total_return"].to_numpy() > dear["total_return"].to_numpy()).all()
    for name in ("heatmap.png", "report.pdf", "top.csv", "manifest.json"):
        assert (reference / name).is_file(), name
    top = pd.read_csv(reference / "top.csv")
    assert len(top) == 5 and list(top["rank"]) == [1, 2, 3, 4, 5]
    assert top["sharpe"].is_monotonic_decreasing and top["sharpe"].iloc[0] == rows["sharpe"].max()
    man = json.loads((reference / "manifest.json").read_text())
    assert man["kind"] == "sweep" and man["status"] == "complete" and man["rows"] == {"written": 8, "of": 8, "failed": 0}
    assert man["config"]["grid"] == {"lookback_days": [5, 10], "threshold": [0.02, 0.03], "commission_bps": [1.0, 10.0]}
    assert man["config"]["run"]["start"] == "2005-01-03" and len(man["config"]["config_hash"]) == 64
    assert set(man["data"]["symbols"]) == {"^DJI", "^IXIC", "^GSPC"} and len(man["data"]["hash"]) == 64
    assert man["data"]["symbols"]["^GSPC"]["sha256"] and "backtrader" in man["versions"]
    assert "seed" in man and "git" in man and man["venue"] == {"jobs": 1, "engine": "backtrader"}
    from pypdf import PdfReader
    pdf = PdfReader(reference / "report.pdf")
    assert len(pdf.pages) == 6  # cover, heatmap, top-N, distribution, best equity, overfitting
    assert "skill or luck" in pdf.pages[5].extract_text()
    cover = pdf.pages[0].extract_text()
    assert "Rotation Lab sweep: dow_nasdaq_divergence" in cover and "[lookback_days]" in cover


def test_rows_equal_a_plain_run_of_the_same_parameters(reference):
    from reports.metrics import compute_metrics
    from rotationlab.config import Execution
    from rotationlab.engine import run
    rows = pd.read_csv(reference / "sweep.csv", keep_default_na=False, dtype=str)
    r = rows.iloc[5]
    cfg = RunConfig(start="2005-01-03", end="2007-12-31",
                    params={"lookback_days": int(r["lookback_days"]), "threshold": float(r["threshold"])},
                    execution=Execution(commission_bps=float(r["commission_bps"])))
    m = compute_metrics(run(cfg))["metrics"]  # loads its own data, like `run`
    for k in ("total_return", "sharpe", "max_drawdown", "n_trades", "excess_cagr"):
        assert S.cell(m[k]) == r[k], k


def test_two_jobs_give_the_identical_file(reference, tmp_path):
    assert main(sweep_argv(tmp_path / "two", "--jobs", "2", "--no-pdf")) == 0
    assert (tmp_path / "two" / "sweep.csv").read_bytes() == (reference / "sweep.csv").read_bytes()


def test_heatmap_cells_are_the_best_over_the_other_parameters(reference):
    from reports.sweep_report import heatmap_matrix
    spec = spec_of(GRID[1::2], None, start="2005-01-03", end="2007-12-31")
    frame = S.load_rows(spec, reference / "sweep.csv")
    mat, xs, ys = heatmap_matrix(frame, spec, "lookback_days", "threshold", "sharpe")
    assert xs == [5, 10] and ys == [0.02, 0.03]
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            sel = frame[(frame["lookback_days"] == x) & (frame["threshold"] == y)]
            assert mat[i, j] == sel["sharpe"].max()
    mat, _, _ = heatmap_matrix(frame, spec, "lookback_days", "threshold", "annual_volatility")
    sel = frame[(frame["lookback_days"] == 5) & (frame["threshold"] == 0.02)]
    assert mat[0, 0] == sel["annual_volatility"].min()  # lower is better


def test_an_existing_sweep_needs_resume_and_the_same_config(reference, tmp_path, capsys):
    import shutil
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    assert main(sweep_argv(out, "--jobs", "1")) == 2
    assert "already holds a sweep; add --resume" in capsys.readouterr().err
    argv = ["sweep", *PERIOD, "--grid", "lookback_days=5,10", "--grid", "threshold=0.02:0.04:0.01",
            "--grid", "commission_bps=1,10", "--out", str(out), "--resume", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--resume: this sweep's config differs" in err and "the grid changed" in err
    assert main([*sweep_argv(out, "--resume", "--slippage-bps", "5")]) == 2
    assert "the strategy, data or cost settings changed" in capsys.readouterr().err
    # resuming a complete sweep computes nothing and rebuilds the same file
    before = (out / "sweep.csv").read_bytes()
    assert main(sweep_argv(out, "--resume", "--no-pdf")) == 0
    assert "0 computed" in capsys.readouterr().out and (out / "sweep.csv").read_bytes() == before


def test_resume_refuses_other_data(reference, tmp_path, capsys):
    import shutil
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    man = json.loads((out / "manifest.json").read_text())
    man["data"]["hash"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(man))
    assert main(sweep_argv(out, "--resume")) == 2
    assert "--resume: the data differs" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("argv, needle", [
    (["--grid", "lookback_days=2,five"], "bad grid lookback_days=2,five"),
    (["--grid", "lookbak_days=2,5"], "unknown parameter 'lookbak_days'"),
    (["--grid", "lookback_days=2,5", "--constraint", "lookback_days > 50"], "impossible constraint"),
    (["--grid", "lookback_days=2,5", "--constraint", "open('x')"], "unknown function 'open'"),
    (["--grid", "lookback_days=2,5", "--heatmap", "threshold,lookback_days"], "'threshold' is not a swept parameter"),
    (["--grid", "lookback_days=2,5", "--metric", "sharp"], "(did you mean 'sharpe'?)"),
    (["--grid", "lookback_days=2,5", "--jobs", "0"], "--jobs 0"),
    (["--grid", "lookback_days=2,5", "--dask-scheduler", "nowhere"], "is not a scheduler address"),
    (["--grid", "lookback_days=2,5", "--benchmark", "none", "--metric", "beta"], "'beta' is not a metric"),
])
def test_bad_sweep_input_is_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    assert main(["sweep", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_unreachable_scheduler_is_one_line_within_seconds(tmp_path, capsys):
    t0 = time.monotonic()
    rc = main(["sweep", "--grid", "lookback_days=2,5", "--dask-scheduler", f"tcp://127.0.0.1:{_free_port()}",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and time.monotonic() - t0 < 15
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # even if pytest runs where SIGINT is ignored


def cli(*argv, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(ROOT / "run_backtest.py"), *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_default_sigint, **kw)


def rows_in(path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def interrupt_after(proc, rows_path, n, sig=signal.SIGINT, timeout=120):
    t0 = time.monotonic()
    while rows_in(rows_path) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the sweep made no progress"
        time.sleep(0.05)
    os.killpg(proc.pid, sig)
    try:
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # pragma: no cover
            os.killpg(proc.pid, signal.SIGKILL)


def test_ctrl_c_keeps_the_rows_and_resume_finishes_identically(reference, tmp_path):
    out = tmp_path / "cut"
    proc = cli(*sweep_argv(out, "--jobs", "2", "--no-pdf"))
    _, err = interrupt_after(proc, out / "sweep.csv", 3)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "--resume" in last and "Traceback" not in err
    kept = rows_in(out / "sweep.csv")
    assert 3 <= kept < 8
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    with open(out / "sweep.csv", "a") as fh:  # as if a hard kill tore the next row
        fh.write("10,0.03,1.0,0.12")
    assert main(sweep_argv(out, "--jobs", "1", "--resume", "--no-pdf")) == 0
    assert (out / "sweep.csv").read_bytes() == (reference / "sweep.csv").read_bytes()
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["rows"]["written"] == 8


def test_sigkill_loses_nothing_that_was_written(reference, tmp_path):
    out = tmp_path / "killed"
    proc = cli(*sweep_argv(out, "--jobs", "2", "--no-pdf"))
    interrupt_after(proc, out / "sweep.csv", 2, sig=signal.SIGKILL)
    with open(out / "sweep.csv") as fh:
        kept = list(csv.reader(fh))[1:]
    assert len(kept) >= 2
    assert main(sweep_argv(out, "--jobs", "1", "--resume", "--no-pdf")) == 0
    assert (out / "sweep.csv").read_bytes() == (reference / "sweep.csv").read_bytes()


@needs_shared
def test_etf_sweep_of_120_combinations_interrupted_and_resumed(tmp_path):
    """The done-when proof: 100+ combinations on the ETF data in parallel, interrupted, resumed to
    exactly the rows of an uninterrupted sweep (a short period keeps it quick)."""
    argv = ["sweep", "--config", str(ROOT / "configs" / "divergence_etf.toml"), "--data-dir", str(SHARED_MARKET),
            "--start", "2019-01-02", "--end", "2019-12-31", "--jobs", "2", "--no-pdf", "--no-progress",
            "--engine", "backtrader"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    proc = cli(*argv, "--out", str(cut))
    _, err = interrupt_after(proc, cut / "sweep.csv", 40)
    assert proc.returncode == 130, err
    kept = rows_in(cut / "sweep.csv")
    assert 40 <= kept < 120
    proc = cli(*argv, "--out", str(cut), "--resume")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"({120 - kept} computed on 2 local job(s), {kept} already in sweep.csv)" in out
    assert main([*argv, "--out", str(full)]) == 0
    a, b = (cut / "sweep.csv").read_bytes(), (full / "sweep.csv").read_bytes()
    assert a == b and a.count(b"\n") == 121
    rows = pd.read_csv(full / "sweep.csv", keep_default_na=False)
    assert rows["error"].eq("").all() and rows["trade_from"].eq("2019-01-02").all()
    assert not any(math.isnan(x) for x in rows["sharpe"])


def test_a_combination_the_engine_refuses_is_a_row_with_its_error(tmp_path, capsys):
    out = tmp_path / "short"
    assert main(["sweep", "--end", "1999-03-31", "--grid", "lookback_days=5,100", "--out", str(out),
                 "--no-progress", "--jobs", "1"]) == 0
    assert "2 combinations (2 computed on the fast engine, 0 already in sweep.csv), 1 failed" in capsys.readouterr().out
    rows = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert rows["error"].iloc[0] == "" and "needs 101 bars of history" in rows["error"].iloc[1]
    assert rows["sharpe"].iloc[1] == "" and rows["trade_from"].iloc[1] == ""
    assert len(pd.read_csv(out / "top.csv")) == 1  # failed rows are not ranked
    from pypdf import PdfReader
    assert "1 failed" in PdfReader(out / "report.pdf").pages[0].extract_text()


def test_progress_line_has_rate_and_eta():
    import io
    buf = io.StringIO()
    bar = S.Progress(10, 2, stream=buf)
    bar.t0 -= 4.0  # 4 seconds ago
    bar.update()
    bar.update(error=True)
    text = bar.text()
    assert text.startswith("sweep [") and "4/10  40%" in text and "0.50 combos/s" in text
    assert "ETA 0:12" in text and "1 failed" in text
    assert buf.getvalue().count("\n") == 1  # not a terminal: a line every 10 s, not per update
    quiet = io.StringIO()
    S.Progress(3, 0, enabled=False, stream=quiet).update()
    assert quiet.getvalue() == ""


def test_sweep_has_an_overfitting_section(tmp_path, capsys):
    import json

    from pypdf import PdfReader

    import rotationlab as rl
    from rotationlab.cli import main
    out = tmp_path / "ov"
    rc = main(["sweep", "--start", "2004-01-01", "--end", "2009-12-31", "--grid", "lookback_days=3,10",
               "--grid", "threshold=0.02,0.04", "--jobs", "1", "--no-progress", "--out", str(out)])
    assert rc == 0
    o = json.loads((out / "overfitting.json").read_text())
    assert o["applicable"] and o["n_trials"] == 4 and 0 <= o["pbo"] <= 1 and 0 <= o["deflated_sharpe_ratio"] <= 1
    trials = rl.read_trials(out)
    assert trials.shape[1] == 4  # every trial recorded, readable in one line
    rows = pd.read_csv(out / "sweep.csv")
    assert list(trials.columns) == list(rows["combo_id"])
    eq_growth = (1 + trials.dropna()).prod() - 1  # the same trades as the rows' total returns
    assert np.isfinite(eq_growth).all()
    text = " ".join(p.extract_text() for p in PdfReader(out / "report.pdf").pages)
    assert "skill or luck" in text and f"{o['pbo']:.3f}" in text
    assert "PBO" in capsys.readouterr().out


def test_fast_engine_sweep_matches_backtrader_rows_and_confirms(tmp_path, capsys):
    from rotationlab.cli import main
    args = ["sweep", "--start", "2004-01-01", "--end", "2008-12-31", "--grid", "lookback_days=3,10",
            "--grid", "threshold=0.02,0.04", "--no-progress", "--no-pdf", "--jobs", "1"]
    assert main([*args, "--engine", "backtrader", "--out", str(tmp_path / "bt")]) == 0
    assert main([*args, "--engine", "fast", "--confirm", "1", "--out", str(tmp_path / "fast")]) == 0
    out = capsys.readouterr().out
    assert "combos/s" in out and "confirmed 2 rows in backtrader" in out
    a = pd.read_csv(tmp_path / "bt" / "sweep.csv")
    b = pd.read_csv(tmp_path / "fast" / "sweep.csv")
    assert list(a.columns) == list(b.columns) and list(a["combo_id"]) == list(b["combo_id"])
    for col in ("sharpe", "cagr", "max_drawdown", "n_trades", "excess_cagr"):
        np.testing.assert_allclose(b[col].to_numpy(), a[col].to_numpy(), rtol=1e-9)
    assert main([*args, "--engine", "backtrader", "--confirm", "2", "--out", str(tmp_path / "x")]) == 2
