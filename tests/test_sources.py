"""Several sources in one run and proxy splicing: each symbol from its own source, a proxy's
history scaled onto a target's first close (values exact on both sides of the splice date), the
provenance of both parts, the adjustment mix flagged, and one-line errors for bad specs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_MARKET, make_bars, needs_shared

from data_feeds import (MixedSource, get_source, parse_sources, parse_splice, splice, splice_warnings)
from rotationlab.errors import DataError, UserError

CUT = "2023-01-03"  # IWM from here on: the shared ^RUT (2021-06-25 on) is then the longer series


@pytest.fixture(scope="module")
def late_iwm(tmp_path_factory):
    """A folder with IWM.csv holding the shared file's rows from CUT on (bytes of those lines)."""
    folder = tmp_path_factory.mktemp("late")
    lines = (SHARED_MARKET / "IWM.csv").read_text().splitlines(keepends=True)
    keep = [lines[0]] + [ln for ln in lines[1:] if ln[:10] >= CUT]
    (folder / "IWM.csv").write_text("".join(keep))
    return folder


def _mixed(late_iwm, **extra):
    return get_source("sample", sources={"IWM": f"csv:{late_iwm}", "^RUT": f"csv:{SHARED_MARKET}"},
                      splice={"IWM": "^RUT"}, **extra)


@needs_shared
def test_sample_and_two_csv_folders_with_a_splice_exact_on_both_sides(late_iwm):
    src = _mixed(late_iwm)
    assert isinstance(src, MixedSource)
    bars = src.load_many(["^DJI", "^IXIC", "IWM"])
    assert bars["^DJI"].meta.source == "sample" and bars["^IXIC"].meta.source == "sample"
    iwm = bars["IWM"]
    # the parts, loaded on their own
    target = get_source("csv", data_dir=late_iwm).load("IWM")
    proxy = get_source("csv", data_dir=SHARED_MARKET).load("^RUT")
    assert target.meta.first_date == CUT and proxy.meta.first_date == "2021-06-25"
    d = pd.Timestamp(CUT)
    factor = target.frame.at[d, "close"] / proxy.frame.at[d, "close"]
    sp = iwm.meta.splice
    assert sp.date == CUT and sp.factor_date == CUT and sp.factor == factor
    before, after = iwm.frame.loc[iwm.frame.index < d], iwm.frame.loc[d:]
    want_before = proxy.frame.loc[proxy.frame.index < d]
    assert before.index.equals(want_before.index) and sp.proxy_rows == len(before) > 300
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(before[col].to_numpy(), want_before[col].to_numpy() * factor)
    np.testing.assert_array_equal(before["volume"].to_numpy(), want_before["volume"].to_numpy())
    pd.testing.assert_frame_equal(after, target.frame)  # the target's own bars, bit for bit
    # proxy and target agree at the splice: the first spliced return is the proxy's own return
    c = iwm.frame["close"]
    assert c.loc[d] == target.frame["close"].iloc[0]
    assert np.isclose(c.iloc[sp.proxy_rows - 1], proxy.frame["close"].loc[:d].iloc[-2] * factor, rtol=0, atol=0)


@needs_shared
def test_the_provenance_lists_both_sources_the_splice_date_and_hashes(late_iwm):
    iwm = _mixed(late_iwm).load("IWM")
    m = iwm.meta
    d = json.loads(json.dumps(m.to_dict()))  # JSON-ready
    assert d["source"] == "splice" and d["first_date"] == "2021-06-25"
    part_t, part_p = d["splice"]["target"], d["splice"]["proxy"]
    assert (part_t["symbol"], part_t["source"], part_t["origin"]) == ("IWM", "csv", str((late_iwm / "IWM.csv").resolve()))
    assert (part_p["symbol"], part_p["source"]) == ("^RUT", "csv")
    assert part_p["origin"] == str((SHARED_MARKET / "^RUT.csv").resolve())
    assert part_t["sha256"] == get_source("csv", data_dir=late_iwm).load("IWM").meta.sha256
    assert part_p["sha256"] == get_source("csv", data_dir=SHARED_MARKET).load("^RUT").meta.sha256
    assert part_t["sha256"] != part_p["sha256"] != d["sha256"]
    assert CUT in m.origin and "^RUT" in m.origin
    assert any(n.startswith(f"spliced: before {CUT} ^RUT (csv:") for n in m.notes)
    # a window keeps the record; the metadata of the window are recomputed
    w = iwm.between("2022-01-03", "2023-06-30")
    assert w.meta.splice == m.splice and w.meta.first_date == "2022-01-03" and w.meta.rows < m.rows


@needs_shared
def test_a_total_return_etf_on_a_price_index_is_flagged(late_iwm):
    iwm = _mixed(late_iwm, adjustments={"IWM": "total_return"}).load("IWM")
    m = iwm.meta
    assert m.adjustment == "total_return"  # the target's kind, what the run trades from the splice on
    assert m.splice.target.adjustment == "total_return" and m.splice.proxy.adjustment == "price"
    note = m.splice.adjustment_note
    assert note == (f"IWM spliced onto ^RUT: IWM is total return (dividends included) from {CUT}, ^RUT before it is "
                    f"a price index (no dividends): returns before {CUT} miss the dividend yield, about 1.5-2 %/yr "
                    "for US stocks")
    assert note in m.notes
    assert splice_warnings({"IWM": iwm, "^DJI": get_source("sample").load("^DJI")}) == [note]
    same = splice(make_bars("B", [2.0, 2.2, 2.4], start="2020-01-06"), make_bars("A", [1.0, 1.1, 1.2, 1.3]))
    assert same.meta.splice.adjustment_note is None and same.meta.adjustment == "price"


def test_splice_of_hand_made_series():
    proxy = make_bars("P", [10.0, 11.0, 12.0, 12.5, 13.0], start="2020-01-01")     # Wed Jan 1 ..
    target = make_bars("T", [30.0, 31.0, 33.0], start="2020-01-03")                 # from the 3rd bar
    s = splice(target, proxy)
    assert s.meta.splice.factor == 30.0 / 12.0
    assert s.frame["close"].tolist() == [10.0 * 2.5, 11.0 * 2.5, 30.0, 31.0, 33.0]
    assert s.frame["open"].iloc[:2].tolist() == (proxy.frame["open"].iloc[:2] * 2.5).tolist()
    assert s.meta.rows == 5 and s.meta.first_date == "2020-01-01" and s.meta.splice.proxy_rows == 2
    # the target starts on a date the proxy lacks: the factor comes from the first common date
    holes = make_bars("P", [10.0, 11.0, 12.0, 12.5, 13.0], start="2020-01-01")
    holes = type(holes).build(holes.frame.drop(pd.Timestamp("2020-01-03")), source="test", symbol="P",
                              adjustment="price", close_only=False)
    s2 = splice(target, holes)
    assert s2.meta.splice.factor_date == "2020-01-06" and s2.meta.splice.factor == 31.0 / 12.5
    assert s2.frame.loc["2020-01-03", "close"] == 30.0


@pytest.mark.parametrize("target, proxy, needle", [
    (make_bars("T", [1.0, 2.0], start="2020-01-01"), make_bars("P", [1.0, 2.0], start="2020-01-01"),
     "P starts 2020-01-01, not before T (2020-01-01): nothing to splice; drop T=P from --splice"),
    (make_bars("T", [1.0, 2.0], start="2021-01-01"), make_bars("P", [1.0, 2.0], start="2020-01-01"),
     "share no date to scale the proxy on"),
    (make_bars("T", [1.0, 2.0], start="2021-01-01"), make_bars("T", [1.0, 2.0], start="2020-01-01"),
     "cannot splice T onto itself"),
])
def test_splice_refusals_are_one_line(target, proxy, needle):
    with pytest.raises(UserError) as e:
        splice(target, proxy)
    assert needle in str(e.value) and "\n" not in str(e.value)


@needs_shared
def test_shared_rut_is_shorter_than_iwm_so_the_splice_is_refused():
    src = get_source("csv", data_dir=SHARED_MARKET, splice="IWM=^RUT")
    with pytest.raises(DataError, match=r"\^RUT starts 2021-06-25, not before IWM \(2000-05-26\)"):
        src.load("IWM")


def test_sources_grammar(tmp_path):
    assert parse_sources(f"^DJI=sample, IWM=csv:{tmp_path},SPY=yahoo,QQQ=yahoo:split_only,X=csv") == {
        "^DJI": "sample", "IWM": f"csv:{tmp_path}", "SPY": "yahoo", "QQQ": "yahoo:split_only", "X": "csv"}
    assert parse_sources({"^DJI": "sample", "IWM": f" csv : {tmp_path} "}) == {"^DJI": "sample", "IWM": f"csv:{tmp_path}"}
    assert parse_sources(["^DJI=sample", "SPY=yahoo"]) == {"^DJI": "sample", "SPY": "yahoo"}
    assert parse_sources(None) == {} and parse_sources("") == {}
    assert parse_splice("IWM=^RUT, QQQ=^IXIC") == {"IWM": "^RUT", "QQQ": "^IXIC"}
    assert parse_splice({"IWM": "^RUT"}) == {"IWM": "^RUT"} and parse_splice(["IWM=^RUT", "DIA=^DJI"]) == {
        "IWM": "^RUT", "DIA": "^DJI"}


@pytest.mark.parametrize("spec, needle", [
    ("IWM", "--sources 'IWM': use SYMBOL=SOURCE"),
    ("=sample", "use SYMBOL=SOURCE"),
    ("IWM=csvv", "unknown data source 'csvv' (did you mean 'csv'?); choose one of: csv, sample, yahoo"),
    ("IWM=mixed", "unknown data source 'mixed'"),
    ("IWM=", "give a source"),
    ("IWM=sample:x", "the sample source takes no argument"),
    ("IWM=csv:", "nothing after 'csv:'"),
    ("IWM=csv:/no/such/folder", "/no/such/folder is not a folder"),
    ("IWM=yahoo:dividends", "unknown Yahoo mode 'dividends'"),
    ("../x=sample", "'../x' is not a ticker"),
    ("IWM=sample,IWM=yahoo", "IWM is given two sources (sample, yahoo); keep one"),
])
def test_bad_sources_are_one_line(spec, needle):
    with pytest.raises(UserError) as e:
        parse_sources(spec)
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize("spec, needle", [
    ("IWM", "--splice 'IWM': use TARGET=PROXY"),
    ("IWM=", "use TARGET=PROXY"),
    ("IWM=IWM", "a symbol cannot be its own proxy"),
    ("IWM=^RUT,IWM=VTI", "IWM is spliced onto both ^RUT and VTI; keep one"),
    ("IWM=^RUT,^RUT=VTI", "make a chain; splice IWM onto the longest series directly (IWM=VTI)"),
    ("IWM=/etc/passwd", "'/etc/passwd' is not a ticker"),
])
def test_bad_splices_are_one_line(spec, needle):
    with pytest.raises(UserError) as e:
        parse_splice(spec)
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_mixed_source_options_and_refusals(tmp_path):
    with pytest.raises(UserError, match="unknown default data source 'csvv'"):
        get_source("mixed", default="csvv")
    with pytest.raises(UserError, match="unknown data source 'yahooo'"):
        get_source("mixed", default="sample", sources="SPY=yahooo")
    src = get_source("mixed", default="csv", data_dir=tmp_path, sources="^DJI=sample")
    assert src.plan(["^DJI", "SPY"]) == {"^DJI": {"source": "sample"}, "SPY": {"source": "csv"}}
    assert src.load("^DJI", "2000-01-03", "2000-01-31").meta.source == "sample"
    with pytest.raises(UserError, match="unknown symbol 'SPY'"):
        src.load("SPY")  # from the default csv folder, which has no SPY.csv
    # no entries: the plain source
    assert type(get_source("sample", sources={}, splice="")).__name__ == "SampleSource"


@needs_shared
def test_a_run_on_a_spliced_series(late_iwm):
    """The engines take spliced bars like any others: the run starts on the proxy's history."""
    from rotationlab import fast
    from rotationlab.config import Execution, RunConfig
    from rotationlab.engine import run
    bars = _mixed(late_iwm).load_many(["IWM"])
    bars["SPY"] = get_source("csv", data_dir=SHARED_MARKET).load("SPY")
    cfg = RunConfig(strategy="golden_cross_timing", params={"symbol": "IWM", "fast_days": 20, "slow_days": 50},
                    benchmark="SPY", execution=Execution(commission_bps=0.0, slippage_bps=0.0, cash_buffer=0.0))
    res = run(cfg, data=bars)
    assert res.provenance["symbols"]["IWM"]["splice"]["date"] == CUT
    assert res.equity.index[0] < pd.Timestamp(CUT)  # traded on the proxy's part
    fr = fast.run_fast(fast.prepare(cfg, bars), [{}])
    assert fast.equity_difference(fr.equity[0], res.equity.to_numpy()) <= 1e-6


@needs_shared
def test_a_run_mixing_the_sample_and_a_csv_folder_lists_each_source(tmp_path):
    import json

    from rotationlab.cli import main
    out = tmp_path / "run"
    rc = main(["run", "--symbol-source", f"IWM=csv:{SHARED_MARKET}", "-p", "rotation_symbols=^DJI,IWM",
               "--start", "2003-01-01", "--no-pdf", "--no-html", "--out", str(out)])
    assert rc == 0
    syms = json.loads((out / "manifest.json").read_text())["data"]["symbols"]
    assert {s: m["source"] for s, m in syms.items()} == {"^DJI": "sample", "^IXIC": "sample", "^GSPC": "sample",
                                                          "IWM": "csv"}
    assert syms["IWM"]["origin"].endswith("IWM.csv")


@needs_shared
def test_a_run_with_a_spliced_proxy_records_the_splice_in_its_provenance(tmp_path):
    """IWM (here cut to start in 2023, so that the shared ^RUT, which starts in 2021, is the
    longer history; the shared ^RUT is shorter than the real IWM) spliced to ^RUT, beside the
    shared ^DJI/^IXIC: the run works and its provenance names both parts, their sources and the
    splice date and factor."""
    import json

    import pandas as pd

    from rotationlab.cli import main
    folder = tmp_path / "cut"
    folder.mkdir()
    iwm = pd.read_csv(SHARED_MARKET / "IWM.csv")
    iwm[iwm["date"] >= "2023-01-03"].to_csv(folder / "IWM.csv", index=False)
    out = tmp_path / "run"
    rc = main(["run", "--source", "csv", "--data-dir", str(SHARED_MARKET), "--symbol-source", f"IWM=csv:{folder}",
               "--splice", "IWM=^RUT", "-p", "rotation_symbols=^DJI,IWM", "--benchmark", "none", "--no-pdf",
               "--no-html", "--out", str(out)])
    assert rc == 0
    man = json.loads((out / "manifest.json").read_text())
    syms = man["data"]["symbols"]
    sp = syms["IWM"]["splice"]
    assert syms["IWM"]["source"] == "splice" and sp["date"] == "2023-01-03" and sp["factor"] > 0
    assert sp["proxy"]["symbol"] == "^RUT" and sp["proxy"]["source"] == "csv"
    assert sp["target"]["source"] == "csv" and str(folder) in sp["target"]["origin"]
    assert man["data"]["period"]["trade_from"] < "2023-01-03"  # the proxy's history is traded
