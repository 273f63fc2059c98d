"""report.html: self-contained, the same numbers as the JSON files, deterministic, and drawn by a
real headless browser (Chromium) with the network blocked.

Each report kind is written once per module on its defaults over a short period of the embedded
sample. The browser tests drive Debian's Chromium through playwright where it is installed, else
through Chromium's own headless mode (``--dump-dom`` / ``--screenshot``); they skip only where no
Chromium is installed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports import metrics as M
from reports import pdf as P

pytestmark = pytest.mark.slow

START, END = "2005-01-01", "2008-12-31"
SWEEP = ["--grid", "lookback_days=5,10", "--grid", "threshold=0.02,0.03"]
#: The charts (div ids) each report kind draws on these settings.
CHARTS = {
    "run": ["chart_equity", "chart_drawdown", "chart_monthly", "chart_allocation", "chart_signal", "chart_rolling"],
    "compare": ["chart_equity", "chart_drawdown", "chart_yearly", "chart_signal", "chart_allocation"],
    "study": ["chart_paths", "chart_events"],
    "sweep": ["chart_heatmap", "chart_distribution", "chart_best_equity"],
    "walkforward": ["chart_walkforward", "chart_windows"],
}
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _cli(*argv) -> None:
    from rotationlab.cli import main
    assert main([*argv, "--no-progress"]) == 0


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict:
    """``{kind: folder}`` of the five report kinds (report.html only: --no-pdf)."""
    import rotationlab as rl
    root = tmp_path_factory.mktemp("html")
    out = {k: root / k for k in CHARTS}
    _cli("run", "--start", START, "--end", END, "--out", str(out["run"]), "--no-pdf")
    _cli("compare", "--start", START, "--end", END, "--out", str(out["compare"]), "--no-pdf")
    rl.study(start=START, end=END, n_boot=200, n_null=200).report(out["study"], pdf=False)
    _cli("sweep", *SWEEP, "--start", START, "--end", "2010-12-31", "--out", str(out["sweep"]), "--no-pdf")
    _cli("walkforward", *SWEEP, "--is-years", "3", "--oos-years", "2", "--start", "2003-01-01", "--end", "2012-12-31",
         "--out", str(out["walkforward"]), "--no-pdf")
    return out


def _html(reports, kind) -> str:
    return (reports[kind] / "report.html").read_text()


class _Tables(HTMLParser):
    """Text of every ``<table id=...>``: ``{id: [[header cells], [row cells]...]}``."""

    def __init__(self):
        super().__init__()
        self.tables, self._id, self._row, self._cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._id = a["id"]
            self.tables[self._id] = []
        elif tag == "tr" and self._id:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._id].append(self._row)
            self._row = None
        elif tag == "table":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables_of(text: str) -> dict:
    p = _Tables()
    p.feed(text)
    return p.tables


def _rows_by_first(table: list[list[str]]) -> dict:
    return {r[0]: r for r in table[1:]}


# -- the file itself ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(CHARTS))
def test_html_is_self_contained(reports, kind):
    text = _html(reports, kind)
    assert text.startswith("<!DOCTYPE html>")
    assert 'src="http' not in text and "src='http" not in text
    assert not re.search(r"<link[^>]+href=[\"']?https?:", text)
    assert not re.search(r"<script[^>]+src=", text)  # every script inline
    assert text.count("plotly.js v") == 1  # the library once
    for cid in CHARTS[kind]:
        assert text.count(f'id="{cid}"') == 1, cid
        assert f'Plotly.newPlot("{cid}"' in text, cid
    assert text.count('class="chart"') == len(CHARTS[kind])
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids))  # stable, unique element ids


def test_run_html_numbers_are_metrics_json(reports):
    folder = reports["run"]
    doc = json.loads((folder / "metrics.json").read_text())
    text = _html(reports, "run")
    t = tables_of(text)
    m, bm, gm, vg = doc["metrics"], doc["benchmark_metrics"], doc["growth_metrics"], doc["vs_growth"]
    rows = _rows_by_first(t["metrics_table"])
    assert t["metrics_table"][0][1:] == [doc["run"]["strategy"], f"benchmark {doc['benchmark']}",
                                         "holding growth ^IXIC"]
    for key, label, kind in M.METRIC_ROWS:
        if key in M.RELATIVE:
            continue
        assert rows[label][1] == M.fmt(m[key], kind), key
        assert rows[label][2] == (M.fmt(bm[key], kind) if key in bm else "-"), key
        assert rows[label][3] == (M.fmt(gm[key], kind) if key in gm else "-"), key
    rel = _rows_by_first(t["relative_table"])
    cap = doc["tearsheet"]["capture"]
    for key in M.RELATIVE:
        kind = next(k for kk, _, k in M.METRIC_ROWS if kk == key)
        assert rel[P.RELATIVE_LABELS[key]][1:] == [M.fmt(m[key], kind), M.fmt(vg[key], kind)], key
    for key, label in P.CAPTURE_ROWS:
        assert rel[label][1:] == [M.fmt(cap["benchmark"][key], "ratio"), M.fmt(cap["growth"][key], "ratio")]
    ts = doc["tearsheet"]
    annual = t["annual_table"][1:]
    assert len(annual) == len(ts["annual_returns"])
    for row, a in zip(annual, ts["annual_returns"]):
        assert row[0].startswith(str(a["year"]))
        assert row[2:] == [M.fmt(a["rule"], "pct"), M.fmt(a["benchmark"], "pct"), M.fmt(a["growth"], "pct")]
    trailing = _rows_by_first(t["trailing_table"])
    for key, label, _, _ in M.TRAILING_PERIODS:
        assert trailing[label][1:] == [M.fmt(ts["trailing_returns"][s][key], "pct")
                                       for s in ("rule", "benchmark", "growth")], key
    for series in ("rule", "benchmark", "growth"):
        dd = t[f"drawdowns_{series}"][1:]
        assert len(dd) == len(ts["drawdowns"][series]) == M.N_TEARSHEET_DRAWDOWNS
        for row, d in zip(dd, ts["drawdowns"][series]):
            assert row[0] == str(d["rank"]) and row[1] == d["peak"] and d["valley"] in row
            assert M.fmt(d["depth"], "pct") in row and (d["recovery"] or "open") in row
    crises = t["crisis_table"][1:]
    assert [r[0] for r in crises] == [c["name"] for c in ts["crises"]] and crises
    for row, c in zip(crises, ts["crises"]):
        assert row[4:] == [M.fmt(c[k], "pct") for k in ("rule", "benchmark", "growth", "rule_max_drawdown")]
    assets = _rows_by_first(t["assets_table"])
    for sym, v in ts["time_in_assets"]["symbols"].items():
        assert assets[sym][1:3] == [M.fmt(v["share_of_days"], "pct"), M.fmt(v["average_weight"], "pct")]
    roll = t["rolling_table"][1:]
    first = ts["rolling"]["benchmark"]["126"]["beta"]
    assert roll[0][:2] == ["beta", "126 days"] and roll[0][2:] == [M.fmt(first[k], "ratio")
                                                                   for k in ("last", "mean", "min", "max")]
    s = doc["statistics"]
    boot = _rows_by_first(t["bootstrap_table"])
    assert boot["CAGR"][1] == f"{s['cagr']['estimate']:.2%}" and boot["Sharpe ratio"][1] == f"{s['sharpe']['estimate']:.2f}"
    # headline: the rule against holding its growth basket, named
    assert (f"{vg['excess_cagr'] * 100:+.2f} %/yr (growth ^IXIC CAGR {M.fmt(gm['cagr'], 'pct')})"
            in text)
    # trades as in trades.csv; provenance with every SHA-256; the close-only warning
    with open(folder / "trades.csv") as f:
        trades = list(csv.DictReader(f))
    shown = t["trades_table"][1:]
    assert len(shown) == len(trades) == m["n_trades"]
    assert shown[0][1] == trades[0]["date"][:10] and shown[0][5] == f"{float(trades[0]['price']):,.4f}"
    prov = _rows_by_first(t["provenance_table"])
    for sym, meta in doc["run"]["provenance"]["symbols"].items():
        assert prov[sym][2] == meta["sha256"]
    assert 'id="warnings"' in text and "^DJI has close prices only" in text
    assert doc["run"]["execution"]["fill_rule"] in text


def test_compare_study_sweep_walkforward_numbers(reports):
    text = _html(reports, "compare")
    doc = json.loads((reports["compare"] / "metrics.json").read_text())
    t = tables_of(text)
    labels = doc["comparison"]["strategies"]
    assert t["metrics_table"][0][1:1 + len(labels)] == labels and len(labels) == 5
    rows = _rows_by_first(t["metrics_table"])
    for key, label, kind in M.METRIC_ROWS:
        for j, lab in enumerate(labels, start=1):
            assert rows[label][j] == M.fmt(doc["strategies"][lab]["metrics"][key], kind), (lab, key)
    head = _rows_by_first(t["headline_table"])
    for lab in labels:
        mm = doc["strategies"][lab]["metrics"]
        assert head[lab][1:4] == [M.fmt(mm["cagr"], "pct"), M.fmt(mm["sharpe"], "ratio"),
                                  M.fmt(mm["max_drawdown"], "pct")]
    assert "buy_and_hold growth ^IXIC" in head

    study = json.loads((reports["study"] / "study.json").read_text())
    srows = tables_of(_html(reports, "study"))["study_table"][1:]
    r = study["results"]["rotation_minus_growth_20d"]
    (row,) = [x for x in srows if x[0] == "rotation minus growth" and x[1] == "20"]
    assert row[4] == f"{r['mean']:.2%}" and row[10] == f"{r['p_value_two_sided_cluster']:.3f}"
    assert len(tables_of(_html(reports, "study"))["lag_table"]) == 1 + len(study["execution_lag"])

    top = list(csv.reader(io.StringIO((reports["sweep"] / "top.csv").read_text())))
    shown = tables_of(_html(reports, "sweep"))["top_table"]
    assert len(shown) == len(top)
    sharpe = top[0].index("sharpe")
    for a, b in zip(shown[1:], top[1:]):
        assert a[0] == b[0] and a[sharpe] == f"{float(b[sharpe]):.2f}"
    over = json.loads((reports["sweep"] / "overfitting.json").read_text())
    o = _rows_by_first(tables_of(_html(reports, "sweep"))["overfit_table"])
    assert o["probability of backtest overfitting (PBO)"][1] == f"{over['pbo']:.3f}"

    wf = list(csv.DictReader(io.StringIO((reports["walkforward"] / "walkforward.csv").read_text())))
    wt = tables_of(_html(reports, "walkforward"))["windows_table"][1:]
    assert [r[3] for r in wt] == [w["chosen"] for w in wf]
    assert [r[5] for r in wt] == [f"{float(w['oos_objective']):.2f}" for w in wf]


def test_sweep_heatmap_centre_on_the_colour_bar(reports):
    """The HTML heatmap uses heatmap.png's colour scale: centred on the benchmark's Sharpe ratio,
    the centre the middle of the range and marked on the colour bar."""
    text = _html(reports, "sweep")
    over = json.loads((reports["sweep"] / "overfitting.json").read_text())
    spec = re.search(r'Plotly.newPlot\("chart_heatmap",f.data', text)
    assert spec
    block = text[text.rfind("var f=", 0, spec.start()) + 6:spec.start()].rstrip(";")
    fig = json.loads(block.replace("<\\/", "</"))
    heat = fig["data"][0]
    mid = (heat["zmin"] + heat["zmax"]) / 2
    centre = [v for v, s in zip(heat["colorbar"]["tickvals"], heat["colorbar"]["ticktext"]) if "centre" in s]
    assert len(centre) == 1 and centre[0] == pytest.approx(mid)
    assert "centred on the benchmark" in heat["colorbar"]["title"]["text"]
    assert over["n_trials"] == 4


def test_html_is_deterministic(reports, tmp_path):
    _cli("run", "--start", START, "--end", END, "--out", str(tmp_path / "again"), "--no-pdf")
    assert (tmp_path / "again" / "report.html").read_bytes() == (reports["run"] / "report.html").read_bytes()


@pytest.mark.parametrize("argv", [
    ["run", "--strategy", "buy_and_hold", "--no-stats"],
    ["compare", "--strategy", "buy_and_hold"],
    ["study"],
    ["sweep", "--grid", "threshold=0.02,0.03"],
    ["walkforward", "--grid", "threshold=0.02,0.03", "--is-years", "1", "--oos-years", "1"],
], ids=lambda a: a[0])
def test_no_html_skips_the_file(tmp_path, argv):
    out = tmp_path / "out"
    extra = ["--n-boot", "50", "--n-null", "50"] if argv[0] == "study" else []
    _cli(*argv, *extra, "--start", "2005-01-01", "--end", "2007-12-31", "--out", str(out), "--no-pdf", "--no-html")
    assert out.is_dir() and not (out / "report.html").exists()


# -- in a browser ------------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium browser installed (Debian: apt-get install chromium); report.html is not "
                    "checked in a browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        yield _CliBrowser(exe)
        return
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=LAUNCH_ARGS, headless=True)
        try:
            yield _Playwright(b)
        finally:
            b.close()


class _Playwright:
    """Loads a page offline (every request that is not a local file aborted and recorded)."""

    def __init__(self, browser):
        self.browser = browser

    def load(self, path: Path, action=None) -> dict:
        ctx = self.browser.new_context(viewport={"width": 1300, "height": 900}, offline=True)
        page = ctx.new_page()
        errors, outside = [], []
        page.on("console", lambda msg: errors.append(f"{msg.type}: {msg.text}")
                if msg.type not in ("debug", "verbose") else None)  # the pages log nothing, not even plotly
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        def route(r):
            if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()
        page.route("**/*", route)
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.plot-container').length >= "
                               "document.querySelectorAll('div.chart').length", timeout=30000)
        out = {"errors": errors, "outside": outside,
               "plots": page.locator(".plot-container").count(),
               "traces": page.locator(".plot-container .trace, .plot-container .hm").count(),
               "png": page.locator("div.chart").first.screenshot()}
        if action is not None:
            out["action"] = action(page)
        ctx.close()
        return out


class _CliBrowser:
    """Chromium's own headless mode: the DOM after the scripts ran, the console (logged on
    stderr), a screenshot; host names resolve nowhere, so nothing outside loads."""

    def __init__(self, exe):
        self.exe = exe

    def _run(self, path: Path, *args) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory() as profile:
            return subprocess.run([self.exe, *LAUNCH_ARGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                                   "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=15000",
                                   *args, path.as_uri()], capture_output=True, text=True, timeout=180)

    def load(self, path: Path, action=None) -> dict:
        dom = self._run(path, "--dump-dom")
        console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
        with tempfile.TemporaryDirectory() as d:
            shot = Path(d) / "page.png"
            self._run(path, f"--screenshot={shot}", "--window-size=1300,2600")
            png = shot.read_bytes()
        return {"errors": console, "outside": [], "plots": dom.stdout.count('class="plot-container'),
                "traces": len(re.findall(r'class="(?:trace|hm)[ "]', dom.stdout)), "png": png, "action": None}


def _colours(png: bytes) -> tuple[int, float]:
    """(distinct colours, share of pixels that are not white) of a PNG."""
    import numpy as np
    from PIL import Image
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(px, axis=0)), float((px != 255).any(axis=1).mean())


@pytest.mark.parametrize("kind", list(CHARTS))
def test_report_renders_in_a_browser_offline(reports, browser, kind):
    got = browser.load(reports[kind] / "report.html")
    assert got["errors"] == []
    assert got["outside"] == []
    assert got["plots"] == len(CHARTS[kind])
    assert got["traces"] >= len(CHARTS[kind])
    n_colours, inked = _colours(got["png"])
    assert n_colours > 20 and inked > 0.03, (n_colours, inked)


def test_equity_log_toggle(reports, browser):
    if isinstance(browser, _CliBrowser):
        pytest.skip("clicking the chart's buttons needs playwright (pip install playwright)")

    def toggle(page):
        before = page.evaluate("document.getElementById('chart_equity').layout.yaxis.type")
        page.locator("#chart_equity .updatemenu-button", has_text="linear scale").click()
        page.wait_for_function("document.getElementById('chart_equity').layout.yaxis.type === 'linear'")
        return before, page.evaluate("document.getElementById('chart_equity').layout.yaxis.type")

    got = browser.load(reports["run"] / "report.html", action=toggle)
    assert got["action"] == ("log", "linear")


# -- the figures' data, written without plotly's Python objects -----------------------------------
@pytest.mark.parametrize("kw", [dict(rows=2, cols=1, shared_xaxes=True, row_heights=[0.42, 0.58], vertical_spacing=0.07,
                                     subplot_titles=["a", "b"]),
                                dict(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.045,
                                     subplot_titles=["a", "b", "c", "d"]),
                                dict(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.02,
                                     subplot_titles=["m", "y"]),
                                dict(rows=1, cols=3, subplot_titles=["x", "y", "z"], horizontal_spacing=0.06)])
def test_subplots_are_laid_out_as_plotly_lays_them_out(kw):
    from plotly.subplots import make_subplots

    from reports.figspec import Figure
    ours = Figure(**kw).layout
    theirs = make_subplots(**kw).to_plotly_json()["layout"]
    for axis in (k for k in theirs if k.startswith(("xaxis", "yaxis"))):
        for key in ("domain", "anchor", "matches", "showticklabels"):
            if key in theirs[axis]:
                assert ours[axis][key] == pytest.approx(theirs[axis][key]), (axis, key)
    for a, b in zip(ours["annotations"], theirs["annotations"]):
        assert (a["text"], a["x"], a["y"]) == (b["text"], pytest.approx(b["x"]), pytest.approx(b["y"]))


def test_figure_data_is_plain_json():
    import datetime

    import numpy as np
    import pandas as pd

    from reports.figspec import Figure
    fig = Figure()
    fig.add_trace({"type": "scatter", "x": np.array(["2020-01-02", "2020-01-03"], dtype="datetime64[ns]"),
                   "y": np.array([1.5, np.nan]), "text": [float("inf"), np.float64(2.0)]})
    fig.update_layout(title={"text": "t"}, height=300, shapes=[{"x0": pd.Timestamp("2021-05-04"),
                                                                "x1": datetime.date(2021, 6, 1)}])
    fig.update_yaxes(tickformat=None, title={"text": "y"})
    doc = json.loads(fig.to_json())
    assert doc["data"][0]["x"] == ["2020-01-02", "2020-01-03"] and doc["data"][0]["y"] == [1.5, None]
    assert doc["data"][0]["text"] == [None, 2.0]
    assert doc["layout"]["shapes"][0] == {"x0": "2021-05-04", "x1": "2021-06-01"}
    assert doc["layout"]["yaxis"] == {"title": {"text": "y"}} and fig.height == 300
