"""Baselines every rotation rule is compared with."""

from __future__ import annotations

import math

import numpy as np

from .base import Decisions, Rule, Target, equal_weights, new_month, new_month_mask, register, weights_of


def _check_weights(symbols, weights, name="weights") -> None:
    if weights and len(weights) != len(symbols):
        raise ValueError(f"{name} needs one weight per symbol")
    if any(w < 0 for w in weights):
        raise ValueError(f"{name} must not be negative (short positions are not supported)")
    if weights and sum(weights) > 1 + 1e-9:
        raise ValueError(f"{name} must sum to at most 1")


@register("buy_and_hold")
class BuyAndHold(Rule):
    rule = "Buy {symbol} on the first bar and hold it."
    params = {"symbol": "^GSPC"}
    param_docs = {"symbol": "the symbol held"}

    def symbols(self):
        return {"signal": [], "growth": [self.p.symbol], "rotation": [], "traded": [self.p.symbol]}

    def decide(self, h):
        return {self.p.symbol: 1.0}

    def vectorized(self, panel):
        return Decisions(codes=np.zeros(panel.T, dtype=np.int16), rows=[{self.p.symbol: 1.0}])


class _MonthlyBasket(Rule):
    """Hold one fixed basket, rebalanced to its weights on the first bar of each month."""

    def basket(self) -> dict:
        raise NotImplementedError

    def decide(self, h):
        return Target(self.basket(), rebalance=new_month(h))

    def vectorized(self, panel):
        return Decisions(codes=np.zeros(panel.T, dtype=np.int16), rows=[self.basket()],
                         force=new_month_mask(panel))


@register("static_blend")
class StaticBlend(_MonthlyBasket):
    rule = "Hold {symbols} at fixed weights ({weights}), rebalanced on the first bar of each month."
    params = {"symbols": ("^IXIC", "^DJI"), "weights": ()}
    param_docs = {"symbols": "symbols held", "weights": "their weights (fractions); empty = equal"}

    def symbols(self):
        s = list(self.p.symbols)
        return {"signal": [], "growth": [], "rotation": [], "traded": list(dict.fromkeys(s))}

    def validate(self):
        if not self.p.symbols:
            raise ValueError("give at least one symbol (e.g. symbols=QQQ,DIA)")
        _check_weights(self.p.symbols, self.p.weights)

    def basket(self):
        return weights_of(self.p.symbols, self.p.weights)


@register("always_rotated")
class AlwaysRotated(_MonthlyBasket):
    rule = "Always hold the rotation basket {rotation_symbols} (weights: {rotation_weights}), rebalanced monthly."
    params = {"rotation_symbols": ("^DJI",), "rotation_weights": ()}
    param_docs = {"rotation_symbols": "the value / small-cap basket",
                  "rotation_weights": "its weights (fractions); empty = equal"}

    def validate(self):
        if not self.p.rotation_symbols:
            raise ValueError("give at least one rotation symbol (e.g. rotation_symbols=DIA,IWM)")
        _check_weights(self.p.rotation_symbols, self.p.rotation_weights, "rotation_weights")

    def basket(self):
        return weights_of(self.p.rotation_symbols, self.p.rotation_weights)


@register("momentum_rotation")
class MomentumRotation(Rule):
    rule = ("On the first bar of each month, hold the top {top_n} of {universe} by {lookback_days}-day "
            "return, equal weight.")
    params = {"universe": ("^IXIC", "^DJI", "^GSPC"), "top_n": 1, "lookback_days": 126}
    param_docs = {"universe": "symbols ranked", "top_n": "how many to hold",
                  "lookback_days": "L: momentum window in bars"}

    def symbols(self):
        u = list(dict.fromkeys(self.p.universe))
        return {"signal": [], "growth": [], "rotation": [], "traded": u}

    def warmup_bars(self):
        return self.p.lookback_days + 1

    def validate(self):
        if self.p.lookback_days < 1:
            raise ValueError("lookback_days must be >= 1")
        if not 1 <= self.p.top_n <= len(self.p.universe):
            raise ValueError(f"top_n must be between 1 and the universe size ({len(self.p.universe)})")

    def decide(self, h):
        if not new_month(h):
            return None
        scores = {s: h.ret(s, self.p.lookback_days) for s in self.p.universe}
        ranked = sorted((s for s in scores if not math.isnan(scores[s])), key=lambda s: (-scores[s], s))
        if not ranked:
            return None
        return Target(equal_weights(ranked[: self.p.top_n]), rebalance=True)


@register("golden_cross_timing")
class GoldenCrossTiming(Rule):
    rule = ("Hold {symbol} while its {fast_days}-day average is above its {slow_days}-day average; "
            "otherwise hold cash.")
    params = {"symbol": "^GSPC", "fast_days": 50, "slow_days": 200}
    param_docs = {"symbol": "symbol timed and held", "fast_days": "fast average window",
                  "slow_days": "slow average window"}
    has_signal = True

    def symbols(self):
        return {"signal": [], "growth": [self.p.symbol], "rotation": [], "traded": [self.p.symbol]}

    def warmup_bars(self):
        return self.p.slow_days

    def validate(self):
        if not 1 <= self.p.fast_days < self.p.slow_days:
            raise ValueError("fast_days must be >= 1 and below slow_days")

    def describe_signal(self):
        p = self.p
        return {"label": f"{p.symbol} {p.fast_days}-day / {p.slow_days}-day average - 1", "threshold": 0.0,
                "units": "ratio"}

    def decide(self, h):
        p = self.p
        fast, slow = h.sma(p.symbol, p.fast_days), h.sma(p.symbol, p.slow_days)
        if math.isnan(slow):
            self.log_signal(spread=float("nan"), triggered=False, state="warmup")
            return None
        on = fast > slow
        self.log_signal(spread=fast / slow - 1.0, triggered=on, state="invested" if on else "cash")
        return {p.symbol: 1.0} if on else {}

    def vectorized(self, panel):
        p = self.p
        fast, slow = panel.sma(p.symbol, p.fast_days), panel.sma(p.symbol, p.slow_days)
        with np.errstate(invalid="ignore"):
            codes = np.where(fast > slow, 0, 1).astype(np.int16)
        codes[np.isnan(slow)] = -1
        return Decisions(codes=codes, rows=[{p.symbol: 1.0}, {}])
