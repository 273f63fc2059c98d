"""The Dow-over-Nasdaq divergence rotation: the rule this project exists to test."""

from __future__ import annotations

import math

from .base import History, RotationStrategy, equal_weights, register


@register("dow_nasdaq_divergence")
class DowNasdaqDivergence(RotationStrategy):
    rule = ("Hold {growth_symbols}; when the Dow ({dow_symbol}) beats the Nasdaq ({nasdaq_symbol}) by at "
            "least {threshold:.2%} over {lookback_days} days (then {confirm_days} more days of follow-through), "
            "rotate into {rotation_symbols} for at least {hold_days} days, and rotate back once the Nasdaq "
            "beats the Dow by {exit_threshold:.2%} or more over the same window.")
    has_signal = True

    params = (
        ("dow_symbol", "^DJI"),
        ("nasdaq_symbol", "^IXIC"),
        ("growth_symbols", ("^IXIC",)),
        ("rotation_symbols", ("^DJI",)),
        ("rotation_weights", ()),
        ("lookback_days", 5),
        ("threshold", 0.03),
        ("require_opposite_signs", False),
        ("confirm_days", 0),
        ("hold_days", 20),
        ("exit_threshold", 0.0),
        ("small_cap_symbol", ""),
        ("small_cap_confirm", False),
        ("golden_cross_symbol", ""),
        ("golden_cross_fast_days", 50),
        ("golden_cross_slow_days", 200),
        ("tech_breakdown_exit", 0),
    )
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

    @classmethod
    def symbols(cls, p):
        signal = [p.dow_symbol, p.nasdaq_symbol]
        if p.small_cap_symbol:
            signal.append(p.small_cap_symbol)
        if p.golden_cross_symbol:
            signal.append(p.golden_cross_symbol)
        return {"signal": signal, "traded": list(dict.fromkeys([*p.growth_symbols, *p.rotation_symbols]))}

    @classmethod
    def warmup_bars(cls, p):
        need = [p.lookback_days + 1, p.tech_breakdown_exit]
        if p.golden_cross_symbol:
            need.append(p.golden_cross_slow_days)
        return max(need)

    @classmethod
    def validate(cls, p):
        if p.lookback_days < 1:
            raise ValueError("lookback_days must be >= 1")
        if p.confirm_days < 0 or p.hold_days < 0:
            raise ValueError("confirm_days and hold_days must be >= 0")
        if p.small_cap_confirm and not p.small_cap_symbol:
            raise ValueError("small_cap_confirm needs small_cap_symbol (e.g. small_cap_symbol=IWM)")
        if p.rotation_weights and len(p.rotation_weights) != len(p.rotation_symbols):
            raise ValueError("rotation_weights needs one weight per rotation symbol")
        if p.rotation_weights and sum(p.rotation_weights) > 1 + 1e-9:
            raise ValueError("rotation_weights must sum to at most 1")
        if p.golden_cross_fast_days >= p.golden_cross_slow_days:
            raise ValueError("golden_cross_fast_days must be below golden_cross_slow_days")

    def __init__(self):
        super().__init__()
        p = self.p
        self.state = "growth"
        self.pending = 0
        self.held = 0
        self.growth = equal_weights(p.growth_symbols)
        self.rotation = (dict(zip(p.rotation_symbols, map(float, p.rotation_weights)))
                         if p.rotation_weights else equal_weights(p.rotation_symbols))

    def spread(self, h: History) -> tuple[float, float, float]:
        n = self.p.lookback_days
        dow, nas = h.ret(self.p.dow_symbol, n), h.ret(self.p.nasdaq_symbol, n)
        return dow - nas, dow, nas

    def triggered(self, h: History, spread: float, dow: float, nas: float) -> bool:
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

    def decide(self, h: History):
        p = self.p
        spread, dow, nas = self.spread(h)
        if math.isnan(spread):
            self.log_signal(spread=spread, triggered=False, state="warmup")
            return None
        fired = self.triggered(h, spread, dow, nas)
        if self.state == "rotated":
            self.held += 1
            if self.held >= p.hold_days and spread < 0 and -spread >= p.exit_threshold:
                self.state = "growth"
        elif self.state == "pending":
            self.pending = self.pending + 1 if spread > 0 else -1
            if self.pending < 0:
                self.state = "growth"
            elif self.pending >= p.confirm_days:
                self.state, self.held = "rotated", 0
        elif fired:
            if p.confirm_days == 0:
                self.state, self.held = "rotated", 0
            else:
                self.state, self.pending = "pending", 0
        self.log_signal(spread=spread, triggered=fired, state=self.state)
        if self.state == "rotated":
            return self.rotation
        if p.tech_breakdown_exit and h.close(p.nasdaq_symbol)[-1] < h.sma(p.nasdaq_symbol, p.tech_breakdown_exit):
            return {}
        return self.growth
