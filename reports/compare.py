"""Comparisons: a rule (or several strategies and parameter sets) beside its baselines, on
identical data, period and costs, in one report.

* :func:`parse_spec` reads ``KEY`` or ``KEY:k=v;k=v`` (lists as ``k=A,B``).
* :func:`baseline_specs` derives the baselines of a growth/rotation rule: buy-and-hold of the
  benchmark, a static 50/50 blend of the growth and rotation baskets, and always rotated.
* :func:`run_comparison` runs every config and re-runs until all share one trading period
  (the latest start and earliest end of any of them).
* :func:`write_comparison` writes the folder: metrics.json (every strategy), equity.csv, one
  sub-folder of CSVs per strategy, the comparison PNGs and report.pdf.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from reports import figures as F  # noqa: E402
from reports import metrics as M  # noqa: E402
from reports import pdf as P  # noqa: E402
from reports.build import png_bytes  # noqa: E402
from reports.style import BENCHMARK_COLOR, FIGSIZE, strategy_colors, style  # noqa: E402
from rotationlab.atomic import atomic_write_bytes, atomic_write_text  # noqa: E402
from rotationlab.config import RunConfig, resolve_params  # noqa: E402
from rotationlab.errors import UserError  # noqa: E402
from rotationlab.results import RunResult, _csv, dump_json, write_run  # noqa: E402

BASELINES = ("buy_and_hold", "static_blend", "always_rotated")


def parse_spec(text: str) -> tuple[str, list[str]]:
    """``"KEY:k=v;k=v"`` -> ``("KEY", ["k=v", "k=v"])``; lists stay comma-separated."""
    key, _, rest = str(text).partition(":")
    key = key.strip()
    if not key:
        raise UserError(f"--strategy {text!r}: give a registry key, e.g. dow_nasdaq_divergence:threshold=0.02")
    params = [p.strip() for p in rest.split(";") if p.strip()]
    for p in params:
        if "=" not in p:
            raise UserError(f"--strategy {text!r}: parameter {p!r} must look like key=value; separate "
                            "parameters with ';' (e.g. KEY:threshold=0.02;hold_days=10)")
    return key, params


def _plus(symbols) -> str:
    return "+".join(symbols)


def baseline_specs(values: dict, benchmark: str | None) -> list[tuple[str, str, dict]]:
    """``(label, key, params)`` of the baselines for a rule with parameter ``values``.

    buy_and_hold holds the benchmark; static_blend holds the growth basket and the rotation basket
    50/50 (each basket at its own weights), rebalanced monthly; always_rotated holds the rotation
    basket. The last two need ``growth_symbols``/``rotation_symbols`` parameters."""
    out = []
    if benchmark:
        out.append((f"buy_and_hold {benchmark}", "buy_and_hold", {"symbol": benchmark}))
    growth = list(values.get("growth_symbols") or [])
    rotation = list(values.get("rotation_symbols") or [])
    rw = [float(w) for w in values.get("rotation_weights") or []]
    if growth and rotation:
        rot_w = rw if rw else [1.0 / len(rotation)] * len(rotation)
        weights: dict[str, float] = {}
        for s in growth:
            weights[s] = weights.get(s, 0.0) + 0.5 / len(growth)
        for s, w in zip(rotation, rot_w):
            weights[s] = weights.get(s, 0.0) + 0.5 * w
        out.append((f"static_blend {_plus(growth)} | {_plus(rotation)}", "static_blend",
                    {"symbols": list(weights), "weights": [round(w, 12) for w in weights.values()]}))
    if rotation:
        params = {"rotation_symbols": rotation}
        if rw:
            params["rotation_weights"] = rw
        out.append((f"always_rotated {_plus(rotation)}", "always_rotated", params))
    return out


def _given_label(key: str, params: list[str] | dict) -> str:
    items = params.items() if isinstance(params, dict) else (p.split("=", 1) for p in params)
    text = "; ".join(f"{k.strip()}={v if not isinstance(v, (list, tuple)) else ','.join(map(str, v))}"
                     for k, v in items)
    return f"{key} [{text or 'defaults'}]"


def _ident(key: str, values: dict) -> tuple:
    return key, repr(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items()))


def with_baselines(configs: list[RunConfig], baselines: bool = True) -> list[tuple[str, RunConfig]]:
    """``(label, RunConfig)`` for ``configs`` followed by the baselines of the first one (same
    data, period, benchmark and execution settings as the first). Labels are registry keys, with
    the given parameters when a key appears more than once; exact duplicates are dropped."""
    if not configs:
        raise UserError("nothing to compare: give at least one strategy")
    keys = [c.strategy for c in configs]
    out, seen = [], set()
    for cfg in configs:
        _, values = resolve_params(cfg.strategy, cfg.params)
        ident = _ident(cfg.strategy, values)
        if ident in seen:
            continue
        seen.add(ident)
        label = cfg.strategy if keys.count(cfg.strategy) == 1 else _given_label(cfg.strategy, cfg.params)
        out.append((label, cfg))
    if baselines:
        base = configs[0]
        _, values = resolve_params(base.strategy, base.params)
        for label, key, params in baseline_specs(values, base.benchmark):
            _, bvalues = resolve_params(key, params)
            ident = _ident(key, bvalues)
            if ident in seen:
                continue
            seen.add(ident)
            out.append((label, dataclasses.replace(base, strategy=key, params=params)))
    labels = [lab for lab, _ in out]
    if len(set(labels)) != len(labels):
        out = [(f"{lab} #{i + 1}" if labels.count(lab) > 1 else lab, c) for i, (lab, c) in enumerate(out)]
    return out


def comparison_configs(base: RunConfig, strategies: list[tuple[str, dict]] | None = None,
                       baselines: bool = True) -> list[tuple[str, RunConfig]]:
    """Like :func:`with_baselines`, from ``base`` (data, period, costs) and ``strategies`` as
    ``(key, {param: value})`` (default: ``base``'s own strategy)."""
    configs = [dataclasses.replace(base, strategy=k, params=dict(p)) for k, p in strategies] if strategies \
        else [base]
    return with_baselines(configs, baselines)


def _period(r: RunResult) -> tuple[str, str]:
    p = r.provenance["period"]
    return p["trade_from"], p["trade_to"]


def run_comparison(configs: list[tuple[str, RunConfig]], run=None) -> dict[str, RunResult]:
    """Run every config on one common trading period: the first runs as given, the others from
    its first trading date; then the common period is the latest start and earliest end of all,
    and those whose period differs are re-run on it (at most three passes)."""
    if run is None:
        from rotationlab.engine import run
    (label0, cfg0), rest = configs[0], configs[1:]
    results = {label0: run(cfg0)}
    start, _ = _period(results[label0])
    for label, cfg in rest:
        # the first one's start; its --end as given, so every strategy loads the same series
        results[label] = run(dataclasses.replace(cfg, start=start, end=cfg0.end))
    cfgs = dict(configs)
    for _ in range(3):
        starts, ends = zip(*(_period(r) for r in results.values()))
        start, end = max(starts), min(ends)
        if start >= end:
            spans = ", ".join(f"{lab} {_period(r)[0]} to {_period(r)[1]}" for lab, r in results.items())
            raise UserError(f"the strategies share no trading period ({spans}); choose symbols whose histories "
                            "overlap")
        stale = [lab for lab, r in results.items() if _period(r) != (start, end)]
        if not stale:
            break
        for lab in stale:
            results[lab] = run(dataclasses.replace(cfgs[lab], start=start, end=end))
    return results


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")[:80] or "strategy"


def _shows_benchmark(results: dict) -> bool:
    """Draw the benchmark line only when no strategy already holds the benchmark itself."""
    first = next(iter(results.values()))
    bench = first.config.get("benchmark")
    return bench is not None and not any(
        r.strategy == "buy_and_hold" and r.config.get("params", {}).get("symbol") == bench for r in results.values())


def comparison_figures(results: dict, colors: dict, metrics: dict) -> dict:
    """``{name: Figure}`` of a comparison, in page order."""
    first_label, first = next(iter(results.items()))
    bench = metrics[first_label].get("benchmark_metrics")
    figs = {
        "compare_metrics": F.metrics_table_figure(
            {lab: m["metrics"] for lab, m in metrics.items()}, colors=colors,
            benchmark=(f"benchmark {first.config.get('benchmark')}", bench) if bench is not None else None,
            title=f"Metrics of {len(results)} strategies, {_period(first)[0]} to {_period(first)[1]}",
            note=P.metrics_note(metrics[first_label])),
        "compare_equity": F.comparison_equity_figure(results, colors, show_benchmark=_shows_benchmark(results)),
        "compare_drawdown": F.comparison_drawdown_figure(results, colors),
        "compare_rolling": F.comparison_rolling_figure(results, colors),
        "compare_yearly": F.comparison_yearly_figure(results, colors),
    }
    sig = F.signal_figure(first, label=first_label)
    if sig is not None:
        figs["signal"] = sig
    figs["allocation"] = F.allocation_figure(first, label=first_label)
    return figs


def write_comparison(results: dict[str, RunResult], out: str | Path, pdf: bool = True) -> dict:
    """Write the comparison folder; returns ``{"metrics": {label: compute_metrics()}, "out": Path}``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    colors = strategy_colors((lab, r.strategy) for lab, r in results.items())
    metrics = {lab: M.compute_metrics(r) for lab, r in results.items()}
    first_label, first = next(iter(results.items()))

    folders = {}
    for lab, r in results.items():
        folders[lab] = _slug(lab)
        write_run(r, out / folders[lab], metrics[lab])
    eq = pd.DataFrame({lab: r.equity for lab, r in results.items()}).rename_axis("date")
    if first.benchmark is not None:
        eq[f"benchmark {first.benchmark.name}"] = first.benchmark
    atomic_write_text(out / "equity.csv", _csv(eq))
    summary = {
        "comparison": {"strategies": list(results), "first": first_label,
                       "period": dict(zip(("trade_from", "trade_to"), _period(first))),
                       "benchmark": first.config.get("benchmark"), "colors": colors},
        "strategies": {lab: {"strategy": r.strategy, "rule": r.rule, "params": r.config.get("params"),
                             "folder": folders[lab], **metrics[lab]} for lab, r in results.items()},
        "execution": first.execution, "config": {k: v for k, v in first.config.items()
                                                 if k not in ("strategy", "params")},
        "provenance": {lab: r.provenance for lab, r in results.items()},
        "versions": first.versions,
    }
    atomic_write_text(out / "metrics.json", dump_json(summary))

    figs = comparison_figures(results, colors, metrics)
    try:
        for name, fig in figs.items():
            atomic_write_bytes(out / f"{name}.png", png_bytes(fig))
        if pdf:
            pages = [comparison_cover(results, metrics, colors), *figs.values(),
                     comparison_trades_page(results, metrics, colors),
                     P.execution_page(first, metrics[first_label], extra=[
                         ("compared", f"{len(results)} strategies on the same data source, calendar policy, "
                                      f"period ({_period(first)[0]} to {_period(first)[1]}), costs and benchmark")])]
            P.write_pdf(pages, out / "report.pdf", title=f"Rotation Lab comparison: {first_label}")
    finally:
        for fig in figs.values():
            plt.close(fig)
    return {"metrics": metrics, "out": out}


# -- comparison pages --------------------------------------------------------------------------
def comparison_cover(results: dict, metrics: dict, colors: dict):
    for scale in (1.0, 0.92, 0.85, 0.78, 0.72, 0.66, 0.6, 0.55):
        fig, overflow = _comparison_cover(results, metrics, colors, scale)
        if not overflow:
            break
        plt.close(fig)
    return fig


def _comparison_cover(results: dict, metrics: dict, colors: dict, k: float):
    first_label, first = next(iter(results.items()))
    start, end = _period(first)
    with style():
        fig = P._page(f"Rotation Lab comparison: {first.strategy} and {len(results) - 1} others",
                      f"Trading {start} to {end} for every strategy ({metrics[first_label]['n_returns']:,} daily "
                      f"returns); benchmark {first.config.get('benchmark') or 'none'}; data source "
                      f"{first.config.get('source')}; same costs and fills")
        W, H = FIGSIZE
        top, bottom = H - 1.0, 0.75
        left = P.Column(fig, 0.4, top, 5.5, bottom)
        left.heading("Strategies (rule and parameters)", 12.5 * k)
        for lab, r in results.items():
            left.bullet(lab, colors[lab], size=10.5 * k, weight="bold")
            left.para(r.rule, size=9.2 * k, indent=0.2)
            changed = P.changed_params(r)
            if changed:
                left.para("parameters: " + "; ".join(f"{p}={P._param_text(v)}" for p, v in changed.items()),
                          size=8.5 * k, indent=0.2, color="0.3")
            left.gap(0.06 * k)
        right = P.Column(fig, 6.3, top, W - 6.3 - 0.4, bottom)
        right.heading("Headline", 12.5 * k)
        rows = [(lab, m["metrics"]) for lab, m in metrics.items()]
        bm = metrics[first_label].get("benchmark_metrics")
        if bm:
            rows.append((f"benchmark {first.config.get('benchmark')}", bm))
        for lab, m in rows:
            right.bullet(f"{lab}: CAGR {M.fmt(m['cagr'], 'pct')}, Sharpe {M.fmt(m['sharpe'], 'ratio')}, "
                         f"max drawdown {M.fmt(m['max_drawdown'], 'pct')}", colors.get(lab, BENCHMARK_COLOR),
                         size=9.0 * k)
        right.heading("Data provenance", 12.5 * k)
        merged = {"symbols": {}, "alignment": first.provenance.get("alignment", {})}
        hashes: dict[str, set] = {}
        for r in results.values():
            for s, meta in r.provenance.get("symbols", {}).items():
                merged["symbols"].setdefault(s, meta)
                hashes.setdefault(s, set()).add(meta.get("sha256"))
        P.provenance_block(right, merged, k)
        differ = sorted(s for s, h in hashes.items() if len(h) > 1)
        if differ:
            right.para(f"{', '.join(differ)}: strategies loaded different ranges (hashes above are the first "
                       "strategy's); each strategy's metrics.json lists its own ranges and hashes.",
                       size=7.8 * k, color="0.35")
        else:
            right.para("Every strategy read exactly these series (same SHA-256 in each strategy's metrics.json).",
                       size=7.8 * k, color="0.35")
        foot = P.Column(fig, 0.4, bottom - 0.02, W - 0.8, 0.3)
        foot.para("Versions: " + P.versions_text(first.versions), size=8.3, color="0.2")
        P._footer(fig, "Rotation Lab. Numbers in this report are the values of metrics.json in the same folder.")
    return fig, left.overflow or right.overflow or foot.overflow


def comparison_trades_page(results: dict, metrics: dict, colors: dict, n: int = 8):
    """Trade counts of every strategy, then the first and last trades of the first one."""
    first_label, first = next(iter(results.items()))
    with style():
        fig = P._page("Trades", f"Counts for every strategy; first and last {n} fills of {first_label} "
                                "(every strategy's fills: <folder>/trades.csv)")
        W, H = FIGSIZE
        header = ["strategy", "fills", "buys", "sells", "commission", "rotations", "annual turnover",
                  "rejected"]
        rows = []
        for lab, m in metrics.items():
            t = m["trades"]
            rows.append([lab, f"{t['fills']:,}", f"{t['buys']:,}", f"{t['sells']:,}", f"{t['commission']:,.2f}",
                         M.fmt(m["metrics"]["n_rotations"], "int"), M.fmt(m["metrics"]["annual_turnover"], "ratio"),
                         M.fmt(m["metrics"]["rejected_orders"], "int")])
        row_h = 0.24 / H
        top = 1 - 1.2 / H
        height = row_h * (len(rows) + 1)
        ax = P._table(fig, [0.4 / W, top - height, 1 - 0.8 / W, height], header, rows,
                      [0.40, 0.07, 0.07, 0.07, 0.11, 0.08, 0.13, 0.07],
                      ["left"] + ["right"] * 7, fontsize=8.8, gid="trade-counts")
        for (i, j), cell in ax.tables[0].get_celld().items():
            if j == 0 and i > 0:
                cell.get_text().set_color(colors[rows[i - 1][0]])
                cell.get_text().set_fontweight("bold")
        t = first.trades.reset_index(drop=True)
        y = top - height - 0.75 / H
        fig.text(0.4 / W, y + 0.32 / H, f"Trades of {first_label}", fontsize=11.5, fontweight="bold",
                 va="bottom")
        theader = ["date (fill)", "symbol", "side", "shares", "fill price", "value", "commission"]
        widths = [0.15, 0.11, 0.07, 0.15, 0.16, 0.19, 0.17]
        aligns = ["left", "left", "left", "right", "right", "right", "right"]
        parts = [("All trades", t)] if len(t) <= 2 * n else [(f"First {n}", t.head(n)), (f"Last {n}", t.tail(n))]
        x0, gap = 0.4 / W, 0.3 / W
        width = (1 - 2 * x0 - gap) / len(parts)
        for i, (name, part) in enumerate(parts):
            r = P._trade_rows(part)
            h = 0.22 / H * (len(r) + 1)
            span = f" (fills {part.index[0] + 1:,} to {part.index[-1] + 1:,} of {len(t):,})" if len(part) else ""
            fig.text(x0 + i * (width + gap), y + 0.05 / H, f"{name} trades{span}", fontsize=10.5,
                     fontweight="bold", va="bottom")
            P._table(fig, [x0 + i * (width + gap), y - h, width, h], theader, r, widths, aligns, fontsize=8.3,
                     gid=f"trades-{i}")
        P._footer(fig, "Fill dates and prices as executed (slippage included in the price); value = shares x fill "
                       "price; commission in account currency.")
    return fig


__all__ = ["BASELINES", "baseline_specs", "comparison_configs", "parse_spec", "run_comparison",
           "with_baselines", "write_comparison"]
