"""The state of a rule on one day (the ``signal`` command): what it holds, since when, the signal
values it logged, its last trigger and how far the signal is from flipping.

The rule runs exactly as in a backtest (the engine's layout, decisions from its first bar through
the as-of close, nothing after it); the distance to the next flip comes from the rule's own
:meth:`strategies.Rule.flip_distance` where it defines one.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from rotationlab.config import RunConfig
from rotationlab.errors import UserError


def rule_state(config: RunConfig, data: dict, rule, asof=None) -> dict:
    from rotationlab.engine import prepare_rule
    from rotationlab.layout import layout
    cfg = dataclasses.replace(config, start=None)
    lay = layout(cfg, data, rule)
    if asof is not None and pd.Timestamp(asof) < lay.calendar[0]:
        raise UserError(f"--asof {asof} is before the rule's first bar ({lay.calendar[0]:%Y-%m-%d}); choose a later day")
    # decide through the last bar of the layout (the layout ends at the as-of day: end = asof)
    lay_tf = len(lay.calendar)
    lay.tf = lay_tf  # every bar is a "warm-up" bar: decisions only, no trading
    h = prepare_rule(rule, lay)
    h.t = len(lay.calendar) - 1
    rows = [{"date": lay.calendar[t], **f} for t, f in (rule._signal_rows or [])]
    last = rows[-1] if rows else {}
    state = last.get("state")
    if state is None:
        state = "(no state logged)"
    since = None
    for r in reversed(rows):
        if r.get("state") != state:
            break
        since = r["date"]
    trig = [r["date"] for r in rows if r.get("triggered")]
    info = {"strategy": rule.name(), "rule": rule.sentence(), "asof": f"{lay.calendar[-1]:%Y-%m-%d}",
            "state": state, "since": f"{since:%Y-%m-%d}" if since is not None else None,
            "last_trigger": f"{trig[-1]:%Y-%m-%d}" if trig else None,
            "signal": {k: (None if isinstance(v, float) and math.isnan(v) else v)
                       for k, v in last.items() if k not in ("date",)},
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in rule.values.items()},
            "data_end": f"{lay.panel.common_end:%Y-%m-%d}"}
    sp = last.get("spread")
    if sp is not None and not (isinstance(sp, float) and math.isnan(sp)):
        info["spread"] = float(sp)
        si = rule.describe_signal() or {}
        info["spread_label"] = si.get("label", "spread")
    fd = getattr(rule, "flip_distance", None)
    if fd is not None:
        d = fd(h)
        if d:
            info["distance"] = d
    return info
