"""Relative-strength and breadth rotations: a basket's strength against a benchmark, cyclicals
against defensives, and the share of a universe above its own average (with a breadth thrust).

The signals are the expression language's (:mod:`rotationlab.expr`): ``rs(S, B, n)``,
``pct_above(n, ...)`` and ``thrust(low, high, n, ...)``, computed by the same functions in both
forms of each rule: ``decide`` applies them to the last bars of its :class:`History` (nothing
after the decision close), ``vectorized`` to the whole window at once; the state machine
(:mod:`strategies.machine`) is the shared one. A basket is one line, the geometric mean of its
members' closes (:func:`rotationlab.expr.basket_line`; a one-member basket is the member itself),
so a basket's relative strength does not depend on its members' price levels.

Each rule also gives :meth:`flip_distance`: how far its signal is from the next flip, in the
signal's own units.
"""

from __future__ import annotations

import math

import numpy as np

from rotationlab import expr as X

from . import machine as M
from .base import Rule, register, weights_of


def _check_basket(symbols, weights, name: str) -> None:
    if weights and len(weights) != len(symbols):
        raise ValueError(f"{name}_weights needs one weight per symbol of {name}_symbols")
    if any(w < 0 for w in weights):
        raise ValueError(f"{name}_weights must not be negative")
    if weights and sum(weights) > 1 + 1e-9:
        raise ValueError(f"{name}_weights must sum to at most 1")


def _tail(h, symbol: str, bars: int) -> np.ndarray:
    """The last ``bars`` closes of ``symbol`` through the decision date (fewer early on)."""
    c = h.close(symbol)
    return c[max(0, len(c) - bars):]


def _names(symbols) -> str:
    return ",".join(symbols) or "cash"


def _pts(x: float) -> str:
    return f"{abs(x) * 100:.2f} points"


class _SignalRotation(Rule):
    """A signal in its own units decides between the growth basket (the base state) and the
    rotation basket, through the shared state machine. Subclasses give the signal's value and
    conditions per bar (:meth:`signal_at`) and for the whole window (:meth:`signal_arrays`)."""

    has_signal = True

    # -- what a subclass gives -------------------------------------------------------------------
    def signal_at(self, h) -> tuple[float, bool, bool, bool]:
        """``(value, entered, confirmed, exited)`` at the close of ``h.date`` (value NaN: warm-up)."""
        raise NotImplementedError

    def signal_arrays(self, panel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(value, valid, entered, confirmed, exited)`` over the window."""
        raise NotImplementedError

    def held_baskets(self) -> tuple[dict, dict]:
        """``(base, rotated)`` target weights."""
        b = self.baskets()
        return b.get("growth", {}), b.get("rotation", {})

    # -- the decision, one close at a time -------------------------------------------------------
    def start(self):
        self.state, self.pending, self.held = M.GROWTH, 0, 0
        self.base, self.rotated = self.held_baskets()

    def decide(self, h):
        value, entered, confirmed, exited = self.signal_at(h)
        if math.isnan(value):
            self.log_signal(spread=value, triggered=False, state="warmup")
            return None
        p = self.p
        self.state, self.pending, self.held = M.step(self.state, self.pending, self.held, True, entered,
                                                     confirmed, exited, p.confirm_days, p.hold_days)
        self.log_signal(spread=value, triggered=bool(entered), state=M.STATE_NAMES[self.state])
        return self.rotated if self.state == M.ROTATED else self.base

    # -- the same decisions over the whole window ------------------------------------------------
    def vectorized(self, panel):
        p = self.p
        value, valid, entered, confirmed, exited = self.signal_arrays(panel)
        base, rot = self.held_baskets()
        return M.decisions(valid, entered, confirmed, exited, p.confirm_days, p.hold_days, base, rot)

    # -- the distance to the next flip -----------------------------------------------------------
    def _distance(self, value: float, entry: float, exit_level: float, confirm_level: float, what: str, fmt,
                  units: str, also: str = "") -> dict | None:
        """``flip_distance`` of a signal entering at ``value >= entry``, following through while
        above ``confirm_level`` and leaving below ``exit_level``; call after ``decide`` for the
        same bar. ``value``: the change of the signal that flips the state (positive: it must
        rise by that much, negative: fall), in the signal's units."""
        if math.isnan(value):
            return None
        p = self.p
        def where(level):
            return f"{_pts(value - level)} {'above' if value >= level else 'below'}"
        if self.state == M.ROTATED:
            text = f"{what} {where(exit_level)} the {fmt(exit_level)} exit level"
            if self.held < p.hold_days:
                text += f"; held {self.held} of at least {p.hold_days} days"
            return {"value": exit_level - value, "units": units, "to": "exit", "signal": value, "level": exit_level,
                    "text": text}
        if self.state == M.PENDING:
            return {"value": confirm_level - value, "units": units, "to": "follow-through", "signal": value,
                    "level": confirm_level,
                    "text": f"entry pending: {self.pending} of {p.confirm_days} follow-through days; {what} "
                            f"{where(confirm_level)} the {fmt(confirm_level)} it must stay above"}
        return {"value": entry - value, "units": units, "to": "entry", "signal": value, "level": entry,
                "text": f"{what} {where(entry)} the {fmt(entry)} entry threshold{also}"}


class _RelativeStrength(_SignalRotation):
    """Relative strength of one basket against another (:func:`rotationlab.expr.relative_strength`
    of their lines), entering at ``rs >= threshold``, following through while ``rs > 0`` and
    leaving once ``rs <= -exit_threshold`` (``rs < 0`` when it is 0)."""

    def legs(self) -> tuple[list, list]:
        """``(measured basket, benchmark basket)``."""
        raise NotImplementedError

    def warmup_bars(self):
        return self.p.rs_days

    def _check_rs(self):
        p = self.p
        if p.rs_days < 2:
            raise ValueError("rs_days must be >= 2 (the relative strength is the ratio over its rs_days-day average)")
        if not p.threshold >= 0 or not p.exit_threshold >= 0:
            raise ValueError("threshold and exit_threshold must be >= 0 (fractions, e.g. 0.02)")
        if p.confirm_days < 0 or p.hold_days < 0:
            raise ValueError("confirm_days and hold_days must be >= 0")
        a, b = self.legs()
        if not a or not b:
            raise ValueError("give both baskets of the relative strength (e.g. rotation_symbols=XLI and "
                             "benchmark_symbols=SPY)")
        if list(a) == list(b):
            raise ValueError("the measured basket and its benchmark are the same; name different symbols")

    def _conditions(self, rs):
        p = self.p
        with np.errstate(invalid="ignore"):
            return rs >= p.threshold, rs > 0, (rs < 0) & (-rs >= p.exit_threshold)

    def signal_at(self, h):
        n = self.p.rs_days
        a, b = self.legs()
        line_a = X.basket_line([_tail(h, s, n) for s in a])
        line_b = X.basket_line([_tail(h, s, n) for s in b])
        rs = float(X.relative_strength(line_a, line_b, n)[-1])
        entered, confirmed, exited = self._conditions(rs)
        return rs, bool(entered), bool(confirmed), bool(exited)

    def rs_array(self, panel) -> np.ndarray:
        a, b = self.legs()
        n = self.p.rs_days

        def compute():
            line_a = X.basket_line([panel.close(s) for s in a])
            line_b = X.basket_line([panel.close(s) for s in b])
            return X.relative_strength(line_a, line_b, n)
        return panel._memo("relative_strength", (tuple(a), tuple(b)), n, compute)

    def signal_arrays(self, panel):
        rs = self.rs_array(panel)
        entered, confirmed, exited = self._conditions(rs)
        return rs, ~np.isnan(rs), entered, confirmed, exited

    def _rs_words(self) -> str:
        a, b = self.legs()
        return f"{'+'.join(a)} vs {'+'.join(b)}"

    def describe_signal(self):
        p = self.p
        a, b = self.legs()
        info = {"label": f"relative strength {self._rs_words()}: ratio / its {p.rs_days}-day average - 1",
                "threshold": p.threshold, "exit_threshold": -p.exit_threshold if p.exit_threshold else None,
                "units": "ratio"}
        if len(a) == 1 and len(b) == 1:
            info["legs"] = [a[0], b[0]]
        return info

    def flip_distance(self, h) -> dict | None:
        """How far the relative strength is from the next flip (percentage points), after
        ``decide(h)``: to the entry threshold while not rotated, to the exit level while rotated."""
        p = self.p
        rs = self.signal_at(h)[0]
        exit_level = -p.exit_threshold
        return self._distance(rs, p.threshold, exit_level, 0.0, "relative strength", lambda x: f"{x:.2%}",
                              "relative strength (fraction)")


@register("relative_strength_rotation")
class RelativeStrengthRotation(_RelativeStrength):
    rule = ("Hold {growth_symbols}; when the ratio of {rotation_symbols} to {benchmark_symbols} is at least "
            "{threshold:.2%} above its {rs_days}-day average, rotate into {rotation_symbols}, and rotate back once "
            "the ratio is {exit_threshold:.2%} or more below its average.")
    params = {
        "rotation_symbols": ("^DJI",),
        "rotation_weights": (),
        "growth_symbols": ("^IXIC",),
        "benchmark_symbols": ("^GSPC",),
        "signal_symbols": (),
        "rs_days": 50,
        "threshold": 0.02,
        "exit_threshold": 0.0,
        "confirm_days": 0,
        "hold_days": 0,
    }
    param_docs = {
        "rotation_symbols": "basket held while its relative strength is high (e.g. XLI,XLV,XLF,XLP)",
        "rotation_weights": "weights of rotation_symbols (fractions summing to <= 1); empty = equal",
        "growth_symbols": "held (equal weight) while not rotated; empty = cash",
        "benchmark_symbols": "the relative strength is measured against this symbol (or basket: geometric mean)",
        "signal_symbols": "basket whose relative strength is measured; empty = rotation_symbols",
        "rs_days": "N: the ratio basket / benchmark is compared with its N-day average",
        "threshold": "rotate when the ratio is at least this far above its average (fraction, 0.02 = 2%)",
        "exit_threshold": "rotate back once the ratio is at least this far below its average (fraction; 0 = below it)",
        "confirm_days": "follow-through: the ratio must stay above its average K more days before acting (0 = at once)",
        "hold_days": "minimum bars to stay rotated",
    }

    def legs(self):
        p = self.p
        return list(p.signal_symbols or p.rotation_symbols), list(p.benchmark_symbols)

    def symbols(self):
        p = self.p
        a, b = self.legs()
        growth, rotation = list(p.growth_symbols), list(p.rotation_symbols)
        return {"signal": list(dict.fromkeys([*a, *b])), "growth": growth, "rotation": rotation,
                "traded": list(dict.fromkeys([*growth, *rotation]))}

    def validate(self):
        p = self.p
        if not p.rotation_symbols:
            raise ValueError("give rotation_symbols (the basket to rotate into, e.g. rotation_symbols=XLI,XLV)")
        _check_basket(p.rotation_symbols, p.rotation_weights, "rotation")
        self._check_rs()

    def baskets(self):
        p = self.p
        out = {"rotation": weights_of(p.rotation_symbols, p.rotation_weights)}
        out["growth"] = weights_of(p.growth_symbols) if p.growth_symbols else {}
        return out

    def sentence(self):
        p = self.p
        a, b = self.legs()
        basket = " (geometric means of the closes)" if len(a) > 1 or len(b) > 1 else ""
        lead = f"at least {p.threshold:.2%} above" if p.threshold else "above"
        cond = f"when the ratio of {'+'.join(a)} to {'+'.join(b)}{basket} is {lead} its {p.rs_days}-day average"
        if p.confirm_days:
            cond += (f", then stays above it {p.confirm_days} more day{'s' if p.confirm_days != 1 else ''} "
                     "(follow-through)")
        rot = _names(p.rotation_symbols)
        if p.rotation_weights:
            rot += " (" + ", ".join(f"{w:.0%}" for w in p.rotation_weights) + ")"
        hold = f" for at least {p.hold_days} days" if p.hold_days else ""
        back = (f"once the ratio is {p.exit_threshold:.2%} or more below its average" if p.exit_threshold
                else "once the ratio falls below its average")
        return f"Hold {_names(p.growth_symbols)}; {cond}, rotate into {rot}{hold}, and rotate back {back}."


@register("cyclical_defensive")
class CyclicalDefensive(_RelativeStrength):
    rule = ("Hold the defensives {defensive_symbols}; when the ratio of the cyclicals ({cyclical_symbols}) to the "
            "defensives is at least {threshold:.2%} above its {rs_days}-day average, hold the cyclicals, and go "
            "back once the ratio is {exit_threshold:.2%} or more below its average.")
    params = {
        "cyclical_symbols": ("XLY", "XLI", "XLF", "XLE"),
        "cyclical_weights": (),
        "defensive_symbols": ("XLP", "XLU", "XLV"),
        "defensive_weights": (),
        "rs_days": 50,
        "threshold": 0.01,
        "exit_threshold": 0.01,
        "confirm_days": 0,
        "hold_days": 0,
    }
    param_docs = {
        "cyclical_symbols": "cyclical sectors: held while they lead the defensives",
        "cyclical_weights": "weights of cyclical_symbols (fractions summing to <= 1); empty = equal",
        "defensive_symbols": "defensive sectors: held otherwise (the base state)",
        "defensive_weights": "weights of defensive_symbols; empty = equal",
        "rs_days": "N: the ratio cyclicals / defensives (geometric means) is compared with its N-day average",
        "threshold": "hold cyclicals once the ratio is at least this far above its average (fraction)",
        "exit_threshold": "back to defensives once the ratio is at least this far below its average (fraction; 0 = below it)",
        "confirm_days": "follow-through: the ratio must stay above its average K more days before acting (0 = at once)",
        "hold_days": "minimum bars to hold the cyclicals",
    }

    def legs(self):
        return list(self.p.cyclical_symbols), list(self.p.defensive_symbols)

    def symbols(self):
        c, d = self.legs()
        return {"signal": list(dict.fromkeys([*c, *d])), "growth": d, "rotation": c,
                "traded": list(dict.fromkeys([*d, *c]))}

    def validate(self):
        p = self.p
        if not p.cyclical_symbols or not p.defensive_symbols:
            raise ValueError("give cyclical_symbols and defensive_symbols (e.g. cyclical_symbols=XLY,XLI)")
        if set(p.cyclical_symbols) & set(p.defensive_symbols):
            raise ValueError(f"{', '.join(sorted(set(p.cyclical_symbols) & set(p.defensive_symbols)))} is both "
                             "cyclical and defensive; name each sector once")
        _check_basket(p.cyclical_symbols, p.cyclical_weights, "cyclical")
        _check_basket(p.defensive_symbols, p.defensive_weights, "defensive")
        self._check_rs()

    def baskets(self):
        p = self.p
        return {"growth": weights_of(p.defensive_symbols, p.defensive_weights),
                "rotation": weights_of(p.cyclical_symbols, p.cyclical_weights)}

    def sentence(self):
        p = self.p
        c, d = _names(p.cyclical_symbols), _names(p.defensive_symbols)
        if p.defensive_weights:
            d += " (" + ", ".join(f"{w:.0%}" for w in p.defensive_weights) + ")"
        cyc = c + (" (" + ", ".join(f"{w:.0%}" for w in p.cyclical_weights) + ")" if p.cyclical_weights else "")
        lead = (f"at least {p.threshold:.2%} above" if p.threshold else "above")
        cond = (f"when the ratio of the cyclicals ({c}) to the defensives (geometric means of the closes) is {lead} "
                f"its {p.rs_days}-day average")
        if p.confirm_days:
            cond += (f" and stays above it {p.confirm_days} more day{'s' if p.confirm_days != 1 else ''} "
                     "(follow-through)")
        hold = f" for at least {p.hold_days} days" if p.hold_days else ""
        back = (f"once the ratio is {p.exit_threshold:.2%} or more below its average" if p.exit_threshold
                else "once the ratio falls below its average")
        return f"Hold the defensives {d}; {cond}, hold the cyclicals {cyc}{hold}, and go back {back}."


@register("breadth_rotation")
class BreadthRotation(_SignalRotation):
    rule = ("Hold {growth_symbols}; when at least {threshold:.0%} of {universe} close above their own "
            "{breadth_days}-day average, rotate into {rotation_symbols}, and rotate back once fewer than "
            "{exit_threshold:.0%} are above their average.")
    params = {
        "universe": ("XLE", "XLF", "XLI", "XLK", "XLP", "XLU", "XLV", "XLY"),
        "breadth_days": 50,
        "threshold": 0.6,
        "exit_threshold": 0.4,
        "thrust": False,
        "thrust_low": 0.40,
        "thrust_high": 0.615,
        "thrust_days": 10,
        "rotation_symbols": ("SPY",),
        "rotation_weights": (),
        "growth_symbols": (),
        "confirm_days": 0,
        "hold_days": 0,
    }
    param_docs = {
        "universe": "the members whose breadth is measured (e.g. the sector SPDRs)",
        "breadth_days": "N: a member counts when its close is above its own N-day average",
        "threshold": "rotate when at least this share of the universe is above its average (0 to 1)",
        "exit_threshold": "rotate back when fewer than this share is above (0 to 1, <= threshold)",
        "thrust": "also rotate on a breadth thrust (10-day average of the advancing share from below "
                  "thrust_low to above thrust_high within thrust_days)",
        "thrust_low": "breadth thrust: the low level of the 10-day average advancing share (Zweig: 0.40)",
        "thrust_high": "breadth thrust: the high level (Zweig: 0.615)",
        "thrust_days": "breadth thrust: bars allowed from the low reading to the high one (Zweig: 10)",
        "rotation_symbols": "basket held while breadth is strong",
        "rotation_weights": "weights of rotation_symbols (fractions summing to <= 1); empty = equal",
        "growth_symbols": "held while breadth is weak; empty = cash",
        "confirm_days": "follow-through: the share must stay at or above exit_threshold K more days (0 = at once)",
        "hold_days": "minimum bars to stay rotated (a thrust entry is often held some weeks)",
    }

    def symbols(self):
        p = self.p
        growth, rotation = list(p.growth_symbols), list(p.rotation_symbols)
        return {"signal": list(dict.fromkeys(p.universe)), "growth": growth, "rotation": rotation,
                "traded": list(dict.fromkeys([*growth, *rotation]))}

    def warmup_bars(self):
        p = self.p
        return max(p.breadth_days, X.THRUST_AVERAGE_DAYS + 1 if p.thrust else 0)

    def validate(self):
        p = self.p
        if not p.universe:
            raise ValueError("give the universe whose breadth is measured (e.g. universe=XLE,XLF,XLI)")
        if p.breadth_days < 1:
            raise ValueError("breadth_days must be >= 1")
        if not 0 <= p.exit_threshold <= p.threshold <= 1:
            raise ValueError("need 0 <= exit_threshold <= threshold <= 1 (shares of the universe, e.g. 0.4 and 0.6)")
        if p.thrust:
            if not 0 <= p.thrust_low < p.thrust_high <= 1:
                raise ValueError("need 0 <= thrust_low < thrust_high <= 1 (Zweig: 0.40 and 0.615)")
            if p.thrust_days < 1:
                raise ValueError("thrust_days must be >= 1 (Zweig: 10)")
        if p.confirm_days < 0 or p.hold_days < 0:
            raise ValueError("confirm_days and hold_days must be >= 0")
        if not p.rotation_symbols:
            raise ValueError("give rotation_symbols (the basket held while breadth is strong, e.g. SPY)")
        _check_basket(p.rotation_symbols, p.rotation_weights, "rotation")

    def baskets(self):
        p = self.p
        return {"growth": weights_of(p.growth_symbols) if p.growth_symbols else {},
                "rotation": weights_of(p.rotation_symbols, p.rotation_weights)}

    def _conditions(self, share, fired):
        p = self.p
        with np.errstate(invalid="ignore"):
            entered = share >= p.threshold
            if p.thrust:
                entered = entered | (fired == 1.0)
            return entered, share >= p.exit_threshold, share < p.exit_threshold

    def signal_at(self, h):
        p = self.p
        universe = list(dict.fromkeys(p.universe))
        share = float(X.share_above([_tail(h, s, p.breadth_days) for s in universe], p.breadth_days)[-1])
        fired = 0.0
        if p.thrust:
            bars = p.thrust_days + X.THRUST_AVERAGE_DAYS + 1
            adv = X.advancing_share([_tail(h, s, bars) for s in universe])
            fired = float(X.breadth_thrust(adv, p.thrust_low, p.thrust_high, p.thrust_days)[-1])
            if math.isnan(fired):
                share = math.nan
        entered, confirmed, exited = self._conditions(share, fired)
        return share, bool(entered), bool(confirmed), bool(exited)

    def signal_arrays(self, panel):
        p = self.p
        universe = tuple(dict.fromkeys(p.universe))
        share = panel._memo("share_above", universe, p.breadth_days,
                            lambda: X.share_above([panel.close(s) for s in universe], p.breadth_days))
        valid = ~np.isnan(share)
        fired = np.zeros(len(share))
        if p.thrust:
            adv = panel._memo("advancing_share", universe, 0,
                              lambda: X.advancing_share([panel.close(s) for s in universe]))
            fired = X.breadth_thrust(adv, p.thrust_low, p.thrust_high, p.thrust_days)
            valid &= ~np.isnan(fired)
        entered, confirmed, exited = self._conditions(share, fired)
        return share, valid, entered, confirmed, exited

    def describe_signal(self):
        p = self.p
        return {"label": f"share of {_names(p.universe)} above their {p.breadth_days}-day average",
                "threshold": p.threshold, "exit_threshold": p.exit_threshold, "units": "share"}

    def sentence(self):
        p = self.p
        cond = (f"when at least {p.threshold:.0%} of {_names(p.universe)} close above their own {p.breadth_days}-day "
                "average")
        if p.thrust:
            cond += (f", or on a breadth thrust (the 10-day average share of them advancing rises from below "
                     f"{p.thrust_low:.1%} to above {p.thrust_high:.1%} within {p.thrust_days} days)")
        if p.confirm_days:
            cond += (f", then {p.confirm_days} more day{'s' if p.confirm_days != 1 else ''} with at least "
                     f"{p.exit_threshold:.0%} above")
        rot = _names(p.rotation_symbols)
        if p.rotation_weights:
            rot += " (" + ", ".join(f"{w:.0%}" for w in p.rotation_weights) + ")"
        hold = f" for at least {p.hold_days} days" if p.hold_days else ""
        return (f"Hold {_names(p.growth_symbols)}; {cond}, rotate into {rot}{hold}, and rotate back once fewer than "
                f"{p.exit_threshold:.0%} are above their average.")

    def flip_distance(self, h) -> dict | None:
        """How far the share above average is from the next flip (percentage points of the
        universe), after ``decide(h)``."""
        p = self.p
        share = self.signal_at(h)[0]
        also = " (a breadth thrust also enters)" if p.thrust else ""
        return self._distance(share, p.threshold, p.exit_threshold, p.exit_threshold, "share above average",
                              lambda x: f"{x:.1%}", "share of the universe (fraction)", also)
