"""Reports: metrics against empyrical-reloaded, figure data against result data (not pixels), the
PDF's pages and text (pypdf), and the compare command.

Results come from the engine on the embedded sample over 2005-2007, run once per module.
"""

from __future__ import annotations

import json
import re

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

from reports import figures as F
from reports import metrics as M
from reports.build import FIGURES
from reports.run_report import write_report
from rotationlab.comparison import baseline_specs, parse_spec, run_comparison, with_baselines
from rotationlab.config import RunConfig, make_rule
from rotationlab.errors import UserError

START, END = "2005-01-01", "2007-12-31"
ISSUE_KEYS = ["total_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown",
              "max_drawdown_days", "time_in_drawdown", "best_day", "worst_day", "monthly_hit_rate",
              "annual_turnover", "exposure", "n_trades", "n_rotations", "avg_holding_days",
              "excess_cagr", "tracking_error", "information_ratio", "beta", "alpha"]


@pytest.fixture(scope="module")
def run_obj():
    import rotationlab as rl
    return rl.run(start=START, end=END)


@pytest.fixture(scope="module")
def result(run_obj):
    return run_obj.result


@pytest.fixture(scope="module")
def hold_result():
    from rotationlab.engine import run
    return run(RunConfig(strategy="buy_and_hold", start=START, end=END))


@pytest.fixture(scope="module")
def metrics(result):
    return M.compute_metrics(result)


@pytest.fixture(scope="module")
def report_dir(run_obj, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    paths = write_report(run_obj, out, pdf=True, html=False)
    return out, paths


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory):
    from rotationlab.cli import main
    out = tmp_path_factory.mktemp("compare")
    code = main(["compare", "--start", START, "--end", END, "--out", str(out)])
    assert code == 0
    return out


def _returns(series: pd.Series) -> pd.Series:
    """Real daily returns of a value series (its first value is the starting point, not a return)."""
    return series.pct_change().dropna()


def _pdf_text(path):
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(path))
    return reader, [page.extract_text() or "" for page in reader.pages]


# -- metrics -----------------------------------------------------------------------------------
def test_metric_keys_are_snake_case_fractions(metrics):
    m = metrics["metrics"]
    for key in ISSUE_KEYS:
        assert key in m, key
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key)
    # fractions, not percents
    assert -1 < m["max_drawdown"] <= 0 and -1 < m["cagr"] < 1 and 0 < m["annual_volatility"] < 1
    assert 0 <= m["time_in_drawdown"] <= 1 and 0 <= m["monthly_hit_rate"] <= 1 and 0 < m["exposure"] <= 1
    assert metrics["periods_per_year"] == 252 and metrics["risk_free"] == 0.0


def test_metrics_equal_empyrical_on_real_returns(result, metrics):
    r = _returns(result.equity)
    b = _returns(result.benchmark)
    m = metrics["metrics"]
    assert metrics["n_returns"] == len(r) == len(result.equity) - 1
    expect = {
        "total_return": ep.cum_returns_final(r),
        "cagr": ep.annual_return(r, annualization=252),
        "annual_volatility": ep.annual_volatility(r, annualization=252),
        "sharpe": ep.sharpe_ratio(r, risk_free=0.0, annualization=252),
        "sortino": ep.sortino_ratio(r, required_return=0.0, annualization=252),
        "calmar": ep.calmar_ratio(r, annualization=252),
        "max_drawdown": ep.max_drawdown(r),
        "alpha": ep.alpha(r, b, risk_free=0.0, annualization=252),
        "beta": ep.beta(r, b, risk_free=0.0),
        "excess_cagr": ep.annual_return(r, annualization=252) - ep.annual_return(b, annualization=252),
    }
    for key, value in expect.items():
        assert m[key] == pytest.approx(float(value), rel=1e-9, abs=1e-12), key
    bm = metrics["benchmark_metrics"]
    assert bm["cagr"] == pytest.approx(ep.annual_return(b, annualization=252), rel=1e-9)
    assert bm["max_drawdown"] == pytest.approx(ep.max_drawdown(b), rel=1e-9)


def test_own_computations_match_empyrical_and_definitions(result, metrics):
    """Where a metric is computed here rather than read from empyrical, it agrees with it."""
    r, b = _returns(result.equity), _returns(result.benchmark)
    m = metrics["metrics"]
    active = r - b
    # tracking error and information ratio: by definition, and via empyrical's excess Sharpe
    assert m["tracking_error"] == pytest.approx(np.std(active.to_numpy(), ddof=1) * np.sqrt(252), rel=1e-9)
    assert m["information_ratio"] == pytest.approx(active.mean() / active.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert m["information_ratio"] == pytest.approx(ep.excess_sharpe(r, b) * np.sqrt(252), rel=1e-9)
    # drawdown series: its minimum is empyrical's max drawdown; the deepest episode is that depth
    assert M.drawdown(result.equity).min() == pytest.approx(ep.max_drawdown(r), rel=1e-9)
    episodes = M.drawdown_episodes(result.equity)
    assert episodes["depth"].iloc[0] == pytest.approx(ep.max_drawdown(r), rel=1e-9)
    assert metrics["drawdowns"][0]["depth"] == pytest.approx(m["max_drawdown"], rel=1e-9)
    # monthly and yearly tables: empyrical's aggregate_returns
    table = M.monthly_returns(r)
    agg = ep.aggregate_returns(r, "monthly")
    for (y, mo), v in agg.items():
        assert table.loc[y, mo] == pytest.approx(v, rel=1e-12)
    assert m["monthly_hit_rate"] == pytest.approx((agg > 0).mean())
    assert M.yearly_returns(r).to_dict() == pytest.approx(ep.aggregate_returns(r, "yearly").to_dict())
    # rolling: the last full window equals empyrical on that window
    assert M.rolling_return(r).iloc[-1] == pytest.approx(ep.cum_returns_final(r.iloc[-252:]), rel=1e-9)
    assert M.rolling_sharpe(r).iloc[-1] == pytest.approx(ep.sharpe_ratio(r.iloc[-252:], annualization=252),
                                                         rel=1e-9)
    assert M.rolling_return(r).iloc[:250].isna().all()
    # simple definitions
    assert m["best_day"] == r.max() and m["worst_day"] == r.min()
    assert m["time_in_drawdown"] == pytest.approx((M.drawdown(result.equity).iloc[1:] < 0).mean())
    assert m["exposure"] == pytest.approx(result.weights.sum(axis=1).mean())
    assert m["n_trades"] == len(result.trades)


def test_turnover_and_rotation_counts(result, metrics):
    m = metrics["metrics"]
    t = result.trades
    value = (t["size"] * t["price"]).abs().groupby(pd.to_datetime(t["date"]).to_numpy()).sum()
    expect = (value / result.equity.reindex(value.index)).sum() / 2 / ((len(result.equity) - 1) / 252)
    assert m["annual_turnover"] == pytest.approx(expect, rel=1e-9)
    state = result.signals["state"]
    entries = int(((state == "rotated") & (state.shift() != "rotated")).sum())
    assert m["n_rotations"] == entries >= 1
    assert metrics["trades"]["fills"] == len(t)
    assert metrics["trades"]["buys"] + metrics["trades"]["sells"] == len(t)


def test_drawdown_days_peak_to_recovery():
    idx = pd.bdate_range("2020-01-01", periods=9)
    eq = pd.Series([100, 110, 99, 105, 111, 90, 95, 100, 105], index=idx, dtype=float)
    ep_ = M.drawdown_episodes(eq)
    # deepest: peak 111 (bar 4) down to 90, not recovered by the end: measured to the last bar
    assert ep_.loc[0, "peak"] == idx[4] and ep_.loc[0, "trough"] == idx[5]
    assert pd.isna(ep_.loc[0, "recovery"]) and ep_.loc[0, "days"] == 4 and not ep_.loc[0, "recovered"]
    # second: peak 110 (bar 1), trough 99, recovered at 111 (bar 4): 3 bars
    assert (ep_.loc[1, "peak"], ep_.loc[1, "recovery"], ep_.loc[1, "days"]) == (idx[1], idx[4], 3)
    r = eq.pct_change().dropna()
    m = M.returns_metrics(r, values=eq)
    assert m["max_drawdown_days"] == 4
    assert m["max_drawdown"] == pytest.approx(90 / 111 - 1) == pytest.approx(ep.max_drawdown(r))
    recovered = pd.Series([100, 90, 100, 80, 120], index=idx[:5], dtype=float)
    assert M.returns_metrics(recovered.pct_change().dropna(), values=recovered)["max_drawdown_days"] == 2


def test_metrics_without_benchmark_or_trades(hold_result):
    import dataclasses
    no_bench = dataclasses.replace(hold_result, benchmark=None)
    out = M.compute_metrics(no_bench)
    assert "benchmark_metrics" not in out and "beta" not in out["metrics"]
    assert out["metrics"]["n_rotations"] == 0 and out["metrics"]["n_trades"] == 1


# -- figures -----------------------------------------------------------------------------------
def test_equity_figure_data(result):
    fig = F.equity_figure(result)
    ax = fig.axes[0]
    assert np.allclose(ax.lines[0].get_ydata(), result.equity.to_numpy())
    assert list(ax.lines[0].get_xdata()) == list(result.equity.index)
    assert np.allclose(ax.lines[1].get_ydata(), result.benchmark.to_numpy())
    assert ax.get_yscale() == "log"
    spans = [p for p in ax.patches if p.get_gid() == "rotation"]
    assert len(spans) == len(M.rotation_episodes(result)) >= 1
    assert START[:4] in ax.get_title() and result.strategy in ax.get_title()
    assert F.equity_figure(result, log=False).axes[0].get_yscale() == "linear"
    extra = F.equity_figure(result, benchmarks={"^IXIC": result.closes["^IXIC"]}).axes[0].lines[2]
    c = result.closes["^IXIC"].loc[result.equity.index[0]:]
    assert np.allclose(extra.get_ydata(), (c / c.iloc[0] * result.equity.iloc[0]).to_numpy())


def test_underwater_figure_marks_five_worst(result):
    fig = F.underwater_figure(result)
    ax = fig.axes[0]
    assert np.allclose(ax.lines[0].get_ydata(), M.drawdown(result.equity).to_numpy())
    assert np.allclose(ax.lines[1].get_ydata(), M.drawdown(result.benchmark).to_numpy())
    worst = M.worst_drawdowns(result.equity)
    assert len(worst) == 5
    for w in worst:
        (marker,) = [ln for ln in ax.lines if ln.get_gid() == f"trough-{w['rank']}"]
        assert marker.get_xdata()[0] == pd.Timestamp(w["trough"])
        assert marker.get_ydata()[0] == pytest.approx(w["depth"])
        (label,) = [t for t in ax.texts if t.get_gid() == f"label-{w['rank']}"]
        assert M.fmt(w["depth"], "pct") in label.get_text()


def test_allocation_figure_stacks_weights(result):
    fig = F.allocation_figure(result)
    ax = fig.axes[0]
    tops = {ln.get_gid(): ln.get_ydata() for ln in ax.lines}
    w = result.weights.fillna(0.0)
    cum = w.cumsum(axis=1)
    for s in w.columns:
        assert np.allclose(tops[s], cum[s].to_numpy())
    assert np.allclose(tops["cash"], np.maximum(cum.iloc[:, -1].to_numpy(), 1.0))


def test_signal_figure_data(result, hold_result):
    fig = F.signal_figure(result)
    ax_rs, ax = fig.axes[:2]
    sig = result.signals[result.signals["state"] != "warmup"]
    spread = [ln for ln in ax.lines if ln.get_label() == "spread"][0]
    assert np.allclose(spread.get_ydata(), sig["spread"].to_numpy())
    rs = ax_rs.lines[0].get_ydata()
    c = result.closes.loc[result.equity.index[0]:]
    ratio = c["^DJI"] / c["^IXIC"]
    assert np.allclose(rs, (ratio / ratio.iloc[0]).to_numpy())
    entries = [ln for ln in ax.lines if ln.get_gid() == "entries"][0]
    assert list(entries.get_xdata()) == list(M.rotation_episodes(result)["start"])
    fired = [ln for ln in ax.lines if ln.get_gid() == "triggered"][0]
    assert len(fired.get_xdata()) == int(sig["triggered"].sum())
    assert F.signal_figure(hold_result) is None


def test_rolling_figure_data(result):
    fig = F.rolling_figure(result)
    ax1, ax2 = fig.axes[:2]
    r = _returns(result.equity)
    y = ax1.lines[0].get_ydata()
    assert np.isnan(y[:251]).all()
    assert y[-1] == pytest.approx(ep.cum_returns_final(r.iloc[-252:]), rel=1e-9)
    s = ax2.lines[0].get_ydata()
    assert s[-1] == pytest.approx(ep.sharpe_ratio(r.iloc[-252:], annualization=252), rel=1e-9)
    b = _returns(result.benchmark)
    assert ax1.lines[1].get_ydata()[-1] == pytest.approx(ep.cum_returns_final(b.iloc[-252:]), rel=1e-9)


def test_monthly_figure_data(result):
    fig = F.monthly_figure(result)
    ax, axb = fig.axes[:2]
    img = ax.images[0].get_array()
    r = _returns(result.equity)
    table = M.monthly_returns(r)
    assert img.shape == (3, 12)
    assert np.allclose(np.ma.filled(img, np.nan), table.to_numpy(), equal_nan=True)
    bars = [p for p in axb.patches if p.get_gid() == "yearly"]
    assert np.allclose([p.get_width() for p in bars], ep.aggregate_returns(r, "yearly").to_numpy())


def test_comparison_figures(result, hold_result):
    results = {"rule": result, "hold": hold_result}
    colors = {"rule": "#1f77b4", "hold": "#9467bd"}
    ax = F.comparison_equity_figure(results, colors).axes[0]
    assert np.allclose(ax.lines[0].get_ydata(), result.equity.to_numpy())
    assert np.allclose(ax.lines[1].get_ydata(), hold_result.equity.to_numpy())
    assert [ln.get_color() for ln in ax.lines[:2]] == ["#1f77b4", "#9467bd"]
    m = {k: M.compute_metrics(v)["metrics"] for k, v in results.items()}
    table = F.metrics_table_figure(m, colors).axes[0].tables[0]
    cells = table.get_celld()
    row = 1 + [k for k, _, _ in M.METRIC_ROWS].index("cagr")
    assert cells[(row, 1)].get_text().get_text() == M.fmt(m["rule"]["cagr"], "pct")
    assert cells[(row, 2)].get_text().get_text() == M.fmt(m["hold"]["cagr"], "pct")


def test_figures_are_pure(result):
    before = result.equity.copy(), result.weights.copy(), result.signals.copy()
    for func in FIGURES.values():
        func(result)
    assert result.equity.equals(before[0]) and result.weights.equals(before[1])
    assert result.signals.equals(before[2])


def test_strategy_colors_stable_and_distinct():
    from reports.style import STRATEGY_COLORS, strategy_colors
    c = strategy_colors([("a", "dow_nasdaq_divergence"), ("b", "dow_nasdaq_divergence"), ("c", "buy_and_hold"),
                         ("d", "unknown")])
    assert c["a"] == STRATEGY_COLORS["dow_nasdaq_divergence"] and c["c"] == STRATEGY_COLORS["buy_and_hold"]
    assert len(set(c.values())) == 4


# -- run report: files, metrics.json, PDF --------------------------------------------------------
def test_write_report_files(report_dir, result):
    out, paths = report_dir
    assert paths["out"] == out
    for name in FIGURES:
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "report.pdf").is_file() and (out / "equity.csv").is_file()
    saved = json.loads((out / "metrics.json").read_text())
    for key in ISSUE_KEYS:
        assert saved["metrics"][key] == pytest.approx(paths["metrics"]["metrics"][key], rel=1e-12)
    assert saved["run"]["strategy"] == result.strategy


def test_pdf_pages_and_text(report_dir, result):
    out, paths = report_dir
    reader, pages = _pdf_text(out / "report.pdf")
    assert len(pages) >= 6
    # cover, metrics, statistics, figures, tear sheet (returns, drawdowns, crises), factors, trades,
    # execution
    assert len(pages) == 3 + len(FIGURES) + 3 + 1 + 2
    assert "Factor attribution" in pages[3 + len(FIGURES) + 3]
    cover = " ".join(pages[0].split())
    assert result.strategy in cover and "Parameters" in cover and "Data provenance" in cover
    assert " ".join(result.rule.split()[:8]) in cover
    for sym, meta in result.provenance["symbols"].items():
        assert meta["sha256"] in pages[0].replace("\n", "").replace(" ", "")
    assert result.provenance["period"]["trade_from"] in cover
    assert "numba" in cover and "backtrader" in cover
    m, bm = paths["metrics"]["metrics"], paths["metrics"]["benchmark_metrics"]
    table = pages[1]
    assert "Metrics vs benchmark" in table
    for key, label, kind in M.METRIC_ROWS:
        assert M.fmt(m[key], kind) in table, key
        if key in bm:
            assert M.fmt(bm[key], kind) in table, key
    assert "Is the edge more than luck?" in pages[2]
    # the chart pages are the PNG files, pixel for pixel (each chart is drawn once)
    from PIL import Image
    for i, name in enumerate(FIGURES):
        page = reader.pages[3 + i]
        drawn = [im for im in page.images if f"/{im.name.split('.')[0]} Do".encode() in page.get_contents().get_data()]
        assert len(drawn) == 1, name
        png = np.asarray(Image.open(out / f"{name}.png").convert("RGB"))
        stored = np.asarray(drawn[0].image.convert("RGB"))  # the PNG's own pixels, rows top-down
        assert np.array_equal(stored, png), name
    trades = pages[-2]
    assert f"{len(result.trades):,} fills" in trades
    first = result.trades.iloc[0]
    assert f"{pd.Timestamp(first['date']):%Y-%m-%d}" in trades and f"{first['price']:,.4f}" in trades
    ex = " ".join(pages[-1].split())
    assert "Execution assumptions" in ex and "next close (close prices only)" in ex and "bps" in ex
    assert "^DJI" in ex and "Close-only feeds" in ex
    assert "/CreationDate" not in str(reader.trailer["/Info"])


def test_report_is_deterministic(run_obj, report_dir, tmp_path):
    out, _ = report_dir
    write_report(run_obj, tmp_path, pdf=True, html=False)
    assert (tmp_path / "report.pdf").read_bytes() == (out / "report.pdf").read_bytes()
    for name in FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes() == (out / f"{name}.png").read_bytes()


def test_report_without_pdf_and_without_signal(tmp_path):
    import rotationlab as rl
    hold = rl.run(strategy="buy_and_hold", start=START, end=END, stats=False)
    paths = write_report(hold, tmp_path, pdf=False, html=False)
    assert not (tmp_path / "report.pdf").exists() and not (tmp_path / "signal.png").exists()
    assert (tmp_path / "equity.png").exists() and paths["metrics"]["metrics"]["n_trades"] == 1


# -- compare -----------------------------------------------------------------------------------
def test_parse_spec():
    assert parse_spec("dow_nasdaq_divergence") == ("dow_nasdaq_divergence", [])
    assert parse_spec("static_blend:symbols=A,B;weights=0.6,0.4") == (
        "static_blend", ["symbols=A,B", "weights=0.6,0.4"])
    with pytest.raises(UserError):
        parse_spec("x:threshold")


def test_baselines_follow_the_rule():
    rule = make_rule("dow_nasdaq_divergence", {"growth_symbols": "QQQ", "rotation_symbols": "DIA,IWM"})
    specs = baseline_specs(rule, "SPY")
    labels = [lab for lab, _, _ in specs]
    assert labels == ["buy_and_hold SPY", "buy_and_hold growth QQQ", "static_blend QQQ | DIA+IWM",
                      "always_rotated DIA+IWM"]
    keys = {lab: params for lab, _, params in specs}
    assert keys["buy_and_hold SPY"] == {"symbol": "SPY"} and keys["buy_and_hold growth QQQ"] == {"symbol": "QQQ"}
    blend = keys["static_blend QQQ | DIA+IWM"]
    assert blend["symbols"] == ["QQQ", "DIA", "IWM"] and blend["weights"] == pytest.approx([0.5, 0.25, 0.25])
    assert keys["always_rotated DIA+IWM"] == {"rotation_symbols": ["DIA", "IWM"], "rotation_weights": [0.5, 0.5]}
    labelled = with_baselines([RunConfig(start=START, end=END)])
    assert [c.strategy for _, c in labelled] == ["dow_nasdaq_divergence", "buy_and_hold", "buy_and_hold",
                                                "static_blend", "always_rotated"]
    assert {c.execution for _, c in labelled} == {RunConfig().execution}
    assert {(c.start, c.end, c.benchmark, c.source) for _, c in labelled} == {(START, END, "^GSPC", "sample")}
    # a strategy given twice with different parameters gets labels that tell them apart; exact
    # duplicates (here the baseline buy_and_hold ^GSPC given explicitly) are dropped
    two = with_baselines([RunConfig(params={"threshold": 0.02}), RunConfig(params={"threshold": 0.04}),
                          RunConfig(strategy="buy_and_hold", params={"symbol": "^GSPC"})])
    labels = [lab for lab, _ in two]
    assert len(labels) == len(set(labels)) == 6
    assert "dow_nasdaq_divergence [threshold=0.02]" in labels


def test_run_comparison_aligns_periods():
    cfgs = with_baselines([RunConfig(start=START, end=END)], baselines=False)
    cfgs.append(("hold", RunConfig(strategy="buy_and_hold", start="2004-06-01", end="2008-06-30")))
    res = run_comparison(cfgs)
    periods = {(r.equity.index[0], r.equity.index[-1]) for r in res.values()}
    assert len(periods) == 1


def test_compare_command_report(compare_dir):
    out = compare_dir
    summary = json.loads((out / "metrics.json").read_text())
    labels = summary["comparison"]["strategies"]
    assert labels[0] == "dow_nasdaq_divergence" and len(labels) == 5
    assert "buy_and_hold growth ^IXIC" in labels
    assert {summary["strategies"][lab]["strategy"] for lab in labels} == {
        "dow_nasdaq_divergence", "buy_and_hold", "static_blend", "always_rotated"}
    for name in ("compare_equity", "compare_drawdown", "compare_rolling", "compare_yearly", "compare_metrics",
                 "signal", "allocation"):
        assert (out / f"{name}.png").is_file(), name
    for lab in labels:
        sub = out / summary["strategies"][lab]["folder"]
        assert (sub / "equity.csv").is_file() and (sub / "metrics.json").is_file()
    eq = pd.read_csv(out / "equity.csv", index_col="date", parse_dates=True)
    assert eq[labels].notna().all().all()  # one common calendar and period
    reader, pages = _pdf_text(out / "report.pdf")
    assert len(pages) >= 6
    text = "\n".join(pages)
    for lab in labels:
        assert lab in text
        m = summary["strategies"][lab]["metrics"]
        for key, _, kind in M.METRIC_ROWS:
            assert M.fmt(m[key], kind) in pages[1], (lab, key)
    assert "Execution assumptions" in pages[-1]
    cover = " ".join(pages[0].split())
    assert "Every strategy read exactly these series" in cover
    for sym, meta in summary["provenance"][labels[0]]["symbols"].items():
        assert meta["sha256"] in pages[0].replace("\n", "").replace(" ", "")


def test_compare_cli_errors(capsys):
    from rotationlab.cli import main
    assert main(["compare", "--strategy", "nope"]) == 2
    assert "unknown strategy" in capsys.readouterr().err
    assert main(["compare", "--strategy", "buy_and_hold:symbol"]) == 2


def test_rolling_window_fits_short_periods():
    assert F.fit_window(5000) == 252 and F.fit_window(300) == 63 and F.fit_window(60) == 20


def test_compare_on_the_defaults_reports_holding_growth():
    """The default comparison's growth baseline is buy-and-hold of ^IXIC: its CAGR equals the
    close-to-close CAGR of ^IXIC from the same data over the same period (1e-3: the engine's
    baseline keeps its 1% cash buffer and pays its one fill), and the rule's vs-growth line is its
    CAGR minus the costless growth reference's."""
    import rotationlab as rl
    from data_feeds import get_source
    cmp_ = rl.compare()
    g = cmp_.metrics["buy_and_hold growth ^IXIC"]
    eq = cmp_.results["buy_and_hold growth ^IXIC"].equity
    c = get_source("sample").load("^IXIC").frame["close"].loc[eq.index[0]:eq.index[-1]]
    cagr = (c.iloc[-1] / c.iloc[0]) ** (252 / (len(c) - 1)) - 1
    assert g["metrics"]["cagr"] == pytest.approx(cagr, abs=1e-3)
    rule = cmp_.metrics["dow_nasdaq_divergence"]
    assert rule["growth_metrics"]["cagr"] == pytest.approx(cagr, rel=1e-9)
    assert rule["vs_growth"]["excess_cagr"] == pytest.approx(rule["metrics"]["cagr"] - cagr, rel=1e-9)


def test_the_run_cover_names_the_rule_against_holding_growth(report_dir):
    out, paths = report_dir
    _, pages = _pdf_text(out / "report.pdf")
    cover = " ".join(pages[0].split())
    v = paths["metrics"]["vs_growth"]["excess_cagr"]
    assert "rule vs holding growth" in cover and f"{v * 100:+.2f} %/yr" in cover


# -- tear sheet pages: the numbers of metrics.json ---------------------------------------------------
def _page_with(pages, title):
    (page,) = [p for p in pages if title in p]
    return page


def test_pdf_metrics_page_beside_holding_growth(report_dir, result):
    out, _ = report_dir
    doc = json.loads((out / "metrics.json").read_text())
    _, pages = _pdf_text(out / "report.pdf")
    page = pages[1]
    assert "Metrics vs benchmark and holding growth" in page and "holding" in page and "^IXIC" in page
    gm, vg = doc["growth_metrics"], doc["vs_growth"]
    for key, _label, kind in M.METRIC_ROWS:
        if key in gm:
            assert M.fmt(gm[key], kind) in page, key
        if key in vg:
            assert M.fmt(vg[key], kind) in page, key
    for ref in ("benchmark", "growth"):
        cap = doc["tearsheet"]["capture"][ref]
        assert M.fmt(cap["up_capture"], "ratio") in page and M.fmt(cap["down_capture"], "ratio") in page
        assert f"{cap['up_days']:,} / {cap['down_days']:,}" in page
    # the cover names the growth basket in "rule vs holding growth" and warns of close-only fills
    cover = " ".join(pages[0].split())
    assert f"(growth ^IXIC CAGR {M.fmt(gm['cagr'], 'pct')})" in cover
    assert "Read before trusting the numbers" in cover and "^DJI has close prices only" in cover


def test_pdf_tearsheet_pages_are_metrics_json(report_dir):
    out, _ = report_dir
    doc = json.loads((out / "metrics.json").read_text())
    ts = doc["tearsheet"]
    _, pages = _pdf_text(out / "report.pdf")
    returns = _page_with(pages, "Returns by calendar year and trailing")
    for a in ts["annual_returns"]:
        line = next(ln for ln in returns.splitlines() if ln.startswith(str(a["year"])))
        for k in ("rule", "benchmark", "growth"):
            assert M.fmt(a[k], "pct") in line, (a["year"], k)
    assert f"Trailing returns as of {ts['trailing_returns']['as_of']}" in returns
    for key, label, _, _ in M.TRAILING_PERIODS:
        line = next(ln for ln in returns.splitlines() if ln.startswith(label + " "))
        assert line.split()[-3:] == [M.fmt(ts["trailing_returns"][s][key], "pct") for s in ("rule", "benchmark",
                                                                                               "growth")], key
    dd = _page_with(pages, "Worst drawdowns")
    for series in ("rule", "benchmark", "growth"):
        for d in ts["drawdowns"][series]:
            assert d["peak"] in dd and d["valley"] in dd and M.fmt(d["depth"], "pct") in dd
    crises = _page_with(pages, "Crises, time in each asset")
    assert ts["crises"], "2005-2007 covers the start of the financial crisis"
    for c in ts["crises"]:
        assert c["name"] in crises
        for k in ("rule", "benchmark", "growth", "rule_max_drawdown"):
            assert M.fmt(c[k], "pct") in crises, (c["key"], k)
    for sym, v in ts["time_in_assets"]["symbols"].items():
        line = next(ln for ln in crises.splitlines() if ln.startswith(sym + " "))
        assert M.fmt(v["share_of_days"], "pct") in line and f"{v['average_holding_days']:,.1f}" in line
    for w, d in ts["rolling"]["benchmark"].items():
        for measure in ("beta", "correlation"):
            line = next(ln for ln in crises.splitlines() if ln.startswith(f"{measure} {int(w):,} days"))
            assert line.split()[-4:] == [M.fmt(d[measure][k], "ratio") for k in ("last", "mean", "min", "max")]


def test_rolling_beta_figure_data(result):
    fig = F.rolling_beta_figure(result)
    ax1, ax2 = fig.axes[:2]
    roll = M.rolling_relative(M.strategy_returns(result), M.benchmark_returns(result))
    for i, w in enumerate(M.ROLLING_WINDOWS):
        assert np.allclose(ax1.lines[i].get_ydata(), roll[f"beta_{w}"].to_numpy(), equal_nan=True)
        assert np.allclose(ax2.lines[i].get_ydata(), roll[f"correlation_{w}"].to_numpy(), equal_nan=True)
    r, b = _returns(result.equity), _returns(result.benchmark)
    assert ax1.lines[1].get_ydata()[-1] == pytest.approx(ep.beta(r.iloc[-252:], b.iloc[-252:]), rel=1e-9)
    import dataclasses
    assert F.rolling_beta_figure(dataclasses.replace(result, benchmark=None)) is None


def test_sweep_heatmap_colour_bar_marks_the_centre():
    from reports.sweep_report import heat_scale
    mat = np.array([[0.29, 0.35], [0.31, 0.36]])
    s = heat_scale(mat, "sharpe", 0.15)
    assert s["center"] == 0.15 and (s["vmin"] + s["vmax"]) / 2 == pytest.approx(0.15)
    assert s["vmax"] == pytest.approx(0.15 + np.quantile(np.abs(mat - 0.15), 0.95))
    assert heat_scale(mat, "n_trades", 10.0)["center"] is None
    assert heat_scale(mat, "excess_cagr", 0.2)["center"] == 0.0
