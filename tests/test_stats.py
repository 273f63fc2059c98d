"""Tests of rotationlab.stats: literature examples, calibration (coverage, p-value
uniformity, PBO under noise), power (planted edges) and determinism.

Monte-Carlo checks use fixed seeds and bands of about 3-4 binomial standard errors, so
they are deterministic and fail only if the method is off, not by chance.
"""

from __future__ import annotations

import math
from itertools import combinations

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from hypothesis.extra.numpy import arrays
from scipy import stats as sps
from scipy.signal import lfilter

from rotationlab import stats as st

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ar1(rng: np.random.Generator, n: int, phi: float, mu: float = 0.0) -> np.ndarray:
    """Stationary-ish AR(1) with unit innovations (200-step burn-in)."""
    e = rng.normal(size=n + 200)
    return mu + lfilter([1.0], [1.0, -phi], e)[200:]


def binomial_band(n: int, p: float, z: float = 3.5) -> tuple[float, float]:
    sd = math.sqrt(p * (1 - p) / n)
    return p - z * sd, p + z * sd


# ------------------------------------------------------------------------------------
# helpers vs empyrical
# ------------------------------------------------------------------------------------

returns_arrays = arrays(
    np.float64, hst.integers(2, 300),
    elements=hst.one_of(hst.floats(-0.5, 0.5, allow_nan=False), hst.just(np.nan)),
).filter(lambda a: np.isfinite(a).sum() >= 2)


@FAST
@given(returns_arrays, hst.sampled_from([1, 12, 52, 252]))
def test_sharpe_and_cagr_match_empyrical(r, periods):
    np.testing.assert_allclose(st.sharpe(r, periods=periods),
                               empyrical.sharpe_ratio(r, annualization=periods),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(st.cagr(r, periods=periods),
                               empyrical.cagr(r, annualization=periods), rtol=1e-9, atol=1e-12)


def test_sharpe_and_cagr_frames_and_edge_cases():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(0.001, 0.01, size=(500, 3)), columns=list("abc"))
    pd.testing.assert_series_equal(st.sharpe(df), pd.Series(empyrical.sharpe_ratio(df),
                                   index=df.columns, name="sharpe"))
    np.testing.assert_allclose(st.cagr(df).to_numpy(), empyrical.cagr(df).to_numpy())
    assert math.isnan(st.sharpe(np.array([0.01])))
    assert st.sharpe(np.full(10, 0.01)) == math.inf
    assert math.isnan(st.cagr(np.array([])))
    # 10% a day for one 252-day year: CAGR = 1.1**252 - 1
    assert st.cagr(np.full(252, 0.1)) == pytest.approx(1.1 ** 252 - 1)


# ------------------------------------------------------------------------------------
# block bootstrap
# ------------------------------------------------------------------------------------

def test_bootstrap_ci_coverage_iid():
    """90% percentile CI of the mean of iid normal series covers the true mean at ~90%."""
    rng = np.random.default_rng(1)
    reps, hits = 200, 0
    for i in range(reps):
        x = rng.normal(0.3, 1.0, size=250)
        r = st.block_bootstrap_ci(x, np.mean, n_boot=199, alpha=0.10, seed=i)
        hits += r["low"] <= 0.3 <= r["high"]
    lo, hi = binomial_band(reps, 0.90)
    # -0.02: percentile CIs run a bit short in finite samples (0.875 with seed 1)
    assert lo - 0.02 <= hits / reps <= hi, hits / reps


def test_bootstrap_ci_coverage_ar1_needs_blocks():
    """AR(1), phi=0.5: the automatic block length keeps coverage near nominal, while an
    iid resample (block_length=1) under-covers badly (true variance of the mean is
    (1+phi)/(1-phi) = 3 times the iid one: coverage about 2*Phi(1.645/sqrt(3))-1 = 0.66)."""
    rng = np.random.default_rng(2)
    reps, hits_auto, hits_iid, blocks = 150, 0, 0, []
    for i in range(reps):
        x = ar1(rng, 400, 0.5, mu=1.0)
        auto = st.block_bootstrap_ci(x, np.mean, n_boot=199, alpha=0.10, seed=i)
        iid = st.block_bootstrap_ci(x, np.mean, n_boot=199, alpha=0.10, seed=i, block_length=1)
        hits_auto += auto["low"] <= 1.0 <= auto["high"]
        hits_iid += iid["low"] <= 1.0 <= iid["high"]
        blocks.append(auto["block_length"])
    # block bootstraps under-cover somewhat at strong dependence and n=400 (Lahiri 2003);
    # with seed 2: 0.85 (auto, median block ~7.6) vs 0.64 (iid)
    assert 0.78 <= hits_auto / reps <= 0.97, hits_auto / reps
    assert hits_iid / reps <= 0.76, hits_iid / reps
    assert np.median(blocks) > 3


def test_bootstrap_resamples_rows_jointly():
    """A strategy = benchmark + 2bp/day: excess return is constant, so a joint (paired)
    row resample gives a degenerate CI at exactly 2bp; independent column resampling
    would not."""
    rng = np.random.default_rng(3)
    bench = pd.Series(rng.normal(0.0004, 0.012, 800), index=pd.bdate_range("2018-01-01", periods=800))
    df = pd.DataFrame({"strategy": bench + 0.0002, "benchmark": bench})
    r = st.block_bootstrap_ci(df, lambda d: (d["strategy"] - d["benchmark"]).mean(),
                              n_boot=200, seed=0, block_length=5)
    assert r["estimate"] == pytest.approx(0.0002)
    assert r["low"] == pytest.approx(0.0002, abs=1e-15)
    assert r["high"] == pytest.approx(0.0002, abs=1e-15)
    # and a statistic of one column still varies
    r2 = st.block_bootstrap_ci(df, lambda d: st.cagr(d["strategy"]), n_boot=200, seed=0)
    assert r2["low"] < r2["estimate"] < r2["high"]
    assert set(r2) >= {"estimate", "low", "high", "block_length", "n_boot", "method"}


def test_bootstrap_planted_edge_and_nan_rows():
    rng = np.random.default_rng(4)
    x = rng.normal(0.002, 0.01, 1000)
    x[::97] = np.nan
    r = st.block_bootstrap_ci(x, np.mean, n_boot=300, seed=1)
    assert r["n_obs"] == 1000 - len(x[::97])
    assert r["low"] > 0  # true mean 0.002, se ~0.0003


@pytest.mark.parametrize("block", [1.0, 3.4, 21.0, 250.0])
def test_resamples_are_arch_s_draw_for_draw(block):
    """The resamples are arch.bootstrap.StationaryBootstrap's for the same seed, index for index
    (this module draws them itself: importing arch costs a second)."""
    from arch.bootstrap import StationaryBootstrap
    x = np.random.default_rng(3).standard_normal(3000)
    bs = StationaryBootstrap(block, x, seed=np.random.default_rng(7))
    mine = np.random.default_rng(7)
    for _ in bs.bootstrap(5):
        np.testing.assert_array_equal(st.stationary_bootstrap_indices(len(x), block, mine), bs.index)


def test_block_length_and_intervals_are_arch_s():
    from arch.bootstrap import StationaryBootstrap, optimal_block_length
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.standard_normal(3000)) * 0.01
    for x in (walk, np.diff(walk), rng.standard_normal(500), ar1(rng, 800, 0.6)):
        assert st.optimal_block_length(x) == optimal_block_length(x)["stationary"].iloc[0]
    r = np.diff(walk) + rng.normal(0.0003, 0.01, len(walk) - 1)
    pair = np.column_stack([r, rng.normal(0.0002, 0.01, len(r))])
    for data, fn in ((r, st.cagr), (pair, lambda d: (d[:, 0] - d[:, 1]).mean())):
        for method in ("percentile", "basic", "norm"):
            mine = st.block_bootstrap_ci(data, fn, n_boot=300, seed=5, method=method, alpha=0.1)
            bs = StationaryBootstrap(mine["block_length"], data, seed=np.random.default_rng(5))
            ci = bs.conf_int(lambda d: np.atleast_1d(fn(d)), reps=300, method=method, size=0.9)
            assert (mine["low"], mine["high"]) == (ci[0, 0], ci[1, 0]), method
    with pytest.raises(ValueError, match="percentile, basic or norm"):
        st.block_bootstrap_ci(r, np.mean, seed=0, method="bca")


def test_bootstrap_deterministic():
    x = np.random.default_rng(5).normal(size=400)
    a = st.block_bootstrap_ci(x, np.median, n_boot=200, seed=7)
    b = st.block_bootstrap_ci(x, np.median, n_boot=200, seed=7)
    c = st.block_bootstrap_ci(x, np.median, n_boot=200, seed=8)
    assert a == b
    assert (a["low"], a["high"]) != (c["low"], c["high"])
    g1 = st.block_bootstrap_ci(x, np.mean, n_boot=100, seed=np.random.default_rng(9))
    g2 = st.block_bootstrap_ci(x, np.mean, n_boot=100, seed=np.random.default_rng(9))
    assert g1 == g2


def test_mean_ci_event_study_min_block():
    rng = np.random.default_rng(6)
    # 20-day forward returns of daily events overlap: outcome_i = sum of 20 daily shocks
    daily = rng.normal(0.0, 0.01, 400)
    fwd = np.convolve(daily, np.ones(20), mode="valid")
    r = st.mean_ci_block_bootstrap(fwd, n_boot=300, seed=0, min_block_length=20)
    assert r["block_length"] >= 20
    assert r["low"] < 0 < r["high"]
    assert st.mean_ci_block_bootstrap(fwd, n_boot=300, seed=0, min_block_length=20) == r
    with pytest.raises(ValueError):
        st.block_bootstrap_ci(fwd, np.mean, seed=0, alpha=1.5)


# ------------------------------------------------------------------------------------
# random-date null
# ------------------------------------------------------------------------------------

def _days(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2010-01-01", periods=n)


def test_random_date_null_finds_planted_edge():
    rng = np.random.default_rng(10)
    values = pd.Series(rng.normal(0, 0.02, 1500), index=_days(1500))
    events = values.index[rng.choice(1500, 30, replace=False)]
    values.loc[events] += 0.015  # the signal days have a +1.5% forward-return edge
    r = st.random_date_null(values, event_dates=events, n_draws=999, seed=1)
    assert r["p_value_greater"] < 0.01
    assert r["p_value_two_sided"] < 0.02
    assert r["p_value_less"] > 0.9
    assert r["observed"] > r["null_quantiles"][0.975]
    assert r["n_events"] == 30 and r["n_eligible"] == 1500


def test_random_date_null_uniform_under_noise():
    rng = np.random.default_rng(11)
    pvals = []
    for i in range(200):
        values = pd.Series(rng.standard_t(4, 600), index=_days(600))
        events = values.index[rng.choice(600, 15, replace=False)]
        pvals.append(st.random_date_null(values, event_dates=events, n_draws=199,
                                         seed=i)["p_value_greater"])
    pvals = np.array(pvals)
    assert sps.kstest(pvals, "uniform").pvalue > 0.01
    lo, hi = binomial_band(200, 0.05)
    assert lo <= np.mean(pvals <= 0.05) <= hi


def test_random_date_null_band_nan_and_determinism():
    rng = np.random.default_rng(12)
    values = pd.Series(rng.normal(size=1000), index=_days(1000))
    values.iloc[-20:] = np.nan  # forward window runs past the data
    events = list(values.index[[5, 50, 500, 990]])  # the last one is not eligible
    r = st.random_date_null(values, event_dates=events, n_draws=4000, seed=3)
    assert r["n_events"] == 3 and r["n_events_dropped"] == 1 and r["n_eligible"] == 980
    assert r["observed"] == pytest.approx(values.iloc[[5, 50, 500]].mean())
    # mean of 3 draws without replacement from ~N(0,1): sd ~ 1/sqrt(3)
    assert r["null_std"] == pytest.approx(1 / math.sqrt(3), rel=0.1)
    q = r["null_quantiles"]
    assert q[0.025] < q[0.05] < q[0.5] < q[0.95] < q[0.975]
    assert (r["null_low"], r["null_high"]) == (q[0.025], q[0.975])
    narrow = st.random_date_null(values, event_dates=events, n_draws=4000, seed=3, band_alpha=0.10)
    assert (narrow["null_low"], narrow["null_high"]) == (q[0.05], q[0.95])
    assert r == st.random_date_null(values, event_dates=events, n_draws=4000, seed=3)
    assert r != st.random_date_null(values, event_dates=events, n_draws=4000, seed=4)
    # generic stat path and explicit observed
    g = st.random_date_null(values, 3, observed=0.0, n_draws=500, seed=3,
                            stat=lambda v: float(np.max(v)), return_null=True)
    assert g["null"].shape == (500,)
    assert 1 / 501 <= g["p_value"] <= 1
    with pytest.raises(ValueError, match="not in values_by_date"):
        st.random_date_null(values, event_dates=[pd.Timestamp("1990-01-01")], seed=0)
    with pytest.raises(ValueError, match="observed"):
        st.random_date_null(values, 3, seed=0)


def test_p_value_convention():
    """(1 + count) / (1 + n): an observed value above every draw gets 1/(n+1), not 0."""
    values = pd.Series(np.arange(100.0), index=_days(100))
    r = st.random_date_null(values, 1, observed=1000.0, n_draws=99, seed=0)
    assert r["p_value_greater"] == pytest.approx(1 / 100)
    assert r["p_value_less"] == 1.0
    assert r["p_value_two_sided"] == pytest.approx(2 / 100)


# ------------------------------------------------------------------------------------
# random-timing null
# ------------------------------------------------------------------------------------

@FAST
@given(hst.lists(hst.integers(1, 15), min_size=1, max_size=6), hst.integers(0, 3),
       hst.integers(0, 40), hst.integers(0, 2**31))
def test_random_episode_starts_valid(lengths, min_gap, slack, seed):
    n_days = sum(lengths) + min_gap * (len(lengths) - 1) + slack
    starts, lens = st.random_episode_starts(n_days, lengths, n_draws=20, seed=seed, min_gap=min_gap)
    for s, ln in zip(starts, lens):
        assert sorted(ln) == sorted(lengths)
        assert s[0] >= 0 and s[-1] + ln[-1] <= n_days
        assert np.all(np.diff(s) >= ln[:-1] + min_gap)  # ordered, non-overlapping, gapped


def test_random_episode_starts_uniform():
    """Two episodes of lengths 1 and 2 on 6 days, min_gap=1: count every valid layout
    by brute force; each must be equally likely (chi-square)."""
    valid = [(a, b) for a in range(6) for b in range(5)
             if (a + 1 + 1 <= b or b + 2 + 1 <= a)]
    starts, lens = st.random_episode_starts(6, [1, 2], n_draws=6000, seed=0, min_gap=1)
    layouts = [(dict(zip(ln, s))[1], dict(zip(ln, s))[2]) for s, ln in zip(starts, lens)]
    counts = pd.Series(layouts).value_counts()
    assert set(counts.index) == set(valid)
    assert sps.chisquare(counts.to_numpy()).pvalue > 0.001
    # a crowded calendar (the dense sampling branch): 5 one-day episodes on 6 days,
    # min_gap 0 -> the 6 choices of the free day, equally likely
    starts, _ = st.random_episode_starts(6, [1] * 5, n_draws=3000, seed=1, min_gap=0)
    counts = pd.Series([tuple(sorted(s)) for s in starts]).value_counts()
    assert len(counts) == 6 and sps.chisquare(counts.to_numpy()).pvalue > 0.001
    with pytest.raises(ValueError, match="do not fit"):
        st.random_episode_starts(4, [2, 2], n_draws=1, seed=0, min_gap=1)


@FAST
@given(hst.lists(hst.booleans(), max_size=60))
def test_episodes_from_mask_roundtrip(mask):
    eps = st.episodes_from_mask(mask)
    rebuilt = np.zeros(len(mask), dtype=bool)
    for s, ln in eps:
        assert ln >= 1
        rebuilt[s:s + ln] = True
    assert rebuilt.tolist() == list(mask)


def _legs(rng, n=1500):
    idx = _days(n)
    growth = pd.Series(rng.normal(0.0005, 0.012, n), index=idx)
    rotated = pd.Series(rng.normal(0.0003, 0.009, n), index=idx)
    return rotated, growth


def test_random_timing_null_finds_planted_timing():
    rng = np.random.default_rng(20)
    rotated, growth = _legs(rng)
    episodes = [(100, 40), (400, 25), (700, 60), (1100, 30), (1350, 20)]
    for s, ln in episodes:  # the rotated leg really is better during the rule's episodes
        rotated.iloc[s:s + ln] += 0.006
    r = st.random_timing_null(rotated, growth, episodes, n_draws=999, seed=1)
    assert r["p_value"] == r["p_value_greater"] < 0.01
    assert r["n_episodes"] == 5 and r["days_rotated"] == 175 and r["stat"] == "total_log_return"
    # sharpe as the statistic finds it too
    rs = st.random_timing_null(rotated, growth, episodes, n_draws=299, seed=1, stat=st.sharpe)
    assert rs["p_value"] < 0.02


def test_random_timing_null_uniform_under_noise():
    """Fixed, evenly spaced episodes on iid legs: p-values ~ U(0,1)."""
    rng = np.random.default_rng(21)
    episodes = [(50 + 120 * i, 30) for i in range(6)]
    pvals = []
    for i in range(200):
        rotated, growth = _legs(rng, n=800)
        pvals.append(st.random_timing_null(rotated, growth, episodes, n_draws=199, seed=i)["p_value"])
    pvals = np.array(pvals)
    assert sps.kstest(pvals, "uniform").pvalue > 0.01
    lo, hi = binomial_band(200, 0.05)
    assert lo <= np.mean(pvals <= 0.05) <= hi


def test_random_timing_closed_form_equals_generic_and_deterministic():
    rng = np.random.default_rng(22)
    rotated, growth = _legs(rng, n=600)
    episodes = [(10, 30), (200, 15), (400, 50)]
    fast = st.random_timing_null(rotated, growth, episodes, n_draws=300, seed=5, return_null=True)
    slow = st.random_timing_null(rotated, growth, episodes, n_draws=300, seed=5, return_null=True,
                                 stat=lambda r: float(np.sum(np.log1p(r))))
    np.testing.assert_allclose(fast["null"], slow["null"], rtol=0, atol=1e-12)
    assert fast["observed"] == pytest.approx(slow["observed"], abs=1e-12)
    # the observed value is the strategy built by hand
    mask = np.zeros(600, dtype=bool)
    for s, ln in episodes:
        mask[s:s + ln] = True
    by_hand = np.log1p(np.where(mask, rotated, growth)).sum()
    assert fast["observed"] == pytest.approx(by_hand, abs=1e-12)
    again = st.random_timing_null(rotated, growth, episodes, n_draws=300, seed=5, return_null=True)
    np.testing.assert_array_equal(fast["null"], again["null"])
    with pytest.raises(ValueError, match="overlap"):
        st.random_timing_null(rotated, growth, [(0, 10), (5, 10)], seed=0)


# ------------------------------------------------------------------------------------
# PSR / DSR
# ------------------------------------------------------------------------------------

def test_dsr_reproduces_bailey_lopez_de_prado_2014_example():
    """Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", numerical example:
    N = 100 independent trials whose annualised SRs have variance V = 1/2; the selected
    strategy has annualised SR 2.5 over T = 1250 daily observations (5 years of 250
    days), skewness -3, kurtosis 10.  Per period: V = 0.5/250, SR = 2.5/sqrt(250).
    The paper finds E[max SR] = SR_0 ~ 0.1132 per day (about 1.79 annualised) and
    DSR ~ 0.9004."""
    r = st.deflated_sharpe_ratio(2.5 / math.sqrt(250), None, 1250, -3.0, 10.0,
                                 n_trials_effective=100, sr_variance=0.5 / 250)
    assert r["sr0"] == pytest.approx(0.1132, abs=5e-5)
    assert r["sr0"] * math.sqrt(250) == pytest.approx(1.789, abs=1e-3)
    assert r["dsr"] == pytest.approx(0.9004, abs=5e-5)


def test_dsr_from_trial_array_and_monotonicity():
    rng = np.random.default_rng(30)
    trials = rng.normal(0.0, 0.04, 50)
    r = st.deflated_sharpe_ratio(0.15, trials, 1000, -0.5, 5.0)
    same = st.deflated_sharpe_ratio(0.15, None, 1000, -0.5, 5.0, n_trials_effective=50,
                                    sr_variance=np.var(trials, ddof=1))
    assert r == same
    fewer = st.deflated_sharpe_ratio(0.15, trials, 1000, -0.5, 5.0, n_trials_effective=10)
    assert fewer["sr0"] < r["sr0"] and fewer["dsr"] > r["dsr"]
    assert r["dsr"] < r["psr"]
    one = st.deflated_sharpe_ratio(0.15, trials, 1000, -0.5, 5.0, n_trials_effective=1)
    assert one["sr0"] == 0.0 and one["dsr"] == one["psr"]


def test_expected_max_sharpe_matches_simulation():
    """E[max of N iid N(0, s^2)] by simulation vs the Euler-Mascheroni approximation."""
    rng = np.random.default_rng(31)
    for n in (10, 100, 1000):
        sim = rng.normal(0, 0.05, size=(4000, n)).max(axis=1).mean()
        assert st.expected_max_sharpe(n, 0.05 ** 2) == pytest.approx(sim, rel=0.03)


def test_psr_properties():
    psr = st.probabilistic_sharpe_ratio
    assert psr(0.1, 0.1, 500, -1, 8) == 0.5
    # normal returns: closed form of Lo (2002) / Mertens (2002) standard error
    sr, t = 0.08, 756
    assert psr(sr, 0.0, t) == pytest.approx(sps.norm.cdf(sr * math.sqrt(t - 1) / math.sqrt(1 + sr ** 2 / 2)))
    assert psr(sr, 0.0, 2 * t) > psr(sr, 0.0, t)          # longer track record
    assert psr(sr, 0.0, t, skew=-2) < psr(sr, 0.0, t)     # negative skew hurts
    assert psr(sr, 0.0, t, kurtosis=9) < psr(sr, 0.0, t)  # fat tails hurt
    assert psr(-sr, 0.0, t) == pytest.approx(1 - psr(sr, 0.0, t))


def test_psr_is_calibrated_under_the_null():
    """True SR = 0, normal returns: P(PSR(0) > 0.95) should be ~5%."""
    rng = np.random.default_rng(32)
    x = rng.normal(0, 0.01, size=(4000, 250))
    srs = x.mean(axis=1) / x.std(axis=1, ddof=1)
    p = np.array([st.probabilistic_sharpe_ratio(s, 0.0, 250) for s in srs])
    lo, hi = binomial_band(4000, 0.05)
    assert lo <= np.mean(p > 0.95) <= hi


def test_effective_number_of_trials():
    rng = np.random.default_rng(33)
    indep = rng.normal(size=(2000, 10))
    assert st.effective_number_of_trials(indep) == pytest.approx(10, rel=0.02)
    assert st.effective_number_of_trials(indep, "nyholt") == pytest.approx(10, rel=0.02)
    same = np.repeat(rng.normal(size=(2000, 1)), 8, axis=1) + 1e-9 * rng.normal(size=(2000, 8))
    assert st.effective_number_of_trials(same) == pytest.approx(1, abs=1e-3)
    assert st.effective_number_of_trials(same, "nyholt") == pytest.approx(1, abs=1e-3)
    assert st.effective_number_of_trials(same, "li_ji") == pytest.approx(1, abs=1e-3)
    rho = 0.6  # equicorrelated: common factor with weight sqrt(rho)
    eq = math.sqrt(rho) * rng.normal(size=(5000, 1)) + math.sqrt(1 - rho) * rng.normal(size=(5000, 10))
    assert st.effective_number_of_trials(eq) == pytest.approx(rho + (1 - rho) * 10, rel=0.05)


def _li_ji_floor(lam):
    """Li & Ji's count with a plain floor, as written in the paper (no rounding guard)."""
    lam = np.clip(lam, 0.0, None)
    return float(np.sum((lam >= 1).astype(float) + (lam - np.floor(lam))))


def test_li_ji_is_robust_to_eigenvalue_rounding():
    """A correlation matrix of three groups of identical trials (sizes 4, 3, 1) has the exact
    eigenvalues 4, 3, 1, 0, ..., 0, so Li-Ji gives 1 + 1 + 1 = 3.  Perturbed by 1e-12 (as
    rounding does), an eigenvalue of 3.999999999999 floors to 3 and adds 0.999...: the plain
    floor then counts 4 or 5.  The snapped count stays 3; a genuinely fractional eigenvalue is
    left alone."""
    from scipy.linalg import block_diag
    corr = block_diag(np.ones((4, 4)), np.ones((3, 3)), np.ones((1, 1)))
    naive_wrong = 0
    for seed in range(20):
        e = np.random.default_rng(seed).normal(size=corr.shape)
        e = (e + e.T) / 2
        np.fill_diagonal(e, 0.0)
        lam = np.linalg.eigvalsh(corr + 1e-12 * e)
        assert st._n_eff_from_eigenvalues(lam, "li_ji") == 3.0
        naive_wrong += _li_ji_floor(lam) > 3.5
    assert naive_wrong >= 10  # the perturbation does push eigenvalues below their integers
    assert st._n_eff_from_eigenvalues([2.5, 1.25, 0.25, 0.0], "li_ji") == pytest.approx(1.5 + 1.25 + 0.25)
    assert st._n_eff_from_eigenvalues([4 - 1e-12, 3 + 1e-12, 1 - 1e-13, 1e-14, -1e-15, 0, 0, 0],
                                      "li_ji") == 3.0


def test_li_ji_on_trials_with_integer_eigenvalues():
    """Trials that are copies of three mutually uncorrelated zero-mean series (rows of a
    Hadamard matrix), 4 + 3 + 1 copies with 1e-13 noise: Li-Ji = 3, Nyholt and the average
    correlation agree with their closed forms."""
    from scipy.linalg import hadamard
    h = hadamard(8)[1:4].T.astype(float)  # 8 days x 3 orthogonal zero-mean series
    base = np.repeat(h, 4, axis=0)        # 32 days
    x = np.column_stack([base[:, [0]]] * 4 + [base[:, [1]]] * 3 + [base[:, [2]]])
    x = x + 1e-13 * np.random.default_rng(0).normal(size=x.shape)
    assert st.effective_number_of_trials(x, "li_ji") == pytest.approx(3.0, abs=1e-9)
    # mean off-diagonal correlation: (4*3 + 3*2) ones over 8*7 pairs; mean squared likewise
    rho = 18 / 56
    assert st.effective_number_of_trials(x) == pytest.approx(rho + (1 - rho) * 8, rel=1e-9)
    assert st.effective_number_of_trials(x, "nyholt") == pytest.approx(1 + 7 * (1 - rho), rel=1e-9)


def test_average_correlation_is_exact_without_the_matrix():
    """The O(T N) sum of standardised columns gives the same N_eff as the mean of the
    off-diagonal entries of np.corrcoef, NaN rows are dropped, and the sums of column chunks
    add up (trials can arrive in chunks)."""
    rng = np.random.default_rng(34)
    for n in (2, 7, 50):
        x = rng.normal(size=(300, n)) + rng.normal(size=(300, 1)) * rng.uniform(0, 2)
        x[::37, rng.integers(n)] = np.nan
        xf = x[np.isfinite(x).all(axis=1)]
        corr = np.corrcoef(xf, rowvar=False)
        rho = min(1.0, max(0.0, (corr.sum() - n) / (n * (n - 1))))
        assert st.effective_number_of_trials(x) == pytest.approx(rho + (1 - rho) * n, rel=1e-12)
        s = st.standardised_column_sum(xf)
        assert s @ s == pytest.approx(corr.sum(), rel=1e-12)
        parts = st.standardised_column_sum(xf[:, : n // 2]) + st.standardised_column_sum(xf[:, n // 2:])
        np.testing.assert_allclose(parts, s, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="trial 1 is constant"):
        st.standardised_column_sum(np.column_stack([rng.normal(size=10), np.ones(10)]))
    d = st.effective_number_of_trials(rng.normal(size=(100, 3)), details=True)
    assert d["exact"] and d["method"] == "average_correlation" and d["n_sampled"] is None


def test_nyholt_equals_mean_squared_correlation_and_samples_large_n():
    """Var(eigenvalues)/N = mean squared off-diagonal correlation, so Nyholt's N_eff is
    1 + (N-1)(1 - mean r^2); above max_eigen_trials it is that formula over a random sample of
    trials (an unbiased estimate of the mean over all pairs), and Li-Ji is refused."""
    rng = np.random.default_rng(35)
    x = rng.normal(size=(400, 120)) + 0.8 * rng.normal(size=(400, 3)) @ rng.normal(size=(3, 120))
    corr = np.corrcoef(x, rowvar=False)
    mean_sq = (np.sum(corr * corr) - 120) / (120 * 119)
    exact = st.effective_number_of_trials(x, "nyholt")
    assert exact == pytest.approx(1 + 119 * (1 - mean_sq), rel=1e-9)
    d = st.effective_number_of_trials(x, "nyholt", max_eigen_trials=60, seed=1, details=True)
    assert not d["exact"] and d["n_sampled"] == 60 and "random sample of 60 of 120" in d["description"]
    assert d["n_effective"] == pytest.approx(exact, rel=0.1)
    again = st.effective_number_of_trials(x, "nyholt", max_eigen_trials=60, seed=1)
    assert again == d["n_effective"]
    with pytest.raises(ValueError, match="li_ji needs every eigenvalue"):
        st.effective_number_of_trials(x, "li_ji", max_eigen_trials=60)
    with pytest.raises(ValueError, match="unknown method"):
        st.effective_number_of_trials(x, "eigen")


# ------------------------------------------------------------------------------------
# PBO (CSCV)
# ------------------------------------------------------------------------------------

def test_pbo_hand_computed_case():
    """S = 4 blocks of one row, N = 3 trials A, B, C, metric = mean.

        block   A  B  C
          0     3  6  1
          1     8  3  2
          2     5  8  8
          3     8  3  0

    IS blocks -> IS sums (A,B,C), best | OOS sums (A,B,C), rank of best | w=rank/4, logit
      {0,1}   11  9  3   A          | 13 11  8   3   | 3/4  ln 3
      {0,2}    8 14  9   B          | 16  6  2   2   | 1/2  0
      {0,3}   11  9  1   A          | 13 11 10   3   | 3/4  ln 3
      {1,2}   13 11 10   A          | 11  9  1   3   | 3/4  ln 3
      {1,3}   16  6  2   A          |  8 14  9   1   | 1/4  ln 1/3
      {2,3}   13 11  8   A          | 11  9  3   3   | 3/4  ln 3
    PBO = #{logit <= 0} / 6 = 2/6.  OOS means of the IS best: 6.5 3 6.5 5.5 4 5.5, of
    which 2 are below 5 (prob_oos_loss with threshold 5 = 1/3).
    """
    m = pd.DataFrame([[3, 6, 1], [8, 3, 2], [5, 8, 8], [8, 3, 0]], columns=list("ABC"), dtype=float)
    r = st.probability_of_backtest_overfitting(m, n_splits=4, metric="mean", loss_threshold=5.0)
    ln3 = math.log(3)
    np.testing.assert_allclose(r["logits"], [ln3, 0.0, ln3, ln3, -ln3, ln3], atol=1e-12)
    assert r["pbo"] == pytest.approx(1 / 3)
    d = r["degradation"]
    assert d["best_trial"].tolist() == ["A", "B", "A", "A", "A", "A"]
    np.testing.assert_allclose(d["oos_perf"], [6.5, 3, 6.5, 5.5, 4, 5.5])
    np.testing.assert_allclose(d["is_perf"], [5.5, 7, 5.5, 6.5, 8, 6.5])
    assert r["prob_oos_loss"] == pytest.approx(1 / 3)
    assert r["n_combinations"] == 6


def test_pbo_noise_near_half():
    """All trials noise: the IS best's OOS rank is uniform, so E[PBO] = 1/2 (N even)."""
    rng = np.random.default_rng(40)
    pbos = [st.probability_of_backtest_overfitting(rng.normal(0, 0.01, (480, 10)), 8)["pbo"]
            for _ in range(30)]
    assert 0.4 <= np.mean(pbos) <= 0.6, np.mean(pbos)


def test_pbo_planted_edge_near_zero():
    rng = np.random.default_rng(41)
    m = rng.normal(0, 0.01, (1600, 20))
    m[:, 7] += 0.002  # per-period SR 0.2 for trial 7, the others none
    r = st.probability_of_backtest_overfitting(m, 16)
    assert r["n_combinations"] == 12870
    assert r["pbo"] < 0.02
    assert (r["degradation"]["best_trial"] == 7).mean() > 0.95
    assert r["prob_oos_loss"] < 0.02


def test_pbo_builtin_sharpe_equals_callable_and_drops_remainder():
    rng = np.random.default_rng(42)
    m = rng.normal(0.0002, 0.01, (203, 6))
    r = st.probability_of_backtest_overfitting(m, 10)
    g = st.probability_of_backtest_overfitting(m, 10, metric=lambda a: a.mean(0) / a.std(0, ddof=1))
    np.testing.assert_allclose(r["logits"], g["logits"])
    np.testing.assert_allclose(r["degradation"]["is_perf"], g["degradation"]["is_perf"], rtol=1e-9)
    assert r["n_rows_dropped"] == 3 and r["n_rows_used"] == 200
    # the dropped rows are the oldest ones
    g2 = st.probability_of_backtest_overfitting(m[3:], 10)
    np.testing.assert_array_equal(r["logits"], g2["logits"])
    # brute force: the IS Sharpe of the first combination, blocks 0..4
    first = np.concatenate([m[3:][i * 20:(i + 1) * 20] for i in range(5)])
    is_best = (first.mean(0) / first.std(0, ddof=1)).max()
    assert r["degradation"]["is_perf"].iloc[0] == pytest.approx(is_best)
    assert len(r["logits"]) == len(list(combinations(range(10), 5)))


@settings(max_examples=25, deadline=None)
@given(hst.integers(0, 2**31), hst.floats(-0.05, 0.05), hst.floats(0.1, 10))
def test_pbo_invariances(seed, shift, scale):
    rng = np.random.default_rng(seed)
    m = rng.normal(0, 0.01, (64, 5))
    base = st.probability_of_backtest_overfitting(m, 8, metric="mean")
    shifted = st.probability_of_backtest_overfitting(m + shift, 8, metric="mean")
    np.testing.assert_allclose(shifted["logits"], base["logits"])
    s = st.probability_of_backtest_overfitting(m, 8)
    scaled = st.probability_of_backtest_overfitting(m * scale, 8)
    np.testing.assert_allclose(scaled["logits"], s["logits"])
    perm = rng.permutation(5)
    permuted = st.probability_of_backtest_overfitting(m[:, perm], 8)
    np.testing.assert_allclose(permuted["logits"], s["logits"])


def test_pbo_rejects_bad_input():
    m = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(ValueError, match="even"):
        st.probability_of_backtest_overfitting(m, 5)
    with pytest.raises(ValueError, match="N >= 2"):
        st.probability_of_backtest_overfitting(m[:, :1], 4)
    bad = m.copy()
    bad[:, 1] = 0.0
    with pytest.raises(ValueError, match="NaN"):
        st.probability_of_backtest_overfitting(bad, 4)


def _pbo_whole_matrix(m, n_splits, metric):
    """CSCV as computed before the chunked scan (kept as the reference): both C x N metric
    matrices built at once by matrix products, the OOS rank by ``scipy.stats.rankdata``."""
    m = np.asarray(m, dtype=float)
    s = n_splits
    t_all, n = m.shape
    dropped = t_all % s
    m = m[dropped:]
    size = len(m) // s
    combos = list(combinations(range(s), s // 2))
    ins = np.zeros((len(combos), s))
    for i, c in enumerate(combos):
        ins[i, list(c)] = 1.0
    blocks = m.reshape(s, size, n)
    half = size * (s // 2)
    centred = blocks - m.mean(axis=0)
    raw1, c1, c2 = blocks.sum(axis=1), centred.sum(axis=1), (centred * centred).sum(axis=1)

    def metric_of(sel):
        mean = (sel @ raw1) / half
        if metric == "mean":
            return mean
        cmean = (sel @ c1) / half
        var = np.clip((sel @ c2 - half * cmean * cmean) / (half - 1), 0.0, None)
        return mean / np.sqrt(var)

    r_is, r_oos = metric_of(ins), metric_of(1.0 - ins)
    best = np.argmax(r_is, axis=1)
    rows = np.arange(len(combos))
    rank = sps.rankdata(r_oos, axis=1)[rows, best]
    ties = np.count_nonzero(r_oos == r_oos[rows, best][:, None], axis=1)
    return best, r_is[rows, best], r_oos[rows, best], rank, ties


def _tied_matrices():
    rng = np.random.default_rng(43)
    dup = rng.normal(0, 0.01, (203, 7))
    dup[:, 3] = dup[:, 0]          # identical trials tie in every split, in and out of sample
    dup[:, 6] = dup[:, 0]
    ints = rng.integers(-3, 4, (96, 12)).astype(float)  # small integers: sums exact, ties galore
    ints[:, 5] = ints[:, 2]
    edge = rng.normal(0, 0.01, (640, 30))
    edge[:, 4] += 0.003            # a clear best, and its duplicate
    edge[:, 9] = edge[:, 4]
    return [(dup, 10, True), (ints, 8, True), (edge, 16, True), (rng.normal(size=(50, 2)), 4, False)]


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_pbo_scan_equals_whole_matrix_reference(engine, monkeypatch):
    """The chunked scan (counted ranks, complementary block sets sharing one metric row,
    a small buffer forcing many chunks) reproduces the whole-matrix computation: the same best
    trial, OOS rank (ties averaged as scipy does) and logits in every split; the metric values
    to rounding (the matrix products may sum in another order in the last bit)."""
    monkeypatch.setattr(st, "_CSCV_CELLS", 64)
    for m, s, tied in _tied_matrices():
        for metric in ("sharpe", "mean"):
            best, is_perf, oos_perf, rank, ties = _pbo_whole_matrix(m, s, metric)
            assert (ties.max() > 1) == tied  # the best ties with other trials out of sample
            sums = st.cscv_block_sums(m, s)
            r = st.pbo_from_block_sums(sums["raw"], sums["centred"], sums["centred_sq"], sums["block_size"],
                                       metric=metric, n_rows_dropped=sums["n_rows_dropped"], engine=engine)
            d = r["degradation"]
            np.testing.assert_array_equal(d["best_trial"].to_numpy(), best)
            np.testing.assert_array_equal(d["oos_rank"].to_numpy(), rank)
            np.testing.assert_allclose(d["is_perf"], is_perf, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(d["oos_perf"], oos_perf, rtol=1e-13, atol=1e-15)
            omega = rank / (m.shape[1] + 1)
            np.testing.assert_array_equal(r["logits"], np.log(omega / (1 - omega)))
            assert r["pbo"] == np.mean(np.log(omega / (1 - omega)) <= 0)
            assert (r["n_rows_used"], r["n_rows_dropped"]) == (len(m) - len(m) % s, len(m) % s)


def test_pbo_public_entry_matches_block_sums_and_splits_pair_up():
    rng = np.random.default_rng(44)
    m = pd.DataFrame(rng.normal(0, 0.01, (330, 9)), columns=[f"t{i}" for i in range(9)])
    r = st.probability_of_backtest_overfitting(m, 10)
    sums = st.cscv_block_sums(m.to_numpy(), 10)
    r2 = st.pbo_from_block_sums(sums["raw"], sums["centred"], sums["centred_sq"], sums["block_size"],
                                labels=list(m.columns), n_rows_dropped=sums["n_rows_dropped"])
    np.testing.assert_array_equal(r["logits"], r2["logits"])
    assert r["degradation"]["best_trial"].tolist() == r2["degradation"]["best_trial"].tolist()
    splits = st.cscv_splits(10)
    assert len(splits) == 252 and [tuple(x) for x in splits] == list(combinations(range(10), 5))
    for i in (0, 17, 125):  # row C-1-i is the complement of row i
        assert sorted(set(range(10)) - set(splits[i])) == list(splits[len(splits) - 1 - i])
    with pytest.raises(ValueError, match="unknown metric"):
        st.probability_of_backtest_overfitting(m, 10, metric="sortino")
