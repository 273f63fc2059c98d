"""The Dow-over-Nasdaq divergence rotation: the rule this project exists to test."""

from __future__ import annotations

import math

import numpy as np

from . import machine as M
from .base import Rule, register, weights_of


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


@register("dow_nasdaq_divergence")
class DowNasdaqDivergence(Rule):
    rule = ("Hold {growth_symbols}; when the Dow ({dow_symbol}) beats the Nasdaq ({nasdaq_symbol}) by at "
            "least {threshold:.2%} over {lookback_days} days, rotate into {rotation_symbols} for at least "
            "{hold_days} days, and rotate back once the Nasdaq beats the Dow by {exit_threshold:.2%} or more "
            "over the same window.")
    has_signal = True

    params = {
        "dow_symbol": "^DJI",
        "nasdaq_symbol": "^IXIC",
        "growth_symbols": ("^IXIC",),
        "rotation_symbols": ("^DJI",),
        "rotation_weights": (),
        "lookback_days": 5,
        "threshold": 0.03,
        "require_opposite_signs": False,
        "confirm_days": 0,
        "hold_days": 20,
        "exit_threshold": 0.0,
        "small_cap_symbol": "",
        "small_cap_confirm": False,
        "golden_cross_symbol": "",
        "golden_cross_fast_days": 50,
        "golden_cross_slow_days": 200,
        "tech_breakdown_exit": 0,
    }
    param_docs = {
        "dow_symbol": "Dow series for the signal",
        "nasdaq_symbol": "Nasdaq series for the signal",
        "growth_symbols": "held (equal weight) while not rotated",
        "rotation_symbols": "value / small-cap basket held while rotated",
        "rotation_weights": "weights of rotation_symbols (fractions summing to <= 1); empty = equal",
        "lookback_days": "N: window of the Dow and Nasdaq returns, in bars",
        "threshold": "X: trigger when Dow return minus Nasdaq return over N days >= X (fraction)",
        "require_opposite_signs": "trigger only if the Dow is up and the Nasdaq down over the window",
        "confirm_days": "follow-through: the spread must stay positive K more days before acting (0 = act at once)",
        "hold_days": "minimum bars to stay rotated",
        "exit_threshold": "rotate back when the Nasdaq beats the Dow by at least this much over N days (fraction)",
        "small_cap_symbol": "optional small-cap series (e.g. IWM, ^RUT)",
        "small_cap_confirm": "require small caps to beat the Nasdaq over the window too",
        "golden_cross_symbol": "optional: act only while this symbol's fast average is above its slow one",
        "golden_cross_fast_days": "fast moving-average window of the golden-cross filter",
        "golden_cross_slow_days": "slow moving-average window of the golden-cross filter",
        "tech_breakdown_exit": "N > 0: while not rotated, hold cash instead of growth when the Nasdaq "
                               "closes below its N-day average (0 = off)",
    }

    # -- what it needs -----------------------------------------------------------------------------
    def symbols(self):
        p = self.p
        signal = [p.dow_symbol, p.nasdaq_symbol]
        if p.small_cap_symbol:
            signal.append(p.small_cap_symbol)
        if p.golden_cross_symbol:
            signal.append(p.golden_cross_symbol)
        growth, rotation = list(p.growth_symbols), list(p.rotation_symbols)
        return {"signal": list(dict.fromkeys(signal)), "growth": growth, "rotation": rotation,
                "traded": list(dict.fromkeys([*growth, *rotation]))}

    def warmup_bars(self):
        p = self.p
        need = [p.lookback_days + 1, p.tech_breakdown_exit]
        if p.golden_cross_symbol:
            need.append(p.golden_cross_slow_days)
        return max(need)

    def validate(self):
        p = self.p
        if p.lookback_days < 1:
            raise ValueError("lookback_days must be >= 1")
        if p.confirm_days < 0 or p.hold_days < 0:
            raise ValueError("confirm_days and hold_days must be >= 0")
        if p.tech_breakdown_exit < 0:
            raise ValueError("tech_breakdown_exit must be >= 0 (0 = off)")
        if p.small_cap_confirm and not p.small_cap_symbol:
            raise ValueError("small_cap_confirm needs small_cap_symbol (e.g. small_cap_symbol=IWM)")
        if not p.growth_symbols and not p.rotation_symbols:
            raise ValueError("give growth_symbols or rotation_symbols (e.g. growth_symbols=QQQ)")
        if p.rotation_weights and len(p.rotation_weights) != len(p.rotation_symbols):
            raise ValueError("rotation_weights needs one weight per rotation symbol")
        if any(w < 0 for w in p.rotation_weights):
            raise ValueError("rotation_weights must not be negative")
        if p.rotation_weights and sum(p.rotation_weights) > 1 + 1e-9:
            raise ValueError("rotation_weights must sum to at most 1")
        if p.golden_cross_symbol and not 1 <= p.golden_cross_fast_days < p.golden_cross_slow_days:
            raise ValueError("golden_cross_fast_days must be >= 1 and below golden_cross_slow_days")

    def sentence(self):
        p = self.p
        parts = [f"Hold {','.join(p.growth_symbols) or 'cash'}"]
        if p.tech_breakdown_exit:
            parts[0] += (f" (cash instead while {p.nasdaq_symbol} closes below its {p.tech_breakdown_exit}-day "
                         "average)")
        cond = (f"when the Dow ({p.dow_symbol}) beats the Nasdaq ({p.nasdaq_symbol}) by at least "
                f"{p.threshold:.2%} over {_days(p.lookback_days)}")
        extra = []
        if p.require_opposite_signs:
            extra.append("with the Dow up and the Nasdaq down")
        if p.small_cap_confirm:
            extra.append(f"with small caps ({p.small_cap_symbol}) also beating the Nasdaq")
        if p.golden_cross_symbol:
            extra.append(f"while {p.golden_cross_symbol}'s {p.golden_cross_fast_days}-day average is above its "
                         f"{p.golden_cross_slow_days}-day average")
        if extra:
            cond += " " + " and ".join(extra)
        if p.confirm_days:
            cond += f", then {p.confirm_days} more day{'s' if p.confirm_days != 1 else ''} of follow-through"
        rot = ",".join(p.rotation_symbols) or "cash"
        if p.rotation_weights:
            rot += " (" + ", ".join(f"{w:.0%}" for w in p.rotation_weights) + ")"
        hold = f" for at least {_days(p.hold_days)}" if p.hold_days else ""
        back = (f"once the Nasdaq beats the Dow by {p.exit_threshold:.2%} or more over the same window"
                if p.exit_threshold else "once the Nasdaq beats the Dow over the same window")
        return f"{parts[0]}; {cond}, rotate into {rot}{hold}, and rotate back {back}."

    def describe_signal(self):
        p = self.p
        return {"label": f"{p.dow_symbol} minus {p.nasdaq_symbol} {p.lookback_days}-day return",
                "legs": [p.dow_symbol, p.nasdaq_symbol], "leg_names": ["Dow", "Nasdaq"],
                "threshold": p.threshold, "exit_threshold": -p.exit_threshold if p.exit_threshold else None,
                "units": "return"}

    # -- the decision, one close at a time (both engines' reference) --------------------------------
    def start(self):
        self.state, self.pending, self.held = M.GROWTH, 0, 0
        b = self.baskets()
        self.growth = b.get("growth", {})
        self.rotation = b.get("rotation", {})

    def baskets(self):
        p = self.p
        return {"growth": weights_of(p.growth_symbols), "rotation": weights_of(p.rotation_symbols, p.rotation_weights)}

    def spread(self, h):
        n = self.p.lookback_days
        dow, nas = h.ret(self.p.dow_symbol, n), h.ret(self.p.nasdaq_symbol, n)
        return dow - nas, dow, nas

    def triggered(self, h, spread, dow, nas) -> bool:
        p = self.p
        if not spread >= p.threshold:
            return False
        if p.require_opposite_signs and not (dow > 0 > nas):
            return False
        if p.small_cap_confirm and not h.ret(p.small_cap_symbol, p.lookback_days) > nas:
            return False
        if p.golden_cross_symbol and not (h.sma(p.golden_cross_symbol, p.golden_cross_fast_days)
                                          > h.sma(p.golden_cross_symbol, p.golden_cross_slow_days)):
            return False
        return True

    def decide(self, h):
        p = self.p
        spread, dow, nas = self.spread(h)
        if math.isnan(spread):
            self.log_signal(spread=spread, triggered=False, state="warmup")
            return None
        fired = self.triggered(h, spread, dow, nas)
        self.state, self.pending, self.held = M.step(
            self.state, self.pending, self.held, True, fired, spread > 0,
            spread < 0 and -spread >= p.exit_threshold, p.confirm_days, p.hold_days)
        self.log_signal(spread=spread, triggered=fired, state=M.STATE_NAMES[self.state])
        if self.state == M.ROTATED:
            return self.rotation
        if p.tech_breakdown_exit and h.last(p.nasdaq_symbol) < h.sma(p.nasdaq_symbol, p.tech_breakdown_exit):
            return {}
        return self.growth

    def flip_distance(self, h):
        """How far the spread is from changing the state, in its own units (fractions of return)."""
        p = self.p
        spread, dow, nas = self.spread(h)
        if math.isnan(spread):
            return None
        if self.state == M.ROTATED:
            need = 0.0 - p.exit_threshold  # the spread must fall below 0 and to -exit_threshold
            gap = spread - need if spread >= need else 0.0
            wait = max(0, p.hold_days - self.held)
            text = (f"spread {spread:+.2%}: back to growth once it is below {need:+.2%}"
                    + (" (it is)" if gap <= 0 and spread < 0 else f", {gap * 100:.2f} points to go")
                    + (f", after {wait} more day(s) of the minimum hold" if wait else ""))
            return {"value": float(gap), "units": "fraction (spread points above the exit level)", "text": text,
                    "hold_days_left": wait, "exit_level": need}
        if self.state == M.PENDING:
            left = max(0, p.confirm_days - self.pending)
            return {"value": float(spread), "units": "fraction (spread)", "follow_through_days_left": left,
                    "text": f"spread {spread:+.2%}: {left} more day(s) of positive spread before rotating"}
        gap = p.threshold - spread
        blocked = []
        if p.require_opposite_signs and not (dow > 0 > nas):
            blocked.append("the Dow up and the Nasdaq down")
        if p.small_cap_confirm and not h.ret(p.small_cap_symbol, p.lookback_days) > nas:
            blocked.append(f"{p.small_cap_symbol} beating the Nasdaq")
        if p.golden_cross_symbol and not (h.sma(p.golden_cross_symbol, p.golden_cross_fast_days)
                                          > h.sma(p.golden_cross_symbol, p.golden_cross_slow_days)):
            blocked.append(f"a golden cross of {p.golden_cross_symbol}")
        text = (f"spread {spread:+.2%} over {_days(p.lookback_days)}: "
                + (f"{gap * 100:.2f} points below the {p.threshold:.2%} entry threshold" if gap > 0
                   else f"at or above the {p.threshold:.2%} entry threshold"))
        if blocked:
            text += "; also needs " + " and ".join(blocked)
        return {"value": float(gap), "units": "fraction (spread points to the entry threshold)", "text": text,
                "entry_threshold": p.threshold, "filters_blocking": blocked}

    # -- the same decisions over the whole window ---------------------------------------------------
    @classmethod
    def vectorized_many(cls, panel, rules):
        """The decisions of many parameter sets: the spread and the exit condition computed once
        per look-back, the state machine run over every set of that look-back in one call."""
        groups: dict = {}
        for i, r in enumerate(rules):
            p = r.p
            key = (p.dow_symbol, p.nasdaq_symbol, p.lookback_days, p.exit_threshold, p.tech_breakdown_exit)
            groups.setdefault(key, []).append(i)
        out = [None] * len(rules)
        for (dow_s, nas_s, n, exit_threshold, breakdown), members in groups.items():
            dow, nas = panel.ret(dow_s, n), panel.ret(nas_s, n)

            def legs():  # what depends on the look-back and the exit level only
                with np.errstate(invalid="ignore"):
                    spread = dow - nas
                    return spread, ~np.isnan(spread), spread > 0, (spread < 0) & (-spread >= exit_threshold)
            spread, valid, confirmed, exited = panel.memo(("divergence", dow_s, nas_s, n, exit_threshold), legs)
            entered = np.empty((len(members), panel.T), dtype=np.bool_)
            with np.errstate(invalid="ignore"):
                for row, i in enumerate(members):
                    p = rules[i].p
                    fired = np.greater_equal(spread, p.threshold, out=entered[row])
                    if p.require_opposite_signs:
                        fired &= (dow > 0) & (nas < 0)
                    if p.small_cap_confirm:
                        fired &= panel.ret(p.small_cap_symbol, n) > nas
                    if p.golden_cross_symbol:
                        fired &= (panel.sma(p.golden_cross_symbol, p.golden_cross_fast_days)
                                  > panel.sma(p.golden_cross_symbol, p.golden_cross_slow_days))
                cash = (panel.close(nas_s) < panel.sma(nas_s, breakdown)) if breakdown else None
            shared: dict = {}  # equal basket parameters: the same basket objects
            baskets = []
            for i in members:
                p = rules[i].p
                key = (p.growth_symbols, p.rotation_symbols, p.rotation_weights)
                b = shared.get(key)
                if b is None:
                    b = shared[key] = rules[i].named_baskets()
                baskets.append((b["growth"], b["rotation"]))
            decs = M.decisions_many(valid, entered, confirmed, exited, [rules[i].p.confirm_days for i in members],
                                    [rules[i].p.hold_days for i in members], baskets, cash)
            for i, d in zip(members, decs):
                out[i] = d
        return out
