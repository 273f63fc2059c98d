"""``signal_rule``: a rotation rule whose entry and exit are expressions over the data.

    -p enter='ret(DIA, lookback_days) - ret(QQQ, lookback_days) >= threshold'
    -p exit='ret(QQQ, lookback_days) - ret(DIA, lookback_days) > 0'
    -p growth_symbols=QQQ -p rotation_symbols=DIA,IWM -p lookback_days=5 -p threshold=0.03

The expressions use the bounded language of :mod:`rotationlab.expr` (``ret``, ``sma``, ``close``,
``high``, ``low``, ``max``/``min`` over a window, ``zscore``...). Every name an expression uses
that is not one of the rule's own parameters is a parameter of this rule too (give it with
``-p``, sweep it with ``--grid``). The rule holds growth, and follows the shared state machine of
:mod:`strategies.machine`: rotate when ``enter`` holds (after ``confirm_days`` more days on which
``confirm`` holds, default ``enter``), stay at least ``hold_days``, rotate back when ``exit``
holds. ``cash_when`` (optional): while not rotated, hold cash instead of growth when it holds.

Both forms of one rule: ``decide`` evaluates the expressions per bar on the last bars the
expressions need (their look-back), ``vectorized`` on the whole window at once; the language's
functions are causal and window-local, so the two give the same value at every bar (tested, and
checked by ``sweep --confirm``). A bar on which ``enter`` is unknown (NaN: warm-up) changes
nothing.
"""

from __future__ import annotations

import math

import numpy as np

from rotationlab import expr as X
from rotationlab.errors import UserError

from . import machine as M
from .base import Rule, register, weights_of

EXPRESSIONS = ("enter", "exit", "confirm", "cash_when", "signal")


@register("signal_rule")
class SignalRule(Rule):
    """A rule whose entry and exit are expressions over the data (see the module docstring)."""

    rule = "Hold {growth_symbols}; rotate into {rotation_symbols} when {enter}, back when {exit}."
    has_signal = True
    params = {
        "enter": "",
        "exit": "",
        "confirm": "",
        "confirm_days": 0,
        "hold_days": 0,
        "cash_when": "",
        "signal": "",
        "growth_symbols": (),
        "rotation_symbols": (),
        "rotation_weights": (),
    }
    param_docs = {
        "enter": "expression: rotate when it holds, e.g. 'ret(DIA, n) - ret(QQQ, n) >= threshold'",
        "exit": "expression: rotate back when it holds (after hold_days)",
        "confirm": "expression that must hold on each follow-through day (default: enter)",
        "confirm_days": "follow-through days before acting (0 = act at once)",
        "hold_days": "minimum bars to stay rotated",
        "cash_when": "optional expression: while not rotated, hold cash instead of growth when it holds",
        "signal": "optional expression logged as the signal value (default: the entry margin)",
        "growth_symbols": "held (equal weight) while not rotated",
        "rotation_symbols": "held while rotated",
        "rotation_weights": "weights of rotation_symbols (fractions summing to <= 1); empty = equal",
    }

    # -- parameters named in the expressions --------------------------------------------------------
    @classmethod
    def _parsed(cls, texts: dict) -> dict:
        out = {}
        for k in EXPRESSIONS:
            t = texts.get(k)
            if isinstance(t, str) and t.strip():
                out[k] = X.parse(t, what=f"parameter {k}")
        return out

    @classmethod
    def extra_param_names(cls, given: dict) -> list[str]:
        """Names the expressions use besides the rule's own parameters (each must be given)."""
        own = set(cls.defaults())
        names = []
        for e in cls._parsed(given).values():
            for n in e.names:
                if n not in own and n not in names:
                    names.append(n)
        sym_like = set()
        for e in cls._parsed(given).values():
            sym_like.update(e.symbols)
        # a bare name that is the first argument of sma/max/min/zscore may be a symbol: it is a
        # parameter only when given
        return [n for n in names if n in given or n not in sym_like]

    @classmethod
    def coerce_extra(cls, key: str, value):
        """A number (whole when written as one) or a symbol name."""
        if isinstance(value, bool):
            raise UserError(f"parameter {key}={value!r}: expected a number or a symbol")
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise UserError(f"parameter {key}={value!r}: must be a finite number")
            return int(value) if isinstance(value, int) else float(value)
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            v = float(text)
        except ValueError:
            from data_feeds.base import check_symbol
            return check_symbol(text)
        if not math.isfinite(v):
            raise UserError(f"parameter {key}={value!r}: must be a finite number")
        return v

    def _names(self) -> dict:
        own = set(type(self).defaults())
        return {k: v for k, v in self.values.items() if k not in own}

    def _exprs(self) -> dict:
        cache = getattr(self, "_expr_cache", None)
        if cache is None:
            cache = self._expr_cache = type(self)._parsed(self.values)
        return cache

    # -- what it needs ------------------------------------------------------------------------------
    def validate(self):
        p = self.p
        if not str(p.enter).strip():
            raise ValueError("give an entry expression, e.g. -p enter='ret(DIA, 5) - ret(QQQ, 5) >= 0.03'")
        if not str(p.exit).strip():
            raise ValueError("give an exit expression, e.g. -p exit='ret(QQQ, 5) - ret(DIA, 5) > 0'")
        if not p.growth_symbols and not p.rotation_symbols:
            raise ValueError("give growth_symbols or rotation_symbols (e.g. -p growth_symbols=QQQ)")
        if p.confirm_days < 0 or p.hold_days < 0:
            raise ValueError("confirm_days and hold_days must be >= 0")
        if p.rotation_weights and len(p.rotation_weights) != len(p.rotation_symbols):
            raise ValueError("rotation_weights needs one weight per rotation symbol")
        if any(w < 0 for w in p.rotation_weights) or (p.rotation_weights and sum(p.rotation_weights) > 1 + 1e-9):
            raise ValueError("rotation_weights must be >= 0 and sum to at most 1")
        names = self._names()
        for k, e in self._exprs().items():
            e.check(X.SeriesContext(_NoData(e.needed_symbols(names)), names, length=1, window_limit=X.MAX_WINDOW))
            if self._lookback_of(e) is None:
                raise ValueError(f"the windows of {k} must be numbers or numeric parameters")

    def _lookback_of(self, e):
        return e.lookback(self._names())

    def symbols(self):
        names = self._names()
        signal = []
        for e in self._exprs().values():
            for s in e.needed_symbols(names):
                if s not in signal:
                    signal.append(s)
        g, r = list(self.p.growth_symbols), list(self.p.rotation_symbols)
        return {"signal": signal, "growth": g, "rotation": r, "traded": list(dict.fromkeys([*g, *r]))}

    def warmup_bars(self):
        return max((self._lookback_of(e) or 1) for e in self._exprs().values())

    def baskets(self):
        p = self.p
        return {"growth": weights_of(p.growth_symbols), "rotation": weights_of(p.rotation_symbols, p.rotation_weights)}

    def sentence(self):
        p = self.p
        text = (f"Hold {','.join(p.growth_symbols) or 'cash'}; rotate into {','.join(p.rotation_symbols) or 'cash'} "
                f"when {p.enter}")
        if p.confirm_days:
            text += (f", then {p.confirm_days} more day{'s' if p.confirm_days != 1 else ''} on which "
                     f"{p.confirm or p.enter}")
        if p.hold_days:
            text += f"; stay at least {p.hold_days} days"
        text += f"; rotate back when {p.exit}"
        if p.cash_when:
            text += f"; while not rotated, hold cash when {p.cash_when}"
        names = self._names()
        if names:
            text += " (" + ", ".join(f"{k} = {v}" for k, v in names.items()) + ")"
        return text + "."

    def describe_signal(self):
        label = self.p.signal or f"entry margin of {self.p.enter}"
        return {"label": label, "threshold": 0.0 if not self.p.signal else None, "units": "expression"}

    # -- evaluation ---------------------------------------------------------------------------------
    def _evaluate(self, closes: dict, extra: dict, window_limit: int, margin: bool = True, memo=None) -> dict:
        env = X.Panel(close=closes, open=extra.get("open"), high=extra.get("high"), low=extra.get("low"))
        ctx = X.SeriesContext(env, self._names(), window_limit=window_limit, memo=memo)
        out = {}
        for k, e in self._exprs().items():
            if k == "signal" and not margin:
                continue
            out[k] = e.evaluate(ctx, check=False)
        if margin and "signal" not in out:
            out["_margin"] = self._exprs()["enter"].margin(ctx, check=False)
        return out

    def start(self):
        self.state, self.pending, self.held = M.GROWTH, 0, 0
        b = self.baskets()
        self.growth, self.rotation = b["growth"], b["rotation"]
        self._L = max((self._lookback_of(e) or 1) for e in self._exprs().values())

    def decide(self, h):
        t = h.t
        lo = max(0, t + 1 - self._L)
        symbols = self.symbols()["signal"]
        closes = {s: h.close(s)[lo:] for s in symbols}
        extra = {"open": {s: h.open(s)[lo:] for s in symbols}, "high": {s: h.high(s)[lo:] for s in symbols},
                 "low": {s: h.low(s)[lo:] for s in symbols}}
        v = {k: a[-1] for k, a in self._evaluate(closes, extra, len(h._dates)).items()}
        entered = v["enter"]
        sig = v["signal"] if "signal" in v else v["_margin"]
        if math.isnan(entered):
            self.log_signal(spread=float(sig), triggered=False, state="warmup")
            return None
        fired = entered == 1.0
        confirmed = (v["confirm"] == 1.0) if "confirm" in v else fired
        self.state, self.pending, self.held = M.step(
            self.state, self.pending, self.held, True, fired, confirmed, v["exit"] == 1.0,
            self.p.confirm_days, self.p.hold_days)
        self.log_signal(spread=float(sig), triggered=bool(fired), state=M.STATE_NAMES[self.state])
        if self.state == M.ROTATED:
            return self.rotation
        if "cash_when" in v and v["cash_when"] == 1.0:
            return {}
        return self.growth

    def vectorized(self, panel):
        closes = {s: panel.close(s) for s in self.symbols()["signal"]}
        extra = {k: {s: panel.extra.get(k, {}).get(s, closes[s]) for s in closes} for k in ("open", "high", "low")}
        memo = panel._cache.setdefault(("expression-memo", panel._key), {}) if panel._cache is not None else None
        v = self._evaluate(closes, extra, panel.T, margin=False, memo=memo)
        valid = ~np.isnan(v["enter"])
        fired = v["enter"] == 1.0
        confirmed = (v["confirm"] == 1.0) if "confirm" in v else fired
        cash = (v["cash_when"] == 1.0) if "cash_when" in v else None
        b = self.named_baskets()
        return M.decisions(valid, fired, confirmed, v["exit"] == 1.0, self.p.confirm_days, self.p.hold_days,
                           b["growth"], b["rotation"], cash)

    def flip_distance(self, h):
        """How far the signal is from flipping, in the expressions' own units (their margins)."""
        t = h.t
        lo = max(0, t + 1 - self._L)
        symbols = self.symbols()["signal"]
        closes = {s: h.close(s)[lo:] for s in symbols}
        env = X.Panel(close=closes)
        ctx = X.SeriesContext(env, self._names(), window_limit=len(h._dates))
        if self.state == M.ROTATED:
            m = float(self._exprs()["exit"].margin(ctx, check=False)[-1])
            wait = max(0, self.p.hold_days - self.held)
            text = (f"exit margin {m:+.4g} ({'holds' if m >= 0 else 'needs ' + format(-m, '.4g') + ' more'})"
                    + (f"; {wait} more day(s) of the minimum hold" if wait else ""))
            return {"value": m, "units": "exit expression", "text": text, "hold_days_left": wait}
        m = float(self._exprs()["enter"].margin(ctx, check=False)[-1])
        text = f"entry margin {m:+.4g} ({'holds' if m >= 0 else 'needs ' + format(-m, '.4g') + ' more to trigger'})"
        return {"value": m, "units": "entry expression", "text": text}


class _NoData:
    """An environment for checking an expression's names and symbols before any data is loaded."""

    def __init__(self, symbols):
        self.symbols = list(symbols)

    def _arr(self, symbol):
        return np.zeros(1)

    close = open = high = low = _arr
