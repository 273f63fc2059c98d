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
    s = metrics["statistics"]
    conf = f"{1 - s['alpha']:.0%}"
    W, H = FIGSIZE
    with style():
        fig = P._page(f"Is the edge more than luck? {result.strategy}",
                      f"{conf} stationary block-bootstrap intervals ({s['n_boot']} resamples), "
                      f"random-timing null ({s['n_draws']} draws), seed {s['seed']}")
        rows = bootstrap_rows(s)
        P._table(fig, [0.4 / W, 0.62, 6.4 / W, 0.045 * (len(rows) + 1)],
                 ["statistic", "estimate", f"{conf} interval", "block (days)"], rows,
                 widths=[2.6, 1.0, 1.8, 1.1], aligns=["left", "right", "right", "right"], gid="bootstrap_table")
        col = P.Column(fig, 7.2, H - 1.1, W - 7.6, 3.2)
        verdict = s.get("verdict")
        if isinstance(verdict, dict) and verdict.get("verdict"):
            col.heading("Verdict")
            col.para(str(verdict["verdict"]), size=11, weight="bold")
            if verdict.get("sentence"):
                col.para(str(verdict["sentence"]), size=9.5)
        col.heading("Random timing")
        lines = random_timing_lines(s)
        if lines:
            col.para(lines[0], size=10)
            col.para(lines[1], size=10.5, weight="bold")
            col.para("Built close to close without costs for the rule and the null alike.", size=8.5, color="0.35")
        else:
            col.para("Not applicable: this strategy has no rotation episodes.", size=10)
        rows = decade_rows(s)
        fig.text(0.4 / W, 0.55, "By decade", fontsize=12.5, fontweight="bold", va="top")
        P._table(fig, [0.4 / W, 0.5 - 0.045 * (len(rows) + 1), 5.6 / W, 0.045 * (len(rows) + 1)],
                 DECADE_HEADER, rows, widths=[1, 1, 1, 1, 1.4],
                 aligns=["left", "right", "right", "right", "right"], gid="decade_table")
        rows = state_rows(s)
        if rows:
            fig.text(6.4 / W, 0.55, "By signal state held that day", fontsize=12.5, fontweight="bold", va="top")
            P._table(fig, [6.4 / W, 0.5 - 0.045 * (len(rows) + 1), 5.2 / W, 0.045 * (len(rows) + 1)],
                     STATE_HEADER, rows, widths=[1.2, 1, 1, 1, 1],
                     aligns=["left", "right", "right", "right", "right"], gid="state_table")
        P._footer(fig, "Intervals from arch's StationaryBootstrap; Sharpe resampled in ~21-day blocks. "
                       "Values as in metrics.json ('statistics').")
    return fig
