"""TOML config files: every shipped example parses and runs; command-line flags override the file
key by key; the file, the command line and the Python API build the same settings objects."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, SHARED_MARKET, needs_shared

from rotationlab import configfile
from rotationlab.cli import build_parser, main, settings_of

CONFIGS = sorted((ROOT / "configs").glob("*.toml"))
SAMPLE_CONFIGS = [c for c in CONFIGS if 'source = "sample"' in c.read_text()]
ETF_CONFIGS = [c for c in CONFIGS if c not in SAMPLE_CONFIGS]


def configured(argv):
    """argv -> (Settings, its RunConfig)."""
    s = settings_of(build_parser().parse_args(argv))
    return s, s.run


def test_the_examples_are_there():
    names = {c.name for c in CONFIGS}
    assert {"divergence_sample.toml", "divergence_etf.toml", "momentum_sectors.toml"} <= names
    assert SAMPLE_CONFIGS and ETF_CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_example_parses_into_a_valid_sweep(path):
    from rotationlab import sweeps as S
    s, cfg = configured(["sweep", "--config", str(path)])
    spec = S.build_spec(cfg, list(s.sweep.grid), s.sweep.constraint, s.sweep.metric)
    assert len(spec.combos) >= 4 and s.config_file.sha256
    assert set(spec.symbols) <= set(s.symbols)
    # the same file also serves run, compare and study (tables they do not use are ignored)
    assert configured(["run", "--config", str(path)])[1] == cfg
    assert configured(["study", "--config", str(path)])[1] == cfg
    c, _ = configured(["compare", "--config", str(path)])
    assert [n for n, _ in c.strategies] == [cfg.strategy]
    # and the Python API reads the file into the same objects
    import rotationlab as rl
    assert rl.settings(str(path)).run == cfg


def test_the_etf_example_says_what_it_should():
    _, cfg = configured(["run", "--config", str(ROOT / "configs" / "divergence_etf.toml")])
    assert cfg.source == "csv" and cfg.data_dir == "../shared/data/market" and cfg.benchmark == "SPY"
    assert cfg.params["dow_symbol"] == "DIA" and cfg.params["nasdaq_symbol"] == "QQQ"
    assert cfg.params["growth_symbols"] == ("QQQ",) and cfg.params["rotation_symbols"] == ("DIA", "IWM")
    from rotationlab import sweeps as S
    s, _ = configured(["sweep", "--config", str(ROOT / "configs" / "divergence_etf.toml")])
    spec = S.build_spec(cfg, list(s.sweep.grid), s.sweep.constraint)
    assert len(spec.combos) >= 100


@pytest.mark.parametrize("path", SAMPLE_CONFIGS, ids=lambda p: p.name)
def test_sample_example_runs_offline(path, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--config", str(path), "--start", "2017-01-01", "--no-pdf", "--out", str(out)]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["kind"] == "run" and man["config_file"]["sha256"] == configfile.load(path).sha256
    assert man["config"]["run"]["start"] == "2017-01-01"  # the flag overrode the file's start
    assert man["data"]["hash"] and set(man["data"]["symbols"]) == {"^DJI", "^IXIC", "^GSPC"}
    assert "python" in man["versions"] and man["seed"] == 0 and "git" in man


@needs_shared
@pytest.mark.parametrize("path", ETF_CONFIGS, ids=lambda p: p.name)
def test_etf_examples_run_on_the_shared_data(path, tmp_path):
    """Each ETF example swept over one combination of its grid (the first values), one year."""
    from rotationlab import sweeps as S
    s, cfg = configured(["sweep", "--config", str(path)])
    spec = S.build_spec(cfg, list(s.sweep.grid), s.sweep.constraint)
    first = [x for a in spec.axes for x in ("--grid", f"{a.name}={S.cell(a.values[0])}")]
    out = tmp_path / "sweep"
    rc = main(["sweep", "--config", str(path), "--data-dir", str(SHARED_MARKET), "--start", "2019-01-02",
               "--end", "2019-12-31", *first, "--jobs", "1", "--no-pdf", "--no-progress", "--out", str(out)])
    assert rc == 0
    rows = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert len(rows) == 1 and rows["error"].iloc[0] == "" and rows["trade_from"].iloc[0] == "2019-01-02"
    assert isinstance(rows["sharpe"].iloc[0], float)
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["run"]["data_dir"] == str(SHARED_MARKET)
    assert set(man["data"]["symbols"]) <= set(s.symbols)


def write(tmp_path, text, name="c.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


BASE = """
benchmark = "^GSPC"
[data]
start = 2005-01-03
end = "2006-12-29"
[strategy]
name = "dow_nasdaq_divergence"
[strategy.params]
threshold = 0.02
lookback_days = 10
rotation_symbols = ["^DJI"]
[costs]
commission_bps = 5
slippage_bps = 0
[sweep]
constraint = "hold_days >= lookback_days"
[sweep.grid]
hold_days = [10, 20]
threshold = "0.01:0.02:0.01"
"""


def test_flags_override_the_file_key_by_key(tmp_path):
    p = write(tmp_path, BASE)
    _, cfg = configured(["run", "--config", str(p)])
    assert cfg.start == "2005-01-03" and cfg.end == "2006-12-29"  # TOML date and string both work
    assert cfg.execution.commission_bps == 5.0 and cfg.execution.slippage_bps == 0.0
    assert cfg.params == {"threshold": 0.02, "lookback_days": 10, "rotation_symbols": ("^DJI",)}
    # an explicit flag wins even when it equals the parser's default
    _, cfg = configured(["run", "--config", str(p), "--commission-bps", "1", "-p", "threshold=0.05",
                         "--end", "2007-06-29"])
    assert cfg.execution.commission_bps == 1.0 and cfg.end == "2007-06-29"
    assert cfg.params["threshold"] == 0.05 and cfg.params["lookback_days"] == 10


def test_the_cli_grid_replaces_one_parameter_of_the_file_grid(tmp_path):
    from rotationlab import sweeps as S
    p = write(tmp_path, BASE)
    argv = ["sweep", "--config", str(p), "--grid", "threshold=0.03,0.04", "--grid", "confirm_days=0,1"]
    s, cfg = configured(argv)
    grid = list(s.sweep.grid)
    assert [n for n, _ in grid] == ["hold_days", "threshold", "confirm_days"]
    spec = S.build_spec(cfg, grid, s.sweep.constraint)
    assert spec.axes[1].values == (0.03, 0.04) and len(spec.combos) == 8


def test_another_strategy_on_the_command_line_drops_the_files_parameters(tmp_path):
    p = write(tmp_path, BASE)
    _, cfg = configured(["run", "--config", str(p), "--strategy", "buy_and_hold", "-p", "symbol=^GSPC"])
    assert cfg.strategy == "buy_and_hold" and cfg.params == {"symbol": "^GSPC"}
    assert cfg.execution.commission_bps == 5.0  # costs still come from the file


def test_compare_reads_its_strategies_from_the_file(tmp_path):
    p = write(tmp_path, BASE + '\n[compare]\nstrategies = ["dow_nasdaq_divergence:threshold=0.03", '
                                 '{name = "golden_cross_timing", params = {fast_days = 20}}]\nbaselines = false\n')
    s, _ = configured(["compare", "--config", str(p)])
    assert s.strategies == (("dow_nasdaq_divergence", {"threshold": "0.03"}), ("golden_cross_timing", {"fast_days": 20}))
    assert s.baselines is False
    # the command line's strategies replace the file's, in the --strategy NAME -p k=v syntax
    s, _ = configured(["compare", "--config", str(p), "--strategy", "dow_nasdaq_divergence", "-p", "threshold=0.05",
                       "--strategy", "buy_and_hold"])
    assert [(n, dict(v)) for n, v in s.strategies] == [("dow_nasdaq_divergence", {"threshold": "0.05"}),
                                                       ("buy_and_hold", {})]


@pytest.mark.parametrize("text, needle", [
    ("[data]\nfolder = 'x'\n", "[data] folder is an unknown key"),
    ("[dat]\nsource = 'csv'\n", "(did you mean 'data'?)"),
    ("[costs]\ncomission_bps = 1\n", "(did you mean 'commission_bps'?)"),
    ("[costs]\ncommission_bps = 'cheap'\n", "[costs] commission_bps must be a number"),
    ("[data]\nstart = 5\n", "[data] start must be a date"),
    ("benchmark = true\n", "benchmark must be a symbol"),
    ("[strategy\nname = 'x'\n", "is not valid TOML"),
    ("[strategy.params]\nlookback = 3\n", "did you mean 'lookback_days'"),
    ("[strategy.params]\nlookback_days = 2.5\n", "lookback_days=2.5: expected a whole number"),
    ("a = [[[[[[[[[[1]]]]]]]]]]\n", "nested too deeply"),
    ("[data]\nstart = '2020-13-45'\n", "is not a date"),
    ("[data]\nsymbols = ['^DJI', '^IXIC']\n", "uses ^GSPC, not in [data] symbols"),
    ("[sweep.grid]\nthreshold = true\n", "[sweep] grid threshold must be a list"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys, text, needle):
    p = write(tmp_path, text)
    assert main(["run", "--config", str(p), "--no-pdf", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_config_file(tmp_path, capsys):
    assert main(["sweep", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_every_command_takes_a_config_file(tmp_path, capsys):
    p = ROOT / "configs" / "divergence_sample.toml"
    out = tmp_path / "study"
    assert main(["study", "--config", str(p), "--start", "2010-01-01", "--n-boot", "20", "--n-null", "20",
                 "--horizons", "5,20", "--no-pdf", "--no-html", "--out", str(out)]) == 0
    assert json.loads((out / "study.json").read_text())["horizons"] == [5, 20]
    wf = tmp_path / "wf"
    assert main(["walkforward", "--config", str(p), "--grid", "lookback_days=3,5", "--start", "2008-01-01",
                 "--is-years", "3", "--oos-years", "2", "--no-pdf", "--no-html", "--out", str(wf)]) == 0
    assert (wf / "walkforward.json").is_file()
    assert main(["data", "--config", str(p), "--symbols", "^DJI"]) == 0
