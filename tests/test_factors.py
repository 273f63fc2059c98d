"""Factor attribution: the installed Fama-French data read right (months, percent -> fractions,
span), a real sample run's loadings equal an independent least-squares fit of the same months,
the t-statistics equal statsmodels' (plain and Newey-West), known loadings are recovered from
returns built out of the factors, and bad input is refused on one line."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rotationlab import factors as F
from rotationlab.errors import UserError


@pytest.fixture(scope="module")
def french():
    return F.load_factors()


def test_the_installed_factor_data(french):
    frame, prov = french
    assert list(frame.columns) == ["mkt_rf", "smb", "hml", "rf"]
    assert isinstance(frame.index, pd.PeriodIndex) and frame.index.freqstr == "M"
    assert (str(frame.index[0]), str(frame.index[-1]), len(frame)) == ("1926-07", "2018-11", 1109)
    # the file's first and last rows, read by hand: 192607,2.96,-2.3,-2.87,0.22 and 201811,1.69,-0.75,0.22,0.18
    path = Path(prov["file"])
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert lines[0] == "Date,Mkt-RF,SMB,HML,RF" and lines[1] == "192607,2.96,-2.3,-2.87,0.22"
    assert frame.iloc[0].tolist() == [2.96 / 100, -2.3 / 100, -2.87 / 100, 0.22 / 100]
    assert frame.loc[pd.Period("2018-11", "M")].tolist() == [1.69 / 100, -0.75 / 100, 0.22 / 100, 0.18 / 100]
    assert prov["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["momentum"] is False and prov["units_read"] == "percent" and prov["units"] == "fraction"
    assert (prov["first_month"], prov["last_month"], prov["months"]) == ("1926-07", "2018-11", 1109)


@pytest.fixture(scope="module")
def sample_run():
    from rotationlab.config import RunConfig
    from rotationlab.engine import run
    return run(RunConfig())


def test_a_real_run_matches_an_independent_fit(french, sample_run):
    import statsmodels.api as sm
    frame, prov = french
    daily = sample_run.equity.pct_change().dropna()
    got = F.factor_attribution(daily, frame, provenance=prov)
    # independently: month-end resampling, the run's first (partial) month and the months after the
    # factor data dropped, then numpy least squares
    monthly = (1.0 + daily).resample("ME").prod() - 1.0
    monthly.index = monthly.index.to_period("M")
    assert daily.index[0].day > 7            # the run starts mid-month: its first month is partial
    monthly = monthly.iloc[1:]
    monthly = monthly[monthly.index <= frame.index[-1]]
    f = frame.loc[monthly.index]
    y = (monthly - f["rf"]).to_numpy()
    X = np.column_stack([np.ones(len(y)), f[["mkt_rf", "smb", "hml"]].to_numpy()])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    assert got["months"] == len(y) == 238 and (got["first_month"], got["last_month"]) == ("1999-02", "2018-11")
    assert abs(got["loadings"]["hml"] - beta[3]) <= 1e-6
    for i, nm in enumerate(["mkt_rf", "smb", "hml"], start=1):
        assert abs(got["loadings"][nm] - beta[i]) <= 1e-12
    assert abs(got["alpha_monthly"] - beta[0]) <= 1e-12 and got["alpha_annual"] == 12 * got["alpha_monthly"]
    plain = sm.OLS(y, X).fit()
    hac = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": got["hac_lags"], "use_correction": True})
    np.testing.assert_allclose([got["alpha_t_ols"], *got["t_ols"].values()], plain.tvalues, rtol=1e-9)
    np.testing.assert_allclose([got["alpha_t"], *got["t"].values()], hac.tvalues, rtol=1e-9)
    assert got["hac_lags"] == 4 == int(np.floor(4 * (238 / 100) ** (2 / 9)))
    assert abs(got["r2"] - plain.rsquared) <= 1e-12 and abs(got["r2_adj"] - plain.rsquared_adj) <= 1e-12
    assert got["dropped"] == {"outside_factor_span": 1, "outside": "2018-12 to 2018-12", "partial_months": ["1999-01"]}
    assert got["factor_span"] == {"first_month": "1926-07", "last_month": "2018-11"}
    assert got["t_default"] == "hac" and "momentum" in got and got["factor_data"]["sha256"] == prov["sha256"]
    table = F.summary_table(got)
    assert list(table.index) == ["alpha (per month)", "market (Mkt-RF)", "size (SMB)", "value (HML)"]
    assert table.loc["value (HML)", "estimate"] == got["loadings"]["hml"]


def _daily_from_monthly(monthly: pd.Series) -> pd.Series:
    """Weekday returns that compound exactly to each month's return."""
    parts = []
    for month, R in monthly.items():
        days = pd.bdate_range(month.to_timestamp(), month.to_timestamp(how="end").normalize())
        parts.append(pd.Series((1.0 + R) ** (1.0 / len(days)) - 1.0, index=days))
    return pd.concat(parts)


LOADINGS = {"mkt_rf": 1.2, "smb": 0.5, "hml": -0.3}


@pytest.mark.parametrize("noise", [0.0, 0.002])
def test_known_loadings_are_recovered(french, noise):
    frame, _ = french
    f = frame.loc["1990-01":"2015-12"]
    rng = np.random.default_rng(3)
    excess = 0.002 + sum(b * f[k] for k, b in LOADINGS.items()) + rng.normal(0, noise, len(f)) * (noise > 0)
    daily = _daily_from_monthly(f["rf"] + excess)
    got = F.factor_attribution(daily, frame)
    assert got["months"] == len(f) == 312 and got["dropped"]["partial_months"] == []
    tol = 1e-9 if noise == 0 else 4 * max(got["se_hac"].values())
    for k, b in LOADINGS.items():
        assert abs(got["loadings"][k] - b) <= tol, (k, got["loadings"][k])
    assert abs(got["alpha_monthly"] - 0.002) <= (1e-9 if noise == 0 else 1e-3)  # its s.e. is about 1.1e-4
    if noise:
        assert got["r2"] > 0.95 and abs(got["t"]["hml"]) > 10


def test_a_factors_csv_with_momentum(tmp_path, french):
    frame, _ = french
    f = frame.loc["2000-01":"2012-12"]
    mom = np.random.default_rng(9).normal(0.005, 0.04, len(f))
    text = "Date,Mkt-RF,SMB,HML,RF,Mom\n" + "".join(
        f"{p.year}{p.month:02d},{r.mkt_rf * 100:.6f},{r.smb * 100:.6f},{r.hml * 100:.6f},{r.rf * 100:.6f},{m * 100:.6f}\n"
        for p, r, m in zip(f.index, f.itertuples(), mom))
    path = tmp_path / "factors.csv"
    path.write_text(text)
    loaded, prov = F.load_factors(path)
    assert list(loaded.columns) == ["mkt_rf", "smb", "hml", "rf", "mom"] and prov["momentum"]
    np.testing.assert_allclose(loaded["mom"].to_numpy(), mom, atol=1e-8)
    excess = 0.9 * loaded["mkt_rf"] + 0.4 * loaded["mom"]
    got = F.factor_attribution(_daily_from_monthly(loaded["rf"] + excess), loaded, provenance=prov)
    assert got["factors"] == ["mkt_rf", "smb", "hml", "mom"] and "momentum" not in got
    assert abs(got["loadings"]["mom"] - 0.4) < 1e-9 and abs(got["loadings"]["mkt_rf"] - 0.9) < 1e-9
    # the same numbers as fractions, ISO months and our own column names
    frac = tmp_path / "frac.csv"
    loaded.assign(month=loaded.index.astype(str)).to_csv(frac, index=False)
    again, _ = F.load_factors(frac, units="fraction")
    pd.testing.assert_frame_equal(again, loaded)


@pytest.mark.parametrize("text, units, needle", [
    ("month,mkt_rf,smb,hml\n2000-01,1,2,3\n", "percent", "no rf column"),
    ("month,mkt_rf,smb,hml,rf\n2000-13,1,2,3,0.1\n", "percent", "months must be real months"),
    ("month,mkt_rf,smb,hml,rf\n2000/01,1,2,3,0.1\n", "percent", "month '2000/01' is not YYYY-MM or YYYYMM"),
    ("month,mkt_rf,smb,hml,rf\n2000-01,x,2,3,0.1\n", "percent", "mkt_rf is missing or not a number in 2000-01"),
    ("month,mkt_rf,smb,hml,rf\n2000-01,1,2,3,0.1\n2000-01,2,2,3,0.1\n", "percent", "appears twice"),
    ("month,mkt_rf,smb,hml,rf\n2000-01,0.01,0,0,0\n2000-02,-0.02,0,0,0\n", "percent", "reads as fractions"),
    ("month,mkt_rf,smb,hml,rf\n2000-01,4,0,0,0\n2000-02,-5,0,0,0\n", "fraction", "reads as percent"),
    ("month,mkt_rf,smb,hml,rf\n2000-01,4,0,0,0\n", "basis points", "use 'percent'"),
])
def test_bad_factor_files_are_one_line(tmp_path, text, units, needle):
    path = tmp_path / "f.csv"
    path.write_text(text)
    with pytest.raises(UserError) as e:
        F.load_factors(path, units=units)
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_partial_months_and_refusals(french):
    frame, _ = french
    days = pd.bdate_range("2010-03-01", "2011-06-15")   # starts on March's first weekday, ends mid-June
    daily = pd.Series(0.0003, index=days)
    monthly, partial = F.monthly_returns(daily)
    assert str(monthly.index[0]) == "2010-03" and partial == ["2011-06"]
    assert monthly.iloc[0] == pytest.approx(1.0003 ** 23 - 1, rel=1e-12)
    with pytest.raises(UserError, match=r"only 0 whole months .* fall inside the factor data \(1926-07 to 2018-11\)"):
        F.factor_attribution(pd.Series(0.001, index=pd.bdate_range("2019-01-01", "2020-12-31")), frame)
    with pytest.raises(UserError, match="hac_lags -1"):
        F.factor_attribution(daily, frame, hac_lags=-1)
    with pytest.raises(UserError, match="look like percent"):
        F.factor_attribution(daily, frame * 100)
    with pytest.raises(UserError, match="DatetimeIndex"):
        F.factor_attribution(pd.Series([0.01, 0.02]), frame)
    with pytest.raises(UserError, match="lack rf"):
        F.factor_attribution(daily, frame.drop(columns="rf"))


# -- the run command: metrics.json, the report page, the options ----------------------------------
@pytest.mark.slow
def test_the_run_command_reports_its_factor_attribution(tmp_path, french):
    import json

    from pypdf import PdfReader

    from rotationlab.cli import main
    out = tmp_path / "run"
    assert main(["run", "--start", "2004-01-01", "--end", "2012-12-31", "--no-stats", "--out", str(out)]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    fa = doc["factors"]
    # independently, from the written equity.csv: month-end values, their changes (January 2004 has
    # no previous month-end: the equity starts at the 2 January close and misses that day's move, so
    # the month is partial), numpy least squares on the installed factors
    eq = pd.read_csv(out / "equity.csv", index_col=0, parse_dates=True).iloc[:, 0]
    frame, _ = french
    monthly = eq.resample("ME").last().pct_change().iloc[1:]
    monthly.index = monthly.index.to_period("M")
    f = frame.loc[monthly.index]
    X = np.column_stack([np.ones(len(f)), f[["mkt_rf", "smb", "hml"]].to_numpy()])
    beta = np.linalg.lstsq(X, (monthly - f["rf"]).to_numpy(), rcond=None)[0]
    assert fa["months"] == len(monthly) and fa["first_month"] == "2004-02" and fa["last_month"] == "2012-12"
    assert fa["dropped"]["partial_months"] == ["2004-01"]
    assert abs(fa["loadings"]["hml"] - beta[3]) <= 1e-6 and abs(fa["loadings"]["smb"] - beta[2]) <= 1e-6
    assert set(fa["compared"]) == {"growth ^IXIC", "benchmark ^GSPC"}
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(out / "report.pdf").pages)
    assert "Factor attribution: dow_nasdaq_divergence" in text and f"{fa['loadings']['hml']:+.3f}" in text
    assert "Ken French data library" in text
    html = (out / "report.html").read_text()
    assert 'id="factor_table"' in html and f"{fa['loadings']['hml']:+.3f}" in html

    # --no-factors: none; --factors CSV: that file, recorded; a bad one: one line before any work
    assert main(["run", "--start", "2004-01-01", "--end", "2012-12-31", "--no-stats", "--no-pdf", "--no-html",
                 "--no-factors", "--out", str(tmp_path / "off")]) == 0
    assert "factors" not in json.loads((tmp_path / "off" / "metrics.json").read_text())
    csv = tmp_path / "ff.csv"
    sub = frame.loc["2000-01":"2015-12"] * 100
    sub.rename(columns={"mkt_rf": "Mkt-RF", "smb": "SMB", "hml": "HML", "rf": "RF"}).rename_axis("month").to_csv(csv)
    assert main(["run", "--start", "2004-01-01", "--end", "2012-12-31", "--no-stats", "--no-pdf", "--no-html",
                 "--factors", str(csv), "--out", str(tmp_path / "csv")]) == 0
    got = json.loads((tmp_path / "csv" / "metrics.json").read_text())["factors"]
    assert got["factor_data"]["file"] == str(csv) and abs(got["loadings"]["hml"] - fa["loadings"]["hml"]) <= 1e-9
    bad = tmp_path / "bad.csv"
    bad.write_text("month,mkt_rf\n2004-01,1\n")
    assert main(["run", "--no-stats", "--factors", str(bad), "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()


def test_factor_settings_from_a_config_file(tmp_path):
    import rotationlab as rl
    cfg = tmp_path / "c.toml"
    cfg.write_text('[factors]\nenabled = false\nhac_lags = 2\n')
    s = rl.settings(cfg)
    assert s.factors.enabled is False and s.factors.hac_lags == 2
    cfg.write_text('[factors]\nunits = "basis points"\n')
    with pytest.raises(UserError, match=r"\[factors\] units 'basis points': use percent or fraction"):
        rl.settings(cfg)


def test_a_month_opened_by_a_holiday_still_counts():
    """Returns from the 31 Dec 2003 close: the first, on Friday 2 January 2004, is January's first
    trading day (the 1st is New Year's Day), so January counts. Labor Day opens September 2008
    (Monday the 1st); Good Friday closes March 2018 (the 30th)."""
    days = pd.bdate_range("2004-01-02", "2004-03-31")
    months, dropped = F.monthly_returns(pd.Series(0.001, index=days))
    assert dropped == [] and [str(m) for m in months.index] == ["2004-01", "2004-02", "2004-03"]
    days = pd.bdate_range("2008-09-02", "2008-10-31")
    assert F.monthly_returns(pd.Series(0.001, index=days))[1] == []
    days = pd.bdate_range("2008-09-03", "2008-10-31")
    assert F.monthly_returns(pd.Series(0.001, index=days))[1] == ["2008-09"]
    days = pd.bdate_range("2009-04-01", "2009-05-29")
    assert F.monthly_returns(pd.Series(0.001, index=days))[1] == []
    # Good Friday, 30 March 2018: March's last trading day is Thursday the 29th
    days = pd.bdate_range("2018-02-01", "2018-03-29")
    assert F.monthly_returns(pd.Series(0.001, index=days))[1] == []
    days = pd.bdate_range("2018-02-01", "2018-03-28")
    assert F.monthly_returns(pd.Series(0.001, index=days))[1] == ["2018-03"]
