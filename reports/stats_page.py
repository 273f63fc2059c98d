"""The run report's "more than luck?" page: bootstrap intervals, random-timing null, breakdowns.

Every number is formatted from ``metrics["statistics"]`` (the same dict as in metrics.json).
"""

from __future__ import annotations

from reports import pdf as P
from reports.style import FIGSIZE, style


def _p(x):
    return "n/a" if x is None else f"{x:.2%}"


def _r(x):
    return "n/a" if x is None else f"{x:.2f}"


BOOTSTRAP_HEADER = ["statistic", "estimate", "interval", "block (days)"]
DECADE_HEADER = ["decade", "days", "CAGR", "Sharpe", "benchmark CAGR"]
STATE_HEADER = ["state", "days", "CAGR", "Sharpe", "up days"]


def bootstrap_rows(s: dict) -> list[list[str]]:
    """Bootstrap intervals of CAGR, Sharpe and (with a benchmark) the excess return."""
    rows = [["CAGR", _p(s["cagr"]["estimate"]), f"{_p(s['cagr']['low'])} to {_p(s['cagr']['high'])}",
             f"{s['cagr']['block_length']:.1f}"],
            ["Sharpe ratio", _r(s["sharpe"]["estimate"]), f"{_r(s['sharpe']['low'])} to {_r(s['sharpe']['high'])}",
             f"{s['sharpe']['block_length']:.1f}"]]
    if "excess_return" in s:
        e = s["excess_return"]
        rows.append(["Excess return over benchmark (a year)", _p(e["estimate"]), f"{_p(e['low'])} to {_p(e['high'])}",
                     f"{e['block_length']:.1f}"])
    return rows


def random_timing_lines(s: dict) -> list[str] | None:
    """The random-timing null in sentences: what was drawn, the rule against the null, the p-value
    (last line). None when the strategy has no rotation episodes."""
    rt = s.get("random_timing")
    if not rt:
        return None
    conf = f"{1 - s['alpha']:.0%}"
    return [f"The same {rt['n_episodes']} rotations ({rt['days_rotated']:,} days rotated) placed at random dates, "
            f"{rt['n_draws']} times. Total log return: rule {rt['observed']:.3f}, random median "
            f"{rt['null_quantiles'][0.5]:.3f} ({conf} band {rt['null_low']:.3f} to {rt['null_high']:.3f}).",
            f"p-value (random timing did at least as well): {rt['p_value_greater']:.3f}"]


def decade_rows(s: dict) -> list[list[str]]:
    return [[k, f"{v['days']:,}", _p(v["cagr"]), _r(v["sharpe"]), _p(v.get("benchmark_cagr"))]
            for k, v in s["by_decade"].items()]


def state_rows(s: dict) -> list[list[str]]:
    return [[k, f"{v['days']:,}", _p(v["cagr"]), _r(v["sharpe"]), f"{v['hit_rate']:.0%}"]
            for k, v in (s.get("by_signal_state") or {}).items()]


def statistics_page(result, metrics: dict):
    """The verdict (where the statistics have one) across the top, the bootstrap intervals beside
    the random-timing null, then the breakdowns by decade and by signal state."""
    s = metrics["statistics"]
    conf = f"{1 - s['alpha']:.0%}"
    W, H = FIGSIZE
    with style():
        fig = P._page(f"Is the edge more than luck? {result.strategy}",
                      f"{conf} stationary block-bootstrap intervals ({s['n_boot']} resamples), "
                      f"random-timing null ({s['n_draws']} draws), seed {s['seed']}")
        top = 1.2
        verdict = s.get("verdict")
        if isinstance(verdict, dict) and verdict.get("verdict"):
            col = P.Column(fig, 0.4, H - top, W - 0.8, 0.5)
            col.para(f"Verdict: {verdict['verdict']}", size=12.5, weight="bold", color="#1f4e79")
            if verdict.get("sentence"):
                col.para(str(verdict["sentence"]), size=9.8)
            top = H - col.y + 0.3
        rows = bootstrap_rows(s)
        boot_bottom = P._at(fig, 0.4, top + 0.3, 6.4, BOOTSTRAP_HEADER[:2] + [f"{conf} interval", "block (days)"],
                            rows, [3.0, 0.9, 1.55, 0.95], row_h=0.3, fontsize=9.5, title="Bootstrap intervals",
                            title_size=12.5, gid="bootstrap_table")
        col = P.Column(fig, 7.2, H - top + 0.13, W - 7.6, 0.5)
        col.heading("Random timing")
        lines = random_timing_lines(s)
        if lines:
            col.para(lines[0], size=9.8)
            col.para(lines[1], size=10.2, weight="bold")
            col.para("Built close to close without costs for the rule and the null alike.", size=8.5, color="0.35")
        else:
            col.para("Not applicable: this strategy has no rotation episodes.", size=10)
        top = max(boot_bottom, H - col.y) + 0.55
        dec, states = decade_rows(s), state_rows(s)
        room = H - 0.45 - top
        row_h = min(0.3, room / (max(len(dec), len(states)) + 1))
        P._at(fig, 0.4, top, 5.6, DECADE_HEADER, dec, [1, 1, 1, 1, 1.4], row_h=row_h, fontsize=9.5,
              title="By decade", title_size=12.5, gid="decade_table")
        if states:
            P._at(fig, 6.4, top, 5.2, STATE_HEADER, states, [1.2, 1, 1, 1, 1], row_h=row_h, fontsize=9.5,
                  title="By signal state held that day", title_size=12.5, gid="state_table")
        P._footer(fig, "Intervals: stationary block bootstrap (Politis-Romano, drawn as arch's); Sharpe resampled in "
                       "~21-day blocks. Values as in metrics.json ('statistics').")
    return fig
