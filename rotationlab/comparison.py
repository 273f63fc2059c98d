"""Comparisons: a rule (or several strategies and parameter sets) beside its baselines, on
identical data, period and costs.

* :func:`parse_spec` reads ``KEY`` or ``KEY:k=v;k=v`` (lists as ``k=A,B``).
* :func:`baseline_specs` derives the baselines of a rule from its own baskets: buy-and-hold of
  the benchmark, buy-and-hold of its growth basket ("why not just hold growth?"), a static
  50/50 blend of its growth and rotation baskets, and always rotated.
* :func:`run_comparison` runs every config on one common trading period (the latest start and
  earliest end of any of them).
"""

from __future__ import annotations

import dataclasses

from rotationlab.config import RunConfig, make_rule
from rotationlab.errors import UserError

BASELINES = ("buy_and_hold", "static_blend", "always_rotated")


def parse_spec(text: str) -> tuple[str, list[str]]:
    """``"KEY:k=v;k=v"`` -> ``("KEY", ["k=v", "k=v"])``; lists stay comma-separated. A rule file
    ``path.py:Class`` keeps its colon (parameters then follow a second colon)."""
    text = str(text).strip()
    if ".py:" in text:
        head, _, tail = text.partition(".py:")
        cls, sep, rest = tail.partition(":")
        key = f"{head}.py:{cls}"
    else:
        key, _, rest = text.partition(":")
    key = key.strip()
    if not key:
        raise UserError(f"--strategy {text!r}: give a registry key, e.g. dow_nasdaq_divergence")
    params = [p.strip() for p in rest.split(";") if p.strip()]
    for p in params:
        if "=" not in p:
            raise UserError(f"--strategy {text!r}: parameter {p!r} must look like key=value; separate "
                            "parameters with ';' (e.g. KEY:threshold=0.02;hold_days=10), or use -p after --strategy")
    return key, params


def _plus(symbols) -> str:
    return "+".join(symbols)


def baseline_specs(rule, benchmark: str | None) -> list[tuple[str, str, dict]]:
    """``(label, key, params)`` of the baselines of ``rule`` (an instance)."""
    out = []
    if benchmark:
        out.append((f"buy_and_hold {benchmark}", "buy_and_hold", {"symbol": benchmark}))
    b = rule.baskets()
    growth, rotation = b.get("growth") or {}, b.get("rotation") or {}
    if growth:
        if len(growth) == 1:
            (sym,) = growth
            out.append((f"buy_and_hold growth {sym}", "buy_and_hold", {"symbol": sym}))
        else:
            out.append((f"hold growth {_plus(growth)}", "static_blend",
                        {"symbols": list(growth), "weights": [round(w, 12) for w in growth.values()]}))
    if growth and rotation:
        weights: dict[str, float] = {}
        for s, w in growth.items():
            weights[s] = weights.get(s, 0.0) + 0.5 * w
        for s, w in rotation.items():
            weights[s] = weights.get(s, 0.0) + 0.5 * w
        out.append((f"static_blend {_plus(growth)} | {_plus(rotation)}", "static_blend",
                    {"symbols": list(weights), "weights": [round(w, 12) for w in weights.values()]}))
    if rotation:
        out.append((f"always_rotated {_plus(rotation)}", "always_rotated",
                    {"rotation_symbols": list(rotation), "rotation_weights": [round(w, 12) for w in rotation.values()]}))
    return out


def _given_label(key: str, params: dict) -> str:
    text = "; ".join(f"{k}={v if not isinstance(v, (list, tuple)) else ','.join(map(str, v))}"
                     for k, v in params.items())
    return f"{key} [{text or 'defaults'}]"


def _ident(rule) -> tuple:
    return type(rule).name(), repr(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in rule.values.items()))


def with_baselines(configs: list[RunConfig], baselines: bool = True) -> list[tuple[str, RunConfig]]:
    """``(label, RunConfig)`` for ``configs`` followed by the baselines of the first one (same
    data, period, benchmark and execution settings as the first). Labels are registry keys, with
    the given parameters when a key appears more than once; exact duplicates are dropped."""
    if not configs:
        raise UserError("nothing to compare: give at least one strategy")
    keys = [c.strategy for c in configs]
    out, seen = [], set()
    for cfg in configs:
        rule = make_rule(cfg.strategy, cfg.params)
        ident = _ident(rule)
        if ident in seen:
            continue
        seen.add(ident)
        label = rule.name() if keys.count(cfg.strategy) == 1 else _given_label(rule.name(), cfg.params)
        out.append((label, cfg))
    if baselines:
        base = configs[0]
        rule = make_rule(base.strategy, base.params)
        for label, key, params in baseline_specs(rule, base.benchmark):
            ident = _ident(make_rule(key, params))
            if ident in seen:
                continue
            seen.add(ident)
            out.append((label, dataclasses.replace(base, strategy=key, params=params)))
    labels = [lab for lab, _ in out]
    if len(set(labels)) != len(labels):
        out = [(f"{lab} #{i + 1}" if labels.count(lab) > 1 else lab, c) for i, (lab, c) in enumerate(out)]
    return out


def _period(r) -> tuple[str, str]:
    p = r.provenance["period"]
    return p["trade_from"], p["trade_to"]


def run_comparison(configs: list[tuple[str, RunConfig]], data: dict | None = None, run=None,
                   progress=None) -> dict:
    """Run every config on one common trading period: the first runs as given, the others from
    its first trading date; then the common period is the latest start and earliest end of all,
    and those whose period differs are re-run on it (at most three passes). ``data`` (symbol ->
    Bars, every symbol of every config) is loaded once when not given."""
    from rotationlab.engine import load_data, needed_symbols
    if run is None:
        from rotationlab.engine import run
    if data is None:
        symbols = list(dict.fromkeys(s for _, cfg in configs for s in needed_symbols(cfg)))
        data = load_data(configs[0][1], symbols)
    (label0, cfg0), rest = configs[0], configs[1:]
    results = {label0: run(cfg0, data=data)}
    if progress:
        progress(1)
    start, _ = _period(results[label0])
    for label, cfg in rest:
        # the first one's start; its --end as given, so every strategy loads the same series
        results[label] = run(dataclasses.replace(cfg, start=start, end=cfg0.end), data=data)
        if progress:
            progress(1)
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
            results[lab] = run(dataclasses.replace(cfgs[lab], start=start, end=end), data=data)
    return results
