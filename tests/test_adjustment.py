"""Declared adjustment kinds reach every output: a run mixing total-return ETFs with a price
index warns in one line (stdout/stderr, metrics.json, manifest, PDF cover), and
--strict-adjustment makes it an error."""

from __future__ import annotations

import json

from conftest import ROOT, SHARED_MARKET, needs_shared

from rotationlab.cli import main

ETF = ["--source", "csv", "--data-dir", str(SHARED_MARKET), "-p", "dow_symbol=DIA", "-p", "nasdaq_symbol=QQQ",
       "-p", "growth_symbols=QQQ", "-p", "rotation_symbols=DIA,IWM", "--start", "2015-01-01", "--end", "2016-12-31"]
DECLARED = ["--adjustment", "DIA=total_return,QQQ=total_return,IWM=total_return"]


@needs_shared
def test_total_return_legs_against_a_price_index_warn_once_everywhere(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", *ETF, *DECLARED, "--benchmark", "^GSPC", "--no-html", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("warning:") and "price index" in ln]
    assert len(lines) == 1 and "total return" in lines[0] and "^GSPC" in lines[0]
    meta = json.loads((out / "metrics.json").read_text())["run"]
    assert any("price index" in w for w in meta["warnings"])
    man = json.loads((out / "manifest.json").read_text())
    assert any("price index" in w for w in man["data"]["warnings"])
    from pypdf import PdfReader
    cover = " ".join(PdfReader(out / "report.pdf").pages[0].extract_text().split())
    assert "price index" in cover


@needs_shared
def test_strict_adjustment_is_a_one_line_error(tmp_path, capsys):
    rc = main(["run", *ETF, *DECLARED, "--benchmark", "^GSPC", "--strict-adjustment", "--out", str(tmp_path / "r")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--strict-adjustment" in err and "price index" in err
    assert not (tmp_path / "r").exists()  # refused before anything was written


@needs_shared
def test_matching_kinds_do_not_warn_and_configs_declare_theirs(tmp_path, capsys):
    assert main(["run", "--config", str(ROOT / "configs" / "divergence_etf.toml"), "--data-dir", str(SHARED_MARKET),
                 "--start", "2019-01-01", "--no-pdf", "--no-html", "--out", str(tmp_path / "r")]) == 0
    assert "price index" not in capsys.readouterr().err
    meta = json.loads((tmp_path / "r" / "metrics.json").read_text())["run"]
    assert meta["provenance"]["adjustment"] == {"DIA": "total_return", "QQQ": "total_return",
                                                "IWM": "total_return", "SPY": "total_return"}


def test_the_sample_is_price_indices_and_does_not_warn(tmp_path, capsys):
    assert main(["run", "--start", "2017-01-01", "--no-pdf", "--no-html", "--out", str(tmp_path / "r")]) == 0
    assert "adjustment" not in capsys.readouterr().err
