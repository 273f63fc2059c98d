"""Factor attribution: a run's monthly excess returns regressed on the Fama-French factors.

    factors, prov = load_factors()                 # arch.data.frenchdata, or load_factors("factors.csv")
    out = factor_attribution(result.equity.pct_change().dropna(), factors)
    out["loadings"]["hml"], out["t"]["hml"], out["alpha_annual"], out["r2"], out["months"]

The model, by ordinary least squares over calendar months::

    r_t - rf_t = alpha + b_mkt (Mkt - RF)_t + b_smb SMB_t + b_hml HML_t [+ b_mom MOM_t] + e_t

* ``r_t``: the run's return over calendar month t, compounded from its daily returns
  (``prod(1 + r_d) - 1``). A month counts only when the daily returns cover it: the first month
  when its first return falls on the month's first trading weekday (that return runs from the
  previous month's last close), the last month when its last return falls on the month's last
  trading weekday (weekdays less the US exchange holidays that can open or close a month: New
  Year's Day, Good Friday, Memorial Day, Labor Day).
  Other first/last months are partial and dropped (listed in ``dropped``), as are months outside
  the factor data's span (counted, with the span).
* ``rf_t``: the factor data's risk-free rate (one-month T-bill); the excess return is over it.
* Momentum enters when the factor data have a ``mom`` column (the installed data set does not).
* t-statistics: ``t`` (the default) uses Newey-West HAC standard errors (Bartlett kernel,
  ``hac_lags`` lags, default ``floor(4 (n/100)^(2/9))``, small-sample factor n / (n - k): the
  same as statsmodels' ``OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": L,
  "use_correction": True})``), which allow for the serial correlation and changing variance of
  monthly strategy returns;
  ``t_ols`` uses the plain OLS standard errors (``s^2 (X'X)^-1``).
* ``alpha_monthly`` is the intercept (a fraction per month); ``alpha_annual`` is 12 times it
  (the regression is additive in monthly returns). ``r2`` and ``r2_adj`` as usual.

Factor data (:func:`load_factors`):

* default: ``arch.data.frenchdata`` (installed with arch): Ken French's monthly US factors
  ``Mkt-RF, SMB, HML, RF`` from 1926-07 to 2018-11, in percent per month; read from the
  package's own ``frenchdata.csv.gz`` (its ``load()`` misreads the YYYYMM dates under pandas 3)
  and converted to fractions. No momentum. Nothing is downloaded.
* a CSV file (``factors.csv``): a month column ``month`` (or ``date``/``Date``) as ``YYYY-MM``
  or ``YYYYMM``; columns ``mkt_rf``, ``smb``, ``hml``, ``rf`` and optionally ``mom`` (Ken
  French's names ``Mkt-RF``, ``SMB``, ``HML``, ``RF``, ``Mom``/``UMD``/``WML`` also work);
  ``units="percent"`` (Ken French's files, the default) or ``"fraction"``: checked against the
  market factor's spread (monthly excess returns vary by about 5 % a month: a spread below 0.5
  read as percent is refused as fractions, and the other way round).
"""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from rotationlab.errors import DataError, UserError

FACTORS = ("mkt_rf", "smb", "hml")
OPTIONAL = ("mom",)
NAMES = {"mkt_rf": "market (Mkt-RF)", "smb": "size (SMB)", "hml": "value (HML)", "mom": "momentum (MOM)"}
_ALIASES = {"mkt-rf": "mkt_rf", "mkt_rf": "mkt_rf", "mktrf": "mkt_rf", "smb": "smb", "hml": "hml", "rf": "rf",
            "mom": "mom", "umd": "mom", "wml": "mom", "month": "month", "date": "month"}
#: Monthly market excess returns have a standard deviation of about 4-5 % (0.045 as a fraction).
_UNIT_SPLIT = 0.5
MIN_MONTHS = 12


# -- factor data -----------------------------------------------------------------------------------
def _months(values, where: str) -> pd.PeriodIndex:
    text = pd.Series(values).astype(str).str.strip()
    compact = text.str.fullmatch(r"\d{6}")
    iso = text.str.fullmatch(r"\d{4}-\d{2}(-\d{2})?")
    bad = ~(compact | iso)
    if bad.any():
        raise DataError(f"{where}: month {text[bad].iloc[0]!r} is not YYYY-MM or YYYYMM (e.g. 2005-01)")
    norm = np.where(compact, text.str[:4] + "-" + text.str[4:6], text.str[:7])
    try:
        return pd.PeriodIndex(norm, freq="M", name="month")
    except (ValueError, TypeError):
        raise DataError(f"{where}: months must be real months (YYYY-MM), e.g. 2005-01") from None


def _frame(raw: pd.DataFrame, where: str, units: str) -> pd.DataFrame:
    if units not in ("percent", "fraction"):
        raise UserError(f"factor units {units!r}: use 'percent' (Ken French's files) or 'fraction'")
    cols = {}
    for c in raw.columns:
        key = _ALIASES.get(str(c).strip().lower())
        if key is not None:
            if key in cols:
                raise DataError(f"{where}: two columns for {key} ({cols[key]!r}, {c!r}); keep one")
            cols[key] = c
    missing = [c for c in ("month", *FACTORS, "rf") if c not in cols]
    if missing:
        raise DataError(f"{where}: no {', '.join(missing)} column; need month, mkt_rf, smb, hml, rf "
                        "(optionally mom), e.g. a Ken French monthly file")
    keep = [c for c in (*FACTORS, "rf", *OPTIONAL) if c in cols]
    frame = pd.DataFrame({k: pd.to_numeric(raw[cols[k]], errors="coerce").to_numpy(dtype="float64") for k in keep},
                         index=_months(raw[cols["month"]], where))
    if frame.isna().any().any():
        col = frame.columns[frame.isna().any()][0]
        at = frame.index[frame[col].isna()][0]
        raise DataError(f"{where}: {col} is missing or not a number in {at}; fill or remove that month")
    if frame.index.has_duplicates:
        raise DataError(f"{where}: month {frame.index[frame.index.duplicated()][0]} appears twice; keep one row")
    frame = frame.sort_index()
    spread = float(frame["mkt_rf"].std())
    if units == "percent" and spread < _UNIT_SPLIT:
        raise DataError(f"{where}: the market factor varies by {spread:.3f} a month, which reads as fractions, not "
                        "percent; pass units='fraction'")
    if units == "fraction" and spread >= _UNIT_SPLIT:
        raise DataError(f"{where}: the market factor varies by {spread:.2f} a month, which reads as percent; pass "
                        "units='percent'")
    return frame / 100.0 if units == "percent" else frame


def load_factors(path=None, *, units: str = "percent") -> tuple[pd.DataFrame, dict]:
    """``(factors, provenance)``: monthly factors as fractions on a monthly PeriodIndex
    (columns mkt_rf, smb, hml, rf[, mom]) and where they came from (source, sha256, span,
    units as read). ``path`` None: the installed ``arch.data.frenchdata``; else a CSV file."""
    if path is None:
        from rotationlab.provenance import package_file, package_version
        try:
            file = package_file("arch", "data", "frenchdata", "frenchdata.csv.gz")
        except ModuleNotFoundError:
            raise UserError("the default factor data need the 'arch' package: pip install arch "
                            "(or give a factors CSV)") from None
        data = file.read_bytes()
        where = f"arch.data.frenchdata (arch {package_version('arch')})"
        raw = pd.read_csv(io.BytesIO(data), compression="gzip", dtype=str)
        units = "percent"
    else:
        file = Path(path)
        if not file.is_file():
            raise UserError(f"factor file {file} not found; give a CSV with month, mkt_rf, smb, hml, rf columns")
        data = file.read_bytes()
        where = str(file)
        try:
            raw = pd.read_csv(io.BytesIO(data), dtype=str, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"{file}: not a readable CSV ({' '.join(str(exc).split())})") from None
    frame = _frame(raw, where, units)
    prov = {"source": where, "file": str(file), "sha256": hashlib.sha256(data).hexdigest(),
            "frequency": "monthly", "units_read": units, "units": "fraction", "columns": list(frame.columns),
            "momentum": "mom" in frame, "first_month": str(frame.index[0]), "last_month": str(frame.index[-1]),
            "months": len(frame)}
    if path is None:
        prov["description"] = ("Ken French data library, US research factors (Mkt-RF, SMB, HML, RF), monthly, "
                               "as shipped by arch")
    return frame, prov


def check_factors(factors: pd.DataFrame) -> pd.DataFrame:
    """``factors`` (fractions) on a monthly PeriodIndex, or UserError naming the problem."""
    if not isinstance(factors, pd.DataFrame):
        raise UserError("factors must be a DataFrame with columns mkt_rf, smb, hml, rf (see load_factors)")
    missing = [c for c in (*FACTORS, "rf") if c not in factors]
    if missing:
        raise UserError(f"the factors lack {', '.join(missing)}; columns mkt_rf, smb, hml, rf (fractions) are needed")
    idx = factors.index
    if isinstance(idx, pd.DatetimeIndex):
        idx = idx.to_period("M")
    if not isinstance(idx, pd.PeriodIndex):
        raise UserError("the factors need a monthly PeriodIndex or DatetimeIndex (see load_factors)")
    out = factors.loc[:, [c for c in (*FACTORS, "rf", *OPTIONAL) if c in factors]].astype("float64")
    out.index = pd.PeriodIndex(idx.asfreq("M"), name="month")
    if out.index.has_duplicates:
        raise UserError(f"the factors hold month {out.index[out.index.duplicated()][0]} twice")
    if out.isna().any().any():
        raise UserError("the factors hold missing values; drop those months first")
    if float(out["mkt_rf"].std()) >= _UNIT_SPLIT:
        raise UserError("the factors look like percent; divide them by 100 (load_factors does)")
    return out.sort_index()


# -- the run's months ------------------------------------------------------------------------------
def _closed(day: pd.Timestamp) -> bool:
    """US exchange holidays that can fall on a month's first or last weekday: New Year's Day (and
    Monday 2 January when the 1st is a Sunday), Good Friday, Memorial Day (last Monday of May),
    Labor Day (first Monday of September)."""
    from dateutil.easter import easter
    m, d, wd = day.month, day.day, day.weekday()
    if m == 1 and (d == 1 or (d == 2 and wd == 0)):
        return True
    if m == 5 and wd == 0 and d > 24:
        return True
    if m == 9 and wd == 0 and d <= 7:
        return True
    return day.date() == easter(day.year) - pd.Timedelta(days=2).to_pytimedelta()


def _trading_day(day: pd.Timestamp, step: int) -> pd.Timestamp:
    """``day``, or the next (step +1) / previous (-1) weekday that is not a :func:`_closed` holiday."""
    while day.weekday() >= 5 or _closed(day):
        day = day + pd.Timedelta(days=step)
    return day


def monthly_returns(daily_returns: pd.Series) -> tuple[pd.Series, list[str]]:
    """``(returns by calendar month, partial months dropped)``, compounded from daily returns
    (see the module docstring for which first/last months count)."""
    r = pd.Series(daily_returns, dtype="float64").dropna()
    if not isinstance(r.index, pd.DatetimeIndex):
        raise UserError("daily_returns needs a DatetimeIndex (e.g. result.equity.pct_change().dropna())")
    if not len(r):
        raise UserError("no daily returns to attribute")
    months = r.index.to_period("M")
    growth = (1.0 + r).groupby(months).prod() - 1.0
    growth.index = pd.PeriodIndex(growth.index, freq="M", name="month")
    dropped = []
    first, last = r.index[0], r.index[-1]
    first_weekday = _trading_day(first.to_period("M").to_timestamp() + pd.offsets.BDay(0), +1)
    last_weekday = _trading_day(last.to_period("M").to_timestamp() + pd.offsets.BMonthEnd(0), -1)
    if first.normalize() > first_weekday:
        dropped.append(str(growth.index[0]))
    if last.normalize() < last_weekday and str(growth.index[-1]) not in dropped:
        dropped.append(str(growth.index[-1]))
    return growth.drop(pd.PeriodIndex(dropped, freq="M")), dropped


# -- the regression ------------------------------------------------------------------------------
def default_lags(n: int) -> int:
    """Newey-West's rule of thumb, ``floor(4 (n / 100) ^ (2/9))``."""
    return int(math.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def ols(y: np.ndarray, X: np.ndarray, hac_lags: int) -> dict:
    """Coefficients, plain and Newey-West standard errors, residuals and R² of ``y`` on ``X``."""
    n, k = X.shape
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    xtx_inv = np.linalg.inv(X.T @ X)
    s2 = float(resid @ resid) / (n - k)
    se_ols = np.sqrt(np.diag(xtx_inv) * s2)
    xu = X * resid[:, None]
    S = xu.T @ xu
    for lag in range(1, hac_lags + 1):
        w = 1.0 - lag / (hac_lags + 1.0)
        G = xu[lag:].T @ xu[:-lag]
        S += w * (G + G.T)
    cov_hac = xtx_inv @ S @ xtx_inv * (n / (n - k))
    se_hac = np.sqrt(np.diag(cov_hac))
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / tss if tss > 0 else float("nan")
    return {"beta": beta, "se_ols": se_ols, "se_hac": se_hac, "resid": resid, "r2": r2,
            "r2_adj": 1.0 - (1.0 - r2) * (n - 1) / (n - k)}


def factor_attribution(daily_returns: pd.Series, factors: pd.DataFrame | None = None, *,
                       hac_lags: int | None = None, provenance: dict | None = None) -> dict:
    """Loadings, t-statistics (``t``: Newey-West HAC, the default; ``t_ols``: plain OLS),
    alpha (monthly and annual), R² and the months used of ``daily_returns`` regressed on
    ``factors`` (default: :func:`load_factors`); JSON-ready. See the module docstring."""
    if factors is None:
        factors, provenance = load_factors()
    factors = check_factors(factors)
    monthly, partial = monthly_returns(daily_returns)
    span = (factors.index[0], factors.index[-1])
    inside = monthly.index[(monthly.index >= span[0]) & (monthly.index <= span[1])]
    outside = monthly.index.difference(inside)
    names = [*FACTORS, *[c for c in OPTIONAL if c in factors]]
    n, k = len(inside), len(names) + 1
    if n < max(MIN_MONTHS, k + 2):
        have = f"{monthly.index[0]} to {monthly.index[-1]}" if len(monthly) else "none"
        raise UserError(f"only {n} whole months of the run ({have}) fall inside the factor data ({span[0]} to "
                        f"{span[1]}); at least {max(MIN_MONTHS, k + 2)} are needed: run over a longer period or give "
                        "factor data that cover it")
    f = factors.loc[inside]
    y = (monthly.loc[inside] - f["rf"]).to_numpy()
    X = np.column_stack([np.ones(n), f[names].to_numpy()])
    lags = default_lags(n) if hac_lags is None else int(hac_lags)
    if lags < 0 or lags >= n:
        raise UserError(f"hac_lags {hac_lags!r}: must be a whole number from 0 to {n - 1} (months)")
    fit = ols(y, X, lags)
    b, se_o, se_h = fit["beta"], fit["se_ols"], fit["se_hac"]

    def by_name(values):
        return {nm: float(v) for nm, v in zip(names, values[1:])}

    with np.errstate(divide="ignore", invalid="ignore"):
        t_ols, t_hac = b / se_o, b / se_h
    out = {
        "model": "monthly excess return = alpha + " + " + ".join(f"b_{nm} {nm}" for nm in names) + " + e (OLS)",
        "factors": names,
        "loadings": by_name(b), "t": by_name(t_hac), "t_ols": by_name(t_ols),
        "se_hac": by_name(se_h), "se_ols": by_name(se_o),
        "alpha_monthly": float(b[0]), "alpha_annual": 12.0 * float(b[0]),
        "alpha_t": float(t_hac[0]), "alpha_t_ols": float(t_ols[0]),
        "r2": fit["r2"], "r2_adj": fit["r2_adj"],
        "months": n, "first_month": str(inside[0]), "last_month": str(inside[-1]),
        "t_default": "hac",
        "hac": f"Newey-West (Bartlett kernel), {lags} lags, small-sample factor n/(n-k)",
        "hac_lags": lags,
        "excess_over": "the factor data's risk-free rate (rf)",
        "factor_span": {"first_month": str(span[0]), "last_month": str(span[1])},
        "dropped": {"outside_factor_span": len(outside),
                    "outside": f"{outside[0]} to {outside[-1]}" if len(outside) else None,
                    "partial_months": partial},
        "factor_data": dict(provenance) if provenance else {"source": "given DataFrame"},
    }
    if "mom" not in factors:
        out["momentum"] = "not in the factor data: the model has market, size and value only"
    return out


def summary_table(attribution: dict) -> pd.DataFrame:
    """One row per term (alpha first): loading, t (HAC), t (OLS), for a report page."""
    a = attribution
    rows = [{"term": "alpha (per month)", "estimate": a["alpha_monthly"], "t (Newey-West)": a["alpha_t"],
             "t (OLS)": a["alpha_t_ols"]}]
    for nm in a["factors"]:
        rows.append({"term": NAMES.get(nm, nm), "estimate": a["loadings"][nm], "t (Newey-West)": a["t"][nm],
                     "t (OLS)": a["t_ols"][nm]})
    return pd.DataFrame(rows).set_index("term")


# -- a run's attribution -------------------------------------------------------------------------
def run_attribution(result, file=None, *, units: str = "percent", hac_lags: int | None = None,
                    required: bool = False, loaded: tuple | None = None) -> dict:
    """The factor attribution of a run (``metrics.json["factors"]``): the rule's monthly excess
    returns on the factors (the keys of :func:`factor_attribution`), and beside it, in
    ``compared``, the same regression of holding the growth basket and of the benchmark, so a
    rotation's loadings read against what it rotates out of.

    ``file``: a factors CSV (default: the installed data set). When the run has too few whole
    months inside the factor data, the result is ``{"skipped": reason}`` unless ``required``
    (a factor file was asked for), when the UserError is raised. ``loaded``: ``(factors,
    provenance)`` already read by :func:`load_factors`."""
    from rotationlab.metrics import benchmark_returns, growth_returns, strategy_returns
    try:
        factors, prov = loaded or load_factors(file, units=units)
        out = factor_attribution(strategy_returns(result), factors, hac_lags=hac_lags, provenance=prov)
    except UserError as exc:
        if required:
            raise
        return {"skipped": str(exc)}
    out["series"] = "the rule's daily equity, compounded to calendar months"
    compared = {}
    baskets = getattr(result, "baskets", None) or {}
    for label, series in ((("growth " + "+".join(baskets.get("growth") or ())).strip(), growth_returns(result)),
                          (f"benchmark {result.config.get('benchmark') or ''}".strip(), benchmark_returns(result))):
        if series is None or not series.dropna().size:
            continue
        try:
            a = factor_attribution(series.dropna(), factors, hac_lags=out["hac_lags"], provenance=prov)
        except UserError as exc:
            compared[label] = {"skipped": str(exc)}
            continue
        compared[label] = {k: a[k] for k in ("loadings", "t", "alpha_monthly", "alpha_annual", "alpha_t", "r2",
                                             "months", "first_month", "last_month")}
    out["compared"] = compared
    return out


def headline(attribution: dict) -> str:
    """One line: the loadings with their t-statistics, alpha, and the growth leg's value loading."""
    a = attribution
    short = {"mkt_rf": "market", "smb": "size", "hml": "value", "mom": "momentum"}
    terms = ", ".join(f"{short.get(nm, nm)} {a['loadings'][nm]:+.2f} (t {a['t'][nm]:.1f})" for nm in a["factors"])
    line = (f"factor loadings ({a['first_month']} to {a['last_month']}, {a['months']} months): {terms}; "
            f"alpha {a['alpha_annual'] * 100:+.2f} %/yr (t {a['alpha_t']:.1f})")
    for label, other in (a.get("compared") or {}).items():
        if label.startswith("growth") and "loadings" in other:
            line += f"; holding {label[len('growth '):] or 'growth'}: value {other['loadings']['hml']:+.2f}"
    return line
