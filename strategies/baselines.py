"""Baselines every rotation rule is compared with."""

from __future__ import annotations

import math

from .base import History, RotationStrategy, Target, equal_weights, register


def _new_month(h: History) -> bool:
    return h.prev_date is None or h.date.month != h.prev_date.month


@register("buy_and_hold")
class BuyAndHold(RotationStrategy):
    rule = "Buy {symbol} on the first bar and hold it."
    params = (("symbol", "^GSPC"),)
    param_docs = {"symbol": "the symbol held"}

    @classmethod
    def symbols(cls, p):
        return {"signal": [], "traded": [p.symbol]}

    def decide(self, h):
        return {self.p.symbol: 1.0}


@register("static_blend")
class StaticBlend(RotationStrategy):
    rule = "Hold {symbols} at fixed weights ({weights}), rebalanced on the first bar of each month."
    params = (("symbols", ("^IXIC", "^DJI")), ("weights", ()))
    param_docs = {"symbols": "symbols held", "weights": "their weights (fractions); empty = equal"}

    @classmethod
    def symbols(cls, p):
        return {"signal": [], "traded": list(p.symbols)}

    @classmethod
    def validate(cls, p):
        if p.weights and len(p.weights) != len(p.symbols):
            raise ValueError("weights needs one weight per symbol")
        if p.weights and sum(p.weights) > 1 + 1e-9:
            raise ValueError("weights must sum to at most 1")

    def decide(self, h):
        w = dict(zip(self.p.symbols, map(float, self.p.weights))) if self.p.weights else equal_weights(self.p.symbols)
        return Target(w, rebalance=_new_month(h))


@register("always_rotated")
class AlwaysRotated(RotationStrategy):
    rule = "Always hold the rotation basket {rotation_symbols} (weights: {rotation_weights}), rebalanced monthly."
    params = (("rotation_symbols", ("^DJI",)), ("rotation_weights", ()))
    param_docs = {"rotation_symbols": "the value / small-cap basket",
                  "rotation_weights": "its weights (fractions); empty = equal"}

    @classmethod
    def symbols(cls, p):
        return {"signal": [], "traded": list(p.rotation_symbols)}

    def decide(self, h):
        p = self.p
        w = dict(zip(p.rotation_symbols, map(float, p.rotation_weights))) if p.rotation_weights \
            else equal_weights(p.rotation_symbols)
        return Target(w, rebalance=_new_month(h))


@register("momentum_rotation")
class MomentumRotation(RotationStrategy):
    rule = ("On the first bar of each month, hold the top {top_n} of {universe} by {lookback_days}-day "
            "return, equal weight.")
    params = (("universe", ("^IXIC", "^DJI", "^GSPC")), ("top_n", 1), ("lookback_days", 126))
    param_docs = {"universe": "symbols ranked", "top_n": "how many to hold",
                  "lookback_days": "L: momentum window in bars"}

    @classmethod
    def symbols(cls, p):
        return {"signal": [], "traded": list(p.universe)}

    @classmethod
    def warmup_bars(cls, p):
        return p.lookback_days + 1

    @classmethod
    def validate(cls, p):
        if not 1 <= p.top_n <= len(p.universe):
            raise ValueError(f"top_n must be between 1 and the universe size ({len(p.universe)})")

    def decide(self, h):
        if not _new_month(h):
            return None
        scores = {s: h.ret(s, self.p.lookback_days) for s in self.p.universe}
        ranked = sorted((s for s in scores if not math.isnan(scores[s])), key=lambda s: (-scores[s], s))
        if not ranked:
            return None
        return Target(equal_weights(ranked[: self.p.top_n]), rebalance=True)


@register("golden_cross_timing")
class GoldenCrossTiming(RotationStrategy):
    rule = ("Hold {symbol} while its {fast_days}-day average is above its {slow_days}-day average; "
            "otherwise hold cash.")
    params = (("symbol", "^GSPC"), ("fast_days", 50), ("slow_days", 200))
    param_docs = {"symbol": "symbol timed and held", "fast_days": "fast average window",
                  "slow_days": "slow average window"}
    has_signal = True

    @classmethod
    def symbols(cls, p):
        return {"signal": [], "traded": [p.symbol]}

    @classmethod
    def warmup_bars(cls, p):
        return p.slow_days

    @classmethod
    def validate(cls, p):
        if p.fast_days >= p.slow_days:
            raise ValueError("fast_days must be below slow_days")

    def decide(self, h):
        p = self.p
        fast, slow = h.sma(p.symbol, p.fast_days), h.sma(p.symbol, p.slow_days)
        if math.isnan(slow):
            self.log_signal(spread=float("nan"), triggered=False, state="warmup")
            return None
        on = fast > slow
        self.log_signal(spread=fast / slow - 1.0, triggered=on, state="invested" if on else "cash")
        return {p.symbol: 1.0} if on else {}
