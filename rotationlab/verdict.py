"""Plain-language verdicts: the statistics of a study, a run and a sweep read together.

A report can show a bootstrap interval that includes 0 next to a random-date p-value at its
floor, a deflated Sharpe ratio of 0.93 next to a PBO of 0.8. The functions here turn the
statistics dicts into one verdict each, by an explicit decision rule, and say why in one
paragraph. They are pure: dicts in, dicts out. Each verdict carries its rule (``rule``), the
significance level (``alpha``) and the numbers it used.

Decision rules
--------------

Event study (:func:`event_study_verdict`):
    The primary test at each horizon is the circular-shift null: the whole pattern of trigger
    dates moved along history by one random offset, so that the number, spacing and clustering
    of the triggers are kept (two-sided). Its p-values are adjusted for the number of horizons
    tested with Holm's step-down method. A horizon counts as evidence only if (1) its adjusted
    p-value is below alpha, (2) the block-bootstrap confidence interval of the mean excess return
    (rotation minus growth) excludes 0, and (3) it has at least 10 independent events (triggers
    at least the horizon apart); the side of the interval gives the direction. The verdict is
    "evidence of an edge" if some horizon counts as positive evidence and none as negative,
    "evidence against the rule" if some horizon counts as negative evidence and none as
    positive, "inconclusive" if horizons count in both directions or if no horizon has 10
    independent events, and "no evidence of an edge" otherwise. The random-date p-value, which
    ignores the clustering of the triggers, is shown but never decides.

Run (:func:`run_verdict`):
    The primary test is the random-timing null: the rule's rotation episodes, with their number
    and lengths, placed at random dates (one-sided). The run shows an edge only if (1) the
    share of random placements that did at least as well (the p-value) is below alpha and (2),
    when there is a benchmark, the block-bootstrap confidence interval of the mean excess return
    over the benchmark lies above 0. It is evidence against the rule if random placements did
    better (the other tail's p-value below alpha) and, with a benchmark, the interval lies below
    0. With no random-timing test (no rotation episodes) or fewer than 10 rotation episodes the
    verdict is "inconclusive"; otherwise "no evidence of an edge", and when the interval lies
    above 0 but random timing did as well, the verdict says so: the gain comes from what was
    held, not from when the rule switched.

Sweep (:func:`sweep_verdict`):
    The deflated Sharpe ratio (DSR) and the probability of backtest overfitting (PBO) are read
    together, on returns in excess of the benchmark when there is one. "likely overfit" if PBO
    >= 0.5: the combination that is best in sample ranks at or below the median out of sample in
    at least half of the CSCV splits, no better than a random choice; Bailey, Borwein, Lopez de
    Prado & Zhu (2017) define overfitting as exactly this event, so PBO > 0.5 means overfitting
    is more likely than not, and 0.5 is what pure noise gives. Otherwise "selection luck not
    ruled out" if DSR < 0.95: the DSR is the probability that the best combination's true Sharpe
    ratio exceeds the best that as many effectively independent skill-less trials would show by
    luck (Bailey & Lopez de Prado 2014), and 0.95 is the usual one-sided 5% level, the level the
    project uses everywhere else. "robust" only if DSR >= 0.95 and PBO < 0.5. A sweep without
    the statistics (fewer than 2 combinations or too few days) is "not applicable".

P-values at the Monte-Carlo floor
---------------------------------
A Monte-Carlo p-value is at least 1/(1 + draws) (two-sided: 2/(1 + draws)): at that floor it
says only that no draw was as extreme. :func:`format_p` prints it as a bound, e.g. "< 0.001
(1,000 draws)", and every verdict uses it.
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["MIN_INDEPENDENT", "DSR_MIN", "PBO_MAX", "EVENT_RULE", "RUN_RULE", "SWEEP_RULE",
           "format_p", "holm_adjust", "event_study_verdict", "run_verdict", "sweep_verdict"]

#: Fewest independent events (event study) or rotation episodes (run) a verdict rests on.
MIN_INDEPENDENT = 10
#: A sweep is "robust" only with a deflated Sharpe ratio at least this ...
DSR_MIN = 0.95
#: ... and a probability of backtest overfitting below this.
PBO_MAX = 0.5

EDGE, NO_EDGE, AGAINST, INCONCLUSIVE = ("evidence of an edge", "no evidence of an edge",
                                        "evidence against the rule", "inconclusive")
ROBUST, OVERFIT, LUCK, NOT_APPLICABLE = ("robust", "likely overfit", "selection luck not ruled out",
                                         "not applicable")


def _days(n) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _rule(section: str) -> str:
    """The decision rule of one section of the module docstring, as one line."""
    text = __doc__.split(section + "\n", 1)[1].split("\n\n", 1)[0]
    return " ".join(text.split())


EVENT_RULE = _rule("Event study (:func:`event_study_verdict`):")
RUN_RULE = _rule("Run (:func:`run_verdict`):")
SWEEP_RULE = _rule("Sweep (:func:`sweep_verdict`):")


# --------------------------------------------------------------------------------------
# formatting and multiple testing
# --------------------------------------------------------------------------------------

def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float, np.floating, np.integer)) and math.isfinite(float(x))


def format_p(p, n_draws: int | None = None, *, two_sided: bool = False) -> str:
    """A p-value for a reader: ``"0.034"``, ``"0.00042"``, or at the Monte-Carlo floor
    1/(1 + n_draws) (2/(1 + n_draws) if ``two_sided``) a bound with the number of draws:
    ``"< 0.001 (1,000 draws)"``. The bound is the floor rounded up to one significant digit
    (``"<="`` when that equals the floor). ``None``/NaN give ``"n/a"``; without ``n_draws`` the
    value is printed as it is (e.g. an adjusted p-value)."""
    if not _finite(p):
        return "n/a"
    p = float(p)
    if n_draws:
        floor = (2.0 if two_sided else 1.0) / (1.0 + int(n_draws))
        if p <= floor * (1 + 1e-9):
            exp = math.floor(math.log10(floor))
            bound = math.ceil(floor / 10 ** exp * (1 - 1e-12)) * 10 ** exp
            sign = "<" if bound > floor * (1 + 1e-12) else "<="
            digits = max(0, -math.floor(math.log10(bound) + 1e-9))
            return f"{sign} {bound:.{digits}f} ({int(n_draws):,} draws)"
    if p >= 0.001:
        return f"{p:.3f}"
    return f"{p:.2g}"


def holm_adjust(pvalues) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values: with the m p-values sorted ascending,
    ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``, returned in the input order. A
    hypothesis is rejected at level alpha when its adjusted p-value is below alpha; the
    family-wise error rate is at most alpha for any dependence between the tests. NaNs stay NaN
    and do not count in m."""
    p = np.asarray(pvalues, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adj)
    return out


def _pct(x) -> str:
    return "n/a" if not _finite(x) else f"{float(x):+.2%}"


def _ci_side(low, high) -> str | None:
    """``"above"`` (low > 0), ``"below"`` (high < 0), ``"includes"`` 0, or None if unknown."""
    if not (_finite(low) and _finite(high)):
        return None
    return "above" if low > 0 else "below" if high < 0 else "includes"


def _horizons(hs) -> str:
    hs = [str(h) for h in hs]
    return (", ".join(hs[:-1]) + " and " + hs[-1] if len(hs) > 1 else "".join(hs)) + " day" + \
        ("s" if len(hs) > 1 or hs != ["1"] else "")


# --------------------------------------------------------------------------------------
# event study
# --------------------------------------------------------------------------------------

def event_study_verdict(results: dict, *, n_null: int, alpha: float = 0.05, leg: str = "rotation_minus_growth",
                        min_independent: int = MIN_INDEPENDENT) -> dict:
    """Verdict of an event study (rule: ``EVENT_RULE``, in the module docstring).

    ``results``: ``summary["results"]`` of :func:`rotationlab.study.event_study` (keys
    ``<leg>_<h>d`` with ``mean``, ``ci_low``, ``ci_high``, ``n_events``, ``n_independent``,
    ``p_value_two_sided`` (random dates), ``p_value_two_sided_cluster`` (circular shift));
    ``n_null``: the draws of both nulls (``summary["n_null"]``); ``alpha``: the level, also the
    one of the confidence intervals (``summary["alpha"]``). The horizons of ``leg`` are judged.

    Returns ``{"verdict", "sentence", "by_horizon": [one dict per horizon: horizon_days,
    n_events, n_independent, mean, ci_low, ci_high, ci_side ("above"/"below"/"includes" 0),
    p_shifted, p_adjusted, p_random_dates (+ their "_text" forms), enough_events,
    counts_as ("positive"/"negative"/None), status], "rule", "alpha", "n_horizons_tested",
    "adjustment"}``.
    """
    pattern = re.compile(rf"^{re.escape(leg)}_(\d+)d$")
    rows = sorted(((int(m.group(1)), r) for k, r in results.items() if (m := pattern.match(k))),
                  key=lambda x: x[0])
    tested = [(h, r) for h, r in rows if "mean" in r and _finite(r.get("p_value_two_sided_cluster"))]
    adjusted = dict(zip([h for h, _ in tested],
                        map(float, holm_adjust([r["p_value_two_sided_cluster"] for _, r in tested]))))
    conf = f"{1 - alpha:.0%}"
    by = []
    for h, r in rows:
        e = {"horizon_days": h, "n_events": int(r.get("n_events", 0)), "n_independent": r.get("n_independent"),
             "mean": r.get("mean"), "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high"),
             "ci_side": _ci_side(r.get("ci_low"), r.get("ci_high")),
             "p_shifted": r.get("p_value_two_sided_cluster"), "p_adjusted": adjusted.get(h),
             "p_random_dates": r.get("p_value_two_sided"), "counts_as": None}
        e["p_shifted_text"] = format_p(e["p_shifted"], n_null, two_sided=True)
        e["p_adjusted_text"] = format_p(e["p_adjusted"])
        e["p_random_dates_text"] = format_p(e["p_random_dates"], n_null, two_sided=True)
        e["enough_events"] = e["n_independent"] is not None and e["n_independent"] >= min_independent
        if h not in adjusted:
            e["status"] = f"too few events to test ({e['n_events']})"
        elif not e["enough_events"]:
            e["status"] = f"too few independent events ({e['n_independent']} < {min_independent})"
        elif not e["p_adjusted"] < alpha:
            e["status"] = f"not significant (adjusted p {e['p_adjusted_text']})"
        elif e["ci_side"] not in ("above", "below"):
            e["status"] = f"adjusted p {e['p_adjusted_text']} < {alpha:g}, but the {conf} CI includes 0: not counted"
        else:
            e["counts_as"] = "positive" if e["ci_side"] == "above" else "negative"
            e["status"] = EDGE if e["counts_as"] == "positive" else AGAINST
        by.append(e)

    pos = [e for e in by if e["counts_as"] == "positive"]
    neg = [e for e in by if e["counts_as"] == "negative"]
    enough = [e for e in by if e["enough_events"] and e["p_adjusted"] is not None]
    if pos and neg:
        verdict = INCONCLUSIVE
    elif pos:
        verdict = EDGE
    elif neg:
        verdict = AGAINST
    elif not enough:
        verdict = INCONCLUSIVE
    else:
        verdict = NO_EDGE

    m = len(tested)
    holm = f"Holm-adjusted over {m} horizon{'s' if m != 1 else ''}"

    def describe(e) -> str:
        return (f"{_days(e['horizon_days'])}: mean {_pct(e['mean'])} ({conf} CI {_pct(e['ci_low'])} to "
                f"{_pct(e['ci_high'])}, {e['n_independent']} independent of {e['n_events']} events), "
                f"p {e['p_shifted_text']} against shifted trigger dates ({holm}: {e['p_adjusted_text']})")

    what = leg.replace("_", " ")
    if verdict in (EDGE, AGAINST):
        hits = pos or neg
        text = (f"{verdict.capitalize()}: after the triggers, {what} was "
                f"{'higher' if verdict == EDGE else 'lower'} than when the same trigger pattern is "
                f"shifted to other dates, at {describe(hits[0])}")
        if len(hits) > 1:
            text += "; also at " + ", ".join(f"{_days(e['horizon_days'])}" for e in hits[1:])
        text += "."
    elif verdict == INCONCLUSIVE and pos and neg:
        text = (f"Inconclusive: {what} after the triggers was significantly higher at "
                f"{_horizons([e['horizon_days'] for e in pos])} but lower at "
                f"{_horizons([e['horizon_days'] for e in neg])}.")
    elif verdict == INCONCLUSIVE:
        most = max((e for e in by if e["n_independent"] is not None), key=lambda e: e["n_independent"], default=None)
        text = (f"Inconclusive: no horizon has {min_independent} independent events (triggers at least the "
                f"horizon apart)" + (f"; the most is {most['n_independent']}, at {_days(most['horizon_days'])}"
                                     if most else "") + ": too few to tell an edge from luck.")
    else:
        closest = min(enough, key=lambda e: e["p_adjusted"])
        text = (f"No evidence of an edge: at no horizon tested ({_horizons([h for h, _ in tested])}) is {what} "
                f"after the triggers both distinguishable from the same trigger pattern shifted to other dates "
                f"({holm}, alpha {alpha:g}) and backed by a {conf} confidence interval that excludes 0. "
                f"Closest: {describe(closest)}.")
    naive = [e for e in by if _finite(e["p_random_dates"]) and e["p_random_dates"] < alpha and e["counts_as"] is None]
    if naive:
        low = min(naive, key=lambda e: e["p_random_dates"])
        text += (f" Drawing as many random dates would give p {low['p_random_dates_text']} at "
                 f"{_days(low['horizon_days'])}, but random dates ignore that the triggers come in clusters, "
                 "which makes their outcomes far from independent; that p-value does not decide.")
    thin = [e for e in by if not e["enough_events"] and e["p_adjusted"] is not None]
    if thin and verdict != INCONCLUSIVE:
        text += (f" Too few independent events to count at {_horizons([e['horizon_days'] for e in thin])}.")
    return {"verdict": verdict, "sentence": text, "by_horizon": by, "rule": EVENT_RULE, "alpha": float(alpha),
            "n_horizons_tested": m, "adjustment": "Holm step-down over the horizons tested",
            "min_independent": int(min_independent)}


# --------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------

def run_verdict(statistics: dict, *, alpha: float | None = None, min_episodes: int = MIN_INDEPENDENT) -> dict:
    """Verdict of a run's "more than luck?" statistics (rule: ``RUN_RULE``).

    ``statistics``: the dict of :func:`rotationlab.runstats.run_statistics` (``cagr``,
    ``sharpe``, optional ``excess_return`` bootstrap intervals with ``estimate``/``low``/``high``,
    and ``random_timing`` (None, or ``p_value_greater``, ``p_value_less``, ``n_draws``,
    ``n_episodes``)); ``alpha`` defaults to ``statistics["alpha"]`` (else 0.05).

    Returns ``{"verdict", "sentence", "rule", "alpha", "p_random_timing", "p_random_timing_text",
    "n_episodes", "excess_return", "excess_ci_side"}``.
    """
    alpha = float(statistics.get("alpha", 0.05) if alpha is None else alpha)
    conf = f"{1 - alpha:.0%}"
    rt = statistics.get("random_timing")
    ex = statistics.get("excess_return")
    side = _ci_side(ex.get("low"), ex.get("high")) if ex else None
    exc = (f"the excess return over the benchmark was {_pct(ex.get('estimate'))} a year ({conf} CI "
           f"{_pct(ex.get('low'))} to {_pct(ex.get('high'))})") if ex else None
    out = {"rule": RUN_RULE, "alpha": alpha, "p_random_timing": None, "p_random_timing_text": "n/a",
           "n_episodes": None, "excess_return": ex.get("estimate") if ex else None, "excess_ci_side": side}
    if not rt:
        text = "Inconclusive: the rule has no rotation episodes, so there is no random-timing test"
        return {**out, "verdict": INCONCLUSIVE, "sentence": text + (f"; {exc}." if exc else ".")}
    n_draws = rt.get("n_draws")
    pg, pl = rt.get("p_value_greater"), rt.get("p_value_less")
    k = int(rt.get("n_episodes") or 0)
    ptext = format_p(pg, n_draws)
    out.update(p_random_timing=pg, p_random_timing_text=ptext, n_episodes=k)
    same = f"the same {k} rotation{'s' if k != 1 else ''} placed at random dates"
    if k < min_episodes:
        text = (f"Inconclusive: only {k} rotation episode{'s' if k != 1 else ''}, fewer than {min_episodes}: too few "
                f"decisions to tell timing from luck ({same} did at least as well with p {ptext})")
        return {**out, "verdict": INCONCLUSIVE, "sentence": text + (f"; {exc}." if exc else ".")}
    good = _finite(pg) and pg < alpha
    bad = _finite(pl) and pl < alpha
    beat = f"the rule's timing beat {same} (p {ptext})"
    where = {"above": ", above 0", "includes": ", which includes 0", "below": ", below 0"}.get(side, "")
    excess = f"{exc}{where}" if exc else None
    if good and (ex is None or side == "above"):
        verdict = EDGE
        text = f"Evidence of an edge: {beat}" + (f", and {excess}." if excess else ".")
    elif bad and (ex is None or side == "below"):
        verdict = AGAINST
        text = (f"Evidence against the rule: {same} did better than the rule (p {format_p(pl, n_draws)})"
                + (f", and {excess}." if excess else "."))
    else:
        verdict = NO_EDGE
        if good:
            text = f"No evidence of an edge: {beat}, but {excess}" + (
                "." if side == "includes" else ": it still lost to the benchmark.")
        elif side == "above":
            text = (f"No evidence of an edge from timing: {excess}, but {same} did as well (p {ptext}): "
                    "the gain comes from holding the rotation basket for as long as the rule did, not from "
                    "when it switched.")
        else:
            text = f"No evidence of an edge: {same} did at least as well as the rule (p {ptext})" + (
                f", and {excess}." if excess else ".")
    return {**out, "verdict": verdict, "sentence": text}


# --------------------------------------------------------------------------------------
# sweep
# --------------------------------------------------------------------------------------

def sweep_verdict(overfitting: dict, *, dsr_min: float = DSR_MIN, pbo_max: float = PBO_MAX) -> dict:
    """Verdict of a sweep's overfitting statistics (rule: ``SWEEP_RULE``).

    ``overfitting``: the dict of :func:`rotationlab.overfit.overfitting` (``applicable``,
    ``deflated_sharpe_ratio``, ``pbo``, ``best``, ``best_sharpe_annual``,
    ``expected_max_sharpe_annual``, ``n_trials``, ``n_trials_effective``, ``pbo_combinations``,
    ``basis``). Returns ``{"verdict": "robust" | "likely overfit" | "selection luck not ruled
    out" | "not applicable", "sentence", "rule", "dsr", "pbo", "dsr_min", "pbo_max", "basis"}``.
    """
    o = overfitting
    out = {"rule": SWEEP_RULE, "dsr_min": float(dsr_min), "pbo_max": float(pbo_max), "basis": o.get("basis"),
           "dsr": o.get("deflated_sharpe_ratio"), "pbo": o.get("pbo")}
    if not o.get("applicable"):
        return {**out, "verdict": NOT_APPLICABLE, "sentence": f"No verdict: {o.get('reason', 'no statistics')}."}
    dsr, pbo = o["deflated_sharpe_ratio"], o["pbo"]
    on = " (returns in excess of the benchmark)" if str(o.get("basis", "")).startswith("daily returns in excess") else ""
    splits = f"{o.get('pbo_combinations', 0):,} CSCV splits"
    luck = (f"the best combination{on}, {o.get('best')}, has a Sharpe ratio of {o['best_sharpe_annual']:.2f} a year "
            f"against {o['expected_max_sharpe_annual']:.2f} expected from the best of "
            f"{o['n_trials_effective']:.1f} effectively independent skill-less trials")
    dsr_text = "n/a" if not _finite(dsr) else f"{dsr:.3f}"
    if _finite(pbo) and pbo >= pbo_max:
        verdict = OVERFIT
        text = (f"Likely overfit: the combination best in sample ranks at or below the median out of sample in "
                f"{pbo:.0%} of the {splits} (PBO {pbo:.3f} >= {pbo_max:g}), so choosing by backtest did no better "
                f"than a random choice; deflated Sharpe ratio {dsr_text}.")
    elif not (_finite(dsr) and dsr >= dsr_min):
        verdict = LUCK
        text = (f"Selection luck not ruled out: {luck}, a deflated Sharpe ratio of {dsr_text} (< {dsr_min:g}); "
                f"PBO {pbo:.3f} (< {pbo_max:g}): the in-sample best does tend to stay in the top half out of sample.")
    else:
        verdict = ROBUST
        text = (f"Robust: {luck}, a deflated Sharpe ratio of {dsr_text} (>= {dsr_min:g}), and the combination best "
                f"in sample ranks above the median out of sample in {1 - pbo:.0%} of the {splits} "
                f"(PBO {pbo:.3f} < {pbo_max:g}).")
    return {**out, "verdict": verdict, "sentence": text}
