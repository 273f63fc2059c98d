"""What a rotation rule is, once: parameters, the symbols it needs by role, and a decision.

A rule is a subclass of :class:`Rule` with

* ``params``: ``{name: default}`` (units in the names: ``_days``, thresholds as fractions) and
  ``param_docs`` (one line each); ``rule``: the sentence the rule reads as, with ``{param}``
  fields (clauses a parameter turns off can be dropped in :meth:`Rule.sentence`);
* :meth:`Rule.symbols`: the symbols it needs by role (``signal``, ``growth``, ``rotation``,
  ``traded``);
* :meth:`Rule.decide`: target weights at the close of ``h.date`` from :class:`History` ``h``,
  which holds the prices through that close and nothing after it.

That is all a user writes. Both engines run that one definition: the backtrader engine
(:mod:`rotationlab.engine`, the reference) calls ``decide`` at each close and trades at the next
fill time; the fast engine (:mod:`rotationlab.fast`) calls the same ``decide`` per bar, or, where
a rule also gives :meth:`Rule.vectorized` (all days at once), uses that form; the two forms are
held against each other in the tests and by ``sweep --confirm``.

A decision is a ``{symbol: weight}`` dict (weights are fractions of portfolio value; what is
left is cash), a :class:`Target` (weights plus ``rebalance=True`` to force a rebalance), or
``None`` to keep the current target. A rule keeps its state in attributes set in
:meth:`Rule.start`; engines create a fresh instance for every run.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rotationlab.errors import UserError


class History:
    """Prices through the decision bar ``t`` (index into the run's calendar); nothing after it is
    reachable. ``close(s)`` and friends return the series up to and including ``t``; NaN marks
    bars before a symbol's first price."""

    __slots__ = ("_closes", "_lists", "_extra", "_dates", "_index", "t")

    def __init__(self, closes: dict[str, np.ndarray], dates, t: int = 0, extra: dict | None = None):
        self._closes = closes
        self._lists = {s: c.tolist() for s, c in closes.items()}  # fast scalar reads
        self._extra = extra or {}  # {"open"|"high"|"low": {symbol: ndarray}}
        self._index = dates
        self._dates = dates if isinstance(dates, list) else ([] if dates is None else list(dates))  # fast to index
        self.t = t

    @property
    def date(self):
        return self._dates[self.t]

    @property
    def prev_date(self):
        """The previous bar's date (None on the first bar)."""
        return self._dates[self.t - 1] if self.t > 0 else None

    @property
    def n_bars(self) -> int:
        """Bars in the whole calendar (not all of them visible: only those through ``t``)."""
        return len(self._dates)

    @property
    def symbols(self) -> list[str]:
        return list(self._closes)

    def _series(self, symbol: str) -> np.ndarray:
        try:
            return self._closes[symbol]
        except KeyError:
            raise UserError(f"the rule asked for {symbol!r}, which it did not name among its symbols "
                            f"({', '.join(self._closes)}); add it to symbols()") from None

    def close(self, symbol: str) -> np.ndarray:
        """Closes of ``symbol`` through the decision date."""
        return self._series(symbol)[: self.t + 1]

    def _ohl(self, field: str, symbol: str) -> np.ndarray:
        self._series(symbol)
        arr = self._extra.get(field, {}).get(symbol)
        return (arr if arr is not None else self._closes[symbol])[: self.t + 1]

    def open(self, symbol: str) -> np.ndarray:
        """Opens through the decision date (the close where a feed has no open)."""
        return self._ohl("open", symbol)

    def high(self, symbol: str) -> np.ndarray:
        return self._ohl("high", symbol)

    def low(self, symbol: str) -> np.ndarray:
        return self._ohl("low", symbol)

    def last(self, symbol: str) -> float:
        """Today's close."""
        if symbol not in self._lists:
            self._series(symbol)
        return self._lists[symbol][self.t]

    def has(self, symbol: str, bars: int = 1) -> bool:
        """True when ``symbol`` has at least ``bars`` valid closes ending today."""
        c = self._series(symbol)
        return self.t + 1 >= bars and not np.isnan(c[self.t + 1 - bars: self.t + 1]).any()

    def ret(self, symbol: str, days: int) -> float:
        """Return of ``symbol`` over the last ``days`` bars: close / close ``days`` bars earlier
        - 1 (NaN without enough history)."""
        if symbol not in self._lists:
            self._series(symbol)
        t = self.t
        if t < days:
            return math.nan
        c = self._lists[symbol]
        return c[t] / c[t - days] - 1.0

    def sma(self, symbol: str, days: int) -> float:
        """Mean of the last ``days`` closes (NaN without enough history)."""
        c = self._series(symbol)
        if self.t + 1 < days:
            return math.nan
        return float(np.mean(c[self.t + 1 - days: self.t + 1]))


@dataclass(frozen=True)
class Target:
    """Target weights; ``rebalance=True`` forces a rebalance even if the weights are unchanged."""

    weights: dict
    rebalance: bool = False


def equal_weights(symbols) -> dict:
    symbols = list(dict.fromkeys(symbols))
    return {s: 1.0 / len(symbols) for s in symbols} if symbols else {}


def weights_of(symbols, weights=()) -> dict:
    """A basket: ``symbols`` at ``weights`` (fractions), or equal weights when none are given."""
    symbols = list(symbols)
    if weights:
        return {s: float(w) for s, w in zip(symbols, weights)}
    return equal_weights(symbols)


@dataclass
class Decisions:
    """A rule's decisions over a whole calendar, as the fast engine takes them.

    ``codes[t]``: index into ``rows`` (a target weight dict) decided at the close of bar ``t``,
    or -1 for "keep the current target"; ``force[t]``: a forced rebalance (None: never);
    ``rotated[t]``: the rule's logged state is 'rotated' that day (None: never)."""

    codes: np.ndarray
    rows: list
    force: np.ndarray | None = None
    rotated: np.ndarray | None = None
    #: Set by :func:`strategies.machine.decisions_many`: these are row ``row`` of ``block`` (the
    #: decisions of many parameter sets as 2-D ``codes`` and ``rotated``, sharing ``rows``), so
    #: the fast engine copies runs of consecutive rows at once.
    block: Decisions | None = field(default=None, repr=False, compare=False)
    row: int = 0


class Rule:
    """Base class of every rotation rule (see the module docstring)."""

    #: Registry key (set by :func:`register`, or ``path.py:Class`` for a rule file).
    key: str = ""
    #: One sentence stating the rule; ``{param}`` fields are filled from the parameters.
    rule: str = ""
    #: ``{name: default}``: every parameter, with its default (also backtrader-style pairs).
    params: dict = {}
    #: What each parameter means (units in the name: ``_days``, fractions for thresholds).
    param_docs: dict = {}
    #: Rules that log a signal (``log_signal``) set this; ``signals.csv`` is written for them.
    has_signal: bool = False

    def __init__(self, **values):
        self.p = SimpleNamespace(**values)
        self._signal_rows = None
        self._hist = None

    # -- parameters ------------------------------------------------------------------------------
    @classmethod
    def defaults(cls) -> dict:
        p = cls.params
        items = p.items() if isinstance(p, dict) else p
        return {k: (tuple(v) if isinstance(v, list) else v) for k, v in items if k != "engine"}

    @classmethod
    def create(cls, given=None) -> "Rule":
        """An instance with the defaults overridden by ``given`` (a dict, or ``key=value``
        strings), every value coerced to its default's type and the rule's ``validate`` run."""
        from rotationlab.config import coerce_params
        values = coerce_params(cls, given)
        rule = cls(**values)
        try:
            rule.validate()
        except ValueError as exc:
            raise UserError(f"strategy {cls.key or cls.__name__}: {exc}") from None
        return rule

    @property
    def values(self) -> dict:
        return dict(vars(self.p))

    # -- what a concrete rule provides -----------------------------------------------------------
    def symbols(self) -> dict:
        """The symbols by role: ``signal`` (read only), ``growth`` and ``rotation`` (the baskets,
        if the rule has them) and ``traded`` (every symbol it may hold). The default reads the
        ``growth_symbols`` and ``rotation_symbols`` parameters."""
        g = list(getattr(self.p, "growth_symbols", ()) or ())
        r = list(getattr(self.p, "rotation_symbols", ()) or ())
        return {"signal": [], "growth": g, "rotation": r, "traded": list(dict.fromkeys([*g, *r]))}

    def warmup_bars(self) -> int:
        """Bars of history (today included) the first decision needs."""
        return 0

    def validate(self) -> None:
        """Raise ValueError (one line, saying the fix) for parameter values that make no sense."""

    def start(self) -> None:
        """Set the rule's state before the first decision (called by both engines)."""

    def decide(self, h: History):
        """Target weights (dict or :class:`Target`) at the close of ``h.date``; None keeps the
        current target."""
        raise NotImplementedError(f"{type(self).__name__} must define decide(self, h)")

    def baskets(self) -> dict:
        """The rule's named target weights: ``growth`` and ``rotation`` where it has them."""
        roles = self.symbols()
        out = {}
        if roles.get("growth"):
            out["growth"] = equal_weights(roles["growth"])
        if roles.get("rotation"):
            out["rotation"] = weights_of(roles["rotation"], getattr(self.p, "rotation_weights", ()) or ())
        return out

    def named_baskets(self) -> dict:
        """:meth:`baskets`, computed once per instance (parameters do not change); the same
        dicts every call, so the fast engine packs them once. Read only."""
        cache = self.__dict__.get("_baskets_cache")
        if cache is None:
            cache = self.__dict__["_baskets_cache"] = self.baskets()
        return cache

    def vectorized(self, panel) -> Decisions | None:
        """Optional: the decisions over a whole calendar at once (``panel``: a
        :class:`PanelHistory` of this rule's window). None: the fast engine calls ``decide`` per
        bar instead. (A rule that defines :meth:`vectorized_many` instead gets this from it.)"""
        if type(self).vectorized_many.__func__ is not Rule.vectorized_many.__func__:
            return self.vectorized_many(panel, [self])[0]
        return None

    @classmethod
    def vectorized_many(cls, panel, rules: list) -> list:
        """Optional, for speed: :meth:`vectorized` of several instances of this rule (a sweep's
        parameter sets) on one window at once, in order. The default asks each rule; a rule
        that overrides it must return exactly what those calls would, one by one (the tests
        hold the two against each other)."""
        return [r.vectorized(panel) for r in rules]

    @classmethod
    def has_vectorized(cls) -> bool:
        """The rule has a vectorized form (:meth:`vectorized` or :meth:`vectorized_many`)."""
        return (cls.vectorized is not Rule.vectorized
                or cls.vectorized_many.__func__ is not Rule.vectorized_many.__func__)

    def describe_signal(self) -> dict | None:
        """How to show the logged signal: ``label`` (what ``spread`` is), ``legs`` (two symbols
        whose ratio is the relative strength shown above it), ``threshold`` and
        ``exit_threshold`` lines (in the spread's units). None: a generic panel."""
        return None

    # -- helpers for concrete rules --------------------------------------------------------------
    def log_signal(self, **fields) -> None:
        """Record the signal at this close (``spread``, ``triggered``, ``state``...)."""
        if self._signal_rows is not None:
            self._signal_rows.append((self._hist.t, fields))

    def signal_frame(self, dates, start: int = 0):
        """The logged signal as a DataFrame indexed by date (bars from ``start``)."""
        import pandas as pd
        rows = [(t, f) for t, f in (self._signal_rows or []) if t >= start]
        if not rows:
            return pd.DataFrame(columns=["spread", "triggered", "state"], index=pd.DatetimeIndex([], name="date"))
        frame = pd.DataFrame([f for _, f in rows], index=pd.DatetimeIndex([dates[t] for t, _ in rows], name="date"))
        return frame

    # -- describing the rule ---------------------------------------------------------------------
    @classmethod
    def name(cls) -> str:
        return cls.key or cls.__name__

    def sentence(self) -> str:
        return self.format_rule(self.rule)

    def format_rule(self, template: str) -> str:
        fmt = {k: ((",".join(map(str, x)) or "equal") if isinstance(x, (tuple, list)) else x)
               for k, x in self.values.items()}
        return template.format(**fmt)

    def roles(self) -> tuple[tuple, tuple]:
        """``(needed, traded)`` as tuples, from :meth:`symbols`, computed once per instance
        (parameters do not change)."""
        cache = self.__dict__.get("_roles_cache")
        if cache is None:
            roles = self.symbols()
            needed = tuple(dict.fromkeys([*roles.get("signal", []), *roles.get("growth", []),
                                          *roles.get("rotation", []), *roles.get("traded", [])]))
            cache = self.__dict__["_roles_cache"] = (needed, tuple(dict.fromkeys(roles.get("traded", []))))
        return cache

    def needed(self) -> list[str]:
        """Every symbol the rule reads or trades (signal first), without duplicates."""
        return list(self.roles()[0])

    def traded(self) -> list[str]:
        return list(self.roles()[1])


class PanelHistory:
    """A rule's whole window at once, for :meth:`Rule.vectorized`: ``close(s)`` etc. are the
    full arrays of the calendar (bar 0 = the rule's first bar); ``ret``/``sma`` are the arrays of
    :meth:`History.ret`/``sma`` at every bar, bit for bit (cached per window)."""

    def __init__(self, closes: dict, dates, extra: dict | None = None, cache: dict | None = None,
                 key=None):
        self.closes = closes
        self.dates = dates
        self.extra = extra or {}
        self.T = len(dates)
        self._cache = cache if cache is not None else {}
        self._key = key  # identifies the window in a shared cache

    def close(self, symbol: str) -> np.ndarray:
        return self.closes[symbol]

    def _memo(self, name, symbol, days, fn):
        k = (self._key, name, symbol, days)
        v = self._cache.get(k)
        if v is None:
            v = self._cache[k] = fn()
        return v

    def memo(self, key: tuple, fn):
        """``fn()``, computed once per window and ``key`` and shared by every combination of a
        sweep on this window (for arrays that depend on only some of a rule's parameters, such
        as a spread that depends on the look-back but not on the threshold). ``key`` must name
        everything ``fn`` depends on."""
        return self._memo("memo", key, None, fn)

    def ret(self, symbol: str, days: int) -> np.ndarray:
        def f():
            c = self.closes[symbol]
            row = np.full(len(c), np.nan)
            if days < len(c):
                row[days:] = c[days:] / c[:-days] - 1.0
            return row
        return self._memo("ret", symbol, days, f)

    def sma(self, symbol: str, days: int) -> np.ndarray:
        def f():
            c = self.closes[symbol]
            row = np.full(len(c), np.nan)
            if 1 <= days <= len(c):
                row[days - 1:] = np.lib.stride_tricks.sliding_window_view(c, days).mean(axis=-1)
            return row
        return self._memo("sma", symbol, days, f)

    def months(self) -> np.ndarray:
        """Calendar month of each bar (for monthly rebalancing)."""
        return self._memo("months", "", 0, lambda: np.asarray(self.dates.month, dtype=np.int64))


def new_month(h: History) -> bool:
    """True on the first bar of a calendar month (and on the first bar)."""
    return h.prev_date is None or h.date.month != h.prev_date.month


def new_month_mask(panel: PanelHistory) -> np.ndarray:
    """:func:`new_month` at every bar of ``panel``."""
    m = panel.months()
    out = np.ones(len(m), dtype=bool)
    out[1:] = m[1:] != m[:-1]
    return out


# -- the registry ----------------------------------------------------------------------------------
STRATEGIES: dict[str, type[Rule]] = {}


def register(key: str):
    def deco(cls):
        cls.key = key
        STRATEGIES[key] = cls
        return cls
    return deco


#: Rule classes defined in Python and passed to the API (``rl.run(rule=MyRule)``), by name.
IN_MEMORY: dict[str, type[Rule]] = {}


def remember(cls) -> str:
    """The name under which a Rule class passed to the API is found again (also by worker
    processes forked from this one)."""
    if not isinstance(cls, type) or not issubclass(cls, Rule):
        raise UserError(f"{getattr(cls, '__name__', cls)!r} is not a rotation rule: subclass rotationlab.Rule")
    if cls.key and (STRATEGIES.get(cls.key) is cls or IN_MEMORY.get(cls.key) is cls):
        return cls.key
    key = cls.key or f"{cls.__module__}.{cls.__qualname__}"
    if key in STRATEGIES and STRATEGIES[key] is not cls:
        key = f"{cls.__module__}.{cls.__qualname__}"
    IN_MEMORY[key] = cls
    cls.key = key
    return key


def rule_class(name) -> type[Rule]:
    """The rule class for ``name``: a registry key, ``path/to/file.py:ClassName``, or a class."""
    if isinstance(name, type):
        if not issubclass(name, Rule):
            raise UserError(f"{name.__name__} is not a rotation rule: subclass rotationlab.Rule")
        return name
    name = str(name).strip()
    if name in STRATEGIES:
        return STRATEGIES[name]
    if name in IN_MEMORY:
        return IN_MEMORY[name]
    if ".py:" in name or name.endswith(".py"):
        return load_rule_file(name)
    close = difflib.get_close_matches(name, list(STRATEGIES), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(f"unknown strategy {name!r}{hint}; `run_backtest.py list` shows them all, or give a rule "
                    "file as path/to/rule.py:ClassName")


_LOADED: dict = {}


def load_rule_file(spec: str) -> type[Rule]:
    """``path/to/rule.py:ClassName`` -> the class, imported from that file (one-line errors)."""
    path_text, sep, cls_name = spec.rpartition(":")
    if not sep or not path_text.endswith(".py"):
        path_text, cls_name = spec, ""
    path = Path(path_text)
    if not path.is_file():
        raise UserError(f"rule file {path} not found; give --strategy path/to/rule.py:ClassName")
    resolved = path.resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    module = _LOADED.get(key)
    if module is None:
        mod_name = f"rotationlab_rule_{abs(hash(key)):x}"
        loader = importlib.util.spec_from_file_location(mod_name, resolved)
        module = importlib.util.module_from_spec(loader)
        sys.modules[mod_name] = module  # pickling (worker processes) finds the class again
        try:
            loader.loader.exec_module(module)
        except SyntaxError as exc:
            sys.modules.pop(mod_name, None)
            raise UserError(f"rule file {path}: syntax error at line {exc.lineno}: {exc.msg}") from None
        except UserError:
            sys.modules.pop(mod_name, None)
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code
            sys.modules.pop(mod_name, None)
            raise UserError(f"rule file {path} failed to import: {type(exc).__name__}: {exc}") from None
        _LOADED[key] = module
    rules = {n: v for n, v in vars(module).items()
             if isinstance(v, type) and issubclass(v, Rule) and v is not Rule and v.__module__ == module.__name__}
    if not cls_name:
        if len(rules) != 1:
            raise UserError(f"rule file {path} defines {len(rules)} rules ({', '.join(rules) or 'none'}); "
                            f"name one: --strategy {path}:ClassName")
        cls_name = next(iter(rules))
    cls = rules.get(cls_name)
    if cls is None:
        other = getattr(module, cls_name, None)
        if other is not None:
            raise UserError(f"{path}:{cls_name} is not a rotation rule: subclass rotationlab.Rule")
        close = difflib.get_close_matches(cls_name, list(rules), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"rule file {path} has no rule class {cls_name!r}{hint}; it defines "
                        f"{', '.join(rules) or 'none'}")
    if cls.decide is Rule.decide:
        raise UserError(f"{path}:{cls_name} has no decide(self, h) method; define it to return target weights")
    if not cls.key:
        cls.key = f"{path}:{cls_name}"
    cls.source_file = str(resolved)
    return cls
