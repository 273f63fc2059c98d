"""One small expression language for every expression read from user text, evaluated without ``eval``.

It serves three uses: a sweep ``--constraint`` over parameter values (``hold_days >= lookback_days``),
a rule evaluated over a whole price panel at once (``ret(DIA, lookback_days) - ret(QQQ, lookback_days)
>= threshold``) and a study condition (``ret(^DJI, 1) - ret(^IXIC, 1) >= 0.015 and ret(^RUT, 1) > 0``).

API::

    e = parse(text, what="--constraint")   # syntax and size limits only -> Expr
    e.text, e.names, e.symbols, e.functions
    e.check(ctx)                           # names, functions, arguments against a context
    e.evaluate(ctx)                        # a scalar (ScalarContext) or a float array (SeriesContext)
    e.margin(ctx)                          # signed distance of a condition from flipping
    e.needed_symbols(names)                # the symbols a series evaluation will fetch

    ScalarContext(names)                   # names = parameter values
    SeriesContext(env, names)              # env: .close/.open/.high/.low(sym) -> float arrays, .symbols
    Panel(close={...}, open={...}, ...)    # a ready-made env over dicts of equal-length arrays

Every error is an :class:`ExprError` (a :class:`~rotationlab.errors.UserError`) whose message is one
line ``bad <what> '<text>': <reason>``; ``.reason`` holds the part after the colon.

Grammar (EBNF; keywords are case-sensitive, ``true``/``True`` and ``false``/``False`` both work)::

    expression = or_expr ;
    or_expr    = and_expr , { "or" , and_expr } ;
    and_expr   = not_expr , { "and" , not_expr } ;
    not_expr   = "not" , not_expr | comparison ;
    comparison = sum , { comp_op , sum } ;              (* a < b < c means a < b and b < c *)
    comp_op    = "<" | "<=" | ">" | ">=" | "==" | "!=" | "in" | "not" , "in" ;
    sum        = product , { ( "+" | "-" ) , product } ;
    product    = unary , { ( "*" | "/" | "%" ) , unary } ;
    unary      = ( "-" | "+" ) , unary | atom ;
    atom       = number | string | "true" | "false" | symbol | call | name
               | "(" , expression , ")" | list ;
    call       = name , "(" , [ expression , { "," , expression } ] , ")" ;
    list       = "(" , ")" | "(" , literal , "," , [ literal , { "," , literal } , [ "," ] ] , ")"
               | "[" , [ literal , { "," , literal } , [ "," ] ] , "]" ;
    literal    = { "-" | "+" } , number | string | "true" | "false" ;
    name       = letter_ , { letter_ | digit | "." } ;      (* letter_ = A-Z a-z _ *)
    symbol     = "^" , ( letter_ | digit | "." ) , { letter_ | digit | "." } ;
    number     = digits , [ "." , [ digits ] ] , [ exponent ] | "." , digits , [ exponent ] ;
    exponent   = ( "e" | "E" ) , [ "+" | "-" ] , digits ;
    string     = "'" , { any printable character but ' and \\ } , "'"
               | '"' , { any printable character but " and \\ } , '"' ;

Reserved words (never names): ``and or not in true false True False``. ``**`` and ``//`` are
refused (there is no power and no floor division), as is every character not in the grammar.

Limits: text <= :data:`MAX_LENGTH` characters, nesting (parentheses, calls, operators) <=
:data:`MAX_DEPTH` levels, <= :data:`MAX_NODES` parts, numbers of <= :data:`MAX_NUMBER_CHARS`
characters and magnitude <= :data:`MAX_LITERAL`, strings of <= :data:`MAX_STRING` characters,
windows (``DAYS``) whole numbers from 1 to :data:`MAX_WINDOW` and never longer than the data, and
the averaging windows of one series evaluation (sma, zscore and the averages inside rs, pct_above,
thrust and golden_cross) add up to <= :data:`MAX_WINDOW_WORK` bar-values.
No operation's cost grows with a value, so evaluation takes O(parts x data length).

Scalar context (constraints). Names are parameter values: numbers, true/false (as 1/0),
strings, lists of strings or numbers. ``+ - * / %`` take numbers; a result larger than 1e300 in
size, and division by zero, are errors. ``==``/``!=`` compare numbers with numbers, strings with
strings and lists with lists (anything else is an error); ``< <= > >=`` numbers or strings;
``x in L`` is true when an item of the list ``L`` equals ``x``. ``and``/``or`` short-circuit and
give true/false. Functions: ``abs(x)``, ``min(a, b, ...)``/``max(a, b, ...)`` (or of one list),
``round(x)``/``round(x, digits)`` with digits from -15 to 15.

Series context (rules, conditions). Every value is a float array over the panel's T bars (scalars
broadcast); names are numeric parameters. Functions, all causal (the value at bar t uses bars
<= t only), NaN where the window is incomplete:

* ``close(S)``, ``open(S)``, ``high(S)``, ``low(S)``: the prices of symbol S (NaN before its first bar);
* ``ret(S, n)``: ``c[t] / c[t-n] - 1`` exactly as those two float operations;
* ``sma(x, n)``: mean of the last n values, ``sliding_window_view(x, n).mean(axis=-1)`` aligned
  to the window's end (bit-identical to ``np.mean`` of each window);
* ``max(x, n)``, ``min(x, n)``: rolling maximum/minimum of the last n values including t;
* ``zscore(x, n)``: ``(x - rolling mean) / rolling standard deviation`` with ddof=1 (n >= 2),
  NaN where the standard deviation is 0;
* ``abs(x)``.

Breadth and relative strength (S, B, S1... are series arguments as for sma: a symbol means its
close; a member's NaN bars are left out of a share, and a share is NaN when no member counts):

* ``rs(S, B, n)``: relative strength of S against benchmark B: the ratio ``r = S / B`` over its
  own n-bar mean, minus 1: ``r / sma(r, n) - 1`` (0.02: the ratio is 2 % above its average);
* ``pct_above(n, S1, S2, ...)``: the share (0 to 1) of the members whose value is strictly above
  its own n-bar mean, among the members with both defined;
* ``advancers(S1, S2, ...)``: the share of the members up on the bar (``x[t] > x[t-1]``) among
  those with both closes; unchanged counts as not up;
* ``thrust(low, high, n, S1, S2, ...)``: a Zweig-style breadth thrust. With ``a`` the 10-bar
  mean of ``advancers(S1, ...)``, the value is 1 on a bar t where ``a[t] > high``, ``a[t-1]`` was
  not above ``high`` and ``a[s] < low`` on some bar s from t-n to t-1 (the average moved from
  below low to above high within n bars), 0 on other bars where ``a`` is defined, NaN where it
  is not. Zweig ("Winning on Wall Street", 1986) used the NYSE's advancing / (advancing +
  declining) issues, a 10-day exponential average, low 0.40, high 0.615 and 10 days:
  ``thrust(0.40, 0.615, 10, ...)``; here the average is simple, and needs 0 <= low < high <= 1;
* ``golden_cross(S, fast, slow)``: 1 while the fast-bar mean of S is above its slow-bar mean, 0
  otherwise, NaN until the slow mean is defined (fast < slow).

The functions behind them (:func:`relative_strength`, :func:`share_above`,
:func:`advancing_share`, :func:`breadth_thrust`, :func:`cross_above`, :func:`basket_line`) are
public, for rules that compute the same signals in Python.

S (the first argument of close/open/high/low/ret) is a symbol: ``DIA``, ``^DJI`` or a quoted
``'BRK-B'``; a string parameter (``leader``) stands for its value. The first argument of
sma/max/min/zscore (and every series argument of the breadth functions) is a series expression
or a symbol meaning its close: a bare name there is a parameter if the context has one by that
name (a string parameter is a symbol), otherwise a symbol, so :meth:`Expr.needed_symbols` knows
before any data is loaded what will be fetched.

NaN semantics (series): arithmetic propagates NaN (``x / 0`` follows IEEE: +-inf, ``0 / 0`` NaN);
a comparison with a NaN side is NaN ("unknown"), otherwise 1.0 or 0.0; ``and``/``or``/``not``
use three-valued (Kleene) logic on {0, 1, NaN}, treating any non-zero number as true: false and
unknown is false, true or unknown is true. A condition's result is a float array in {0.0, 1.0, NaN}.
Identical sub-expressions are computed once per evaluation.

Margin: for a condition, its signed distance from flipping in its own units. ``a >= b``, ``a > b``:
``a - b``; ``a <= b``, ``a < b``: ``b - a``; ``a == b``: ``-|a - b|``; ``a != b``: ``|a - b|``;
a chain is the ``and`` of its links; ``and``: the smallest margin, ``or``: the largest, ``not``:
the negation. Positive means currently true (zero is the boundary itself). In the series context
a NaN margin is unknown, and ``and``/``or`` follow Kleene logic (a negative margin decides an
``and`` even when another side is NaN).
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from data_feeds.base import did_you_mean
from rotationlab.errors import UserError

MAX_LENGTH = 2_000
MAX_DEPTH = 40
MAX_NODES = 500
MAX_NUMBER_CHARS = 30
MAX_LITERAL = 1e15
MAX_STRING = 64
MAX_WINDOW = 100_000
MAX_SCALAR = 1e300
#: Sum over sma/zscore calls of (windows x window length), zscore counted 5 times (mean and std).
MAX_WINDOW_WORK = 500_000_000
_STD_CHUNK = 1 << 20  # values per block when computing rolling standard deviations
_FLAT = 1e-12         # zscore: a window whose std is below this fraction of its mean counts as flat


class ExprError(UserError):
    """A bad expression: ``str(err)`` is ``bad <what> '<text>': <reason>`` on one line."""

    def __init__(self, what: str, text: str, reason: str):
        self.what, self.text, self.reason = what, text, " ".join(str(reason).split())
        super().__init__(f"bad {what} {_show(text)}: {self.reason}")

    def __reduce__(self):  # picklable across worker processes
        return ExprError, (self.what, self.text, self.reason)


def _show(text: str) -> str:
    if len(text) <= 120:
        return repr(text)
    return f"{text[:100]!r}... ({len(text):,} characters)"


# -- tokens ------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<sym>\^[A-Za-z0-9_.]+)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<op>\*\*|//|<=|>=|==|!=|[-+*/%<>(),\[\]])
""", re.VERBOSE | re.ASCII)
_KEYWORDS = {"and", "or", "not", "in"}
_BOOLS = {"true": True, "True": True, "false": False, "False": False}
_HINTS = {"=": " (use == to compare)", "&": " (use and)", "|": " (use or)", "!": " (use != or not)",
          "~": " (use not)", "^": " (a symbol is ^ followed by letters, e.g. ^DJI; there is no power operator)"}
_REFUSED = {"**": "'**' is not supported: there is no power operator; multiply instead (x * x)",
            "//": "'//' is not supported: there is no floor division; use / (and round(...)) or %"}


@dataclass(frozen=True)
class _Tok:
    kind: str   # num str name sym kw bool op end
    text: str
    value: object
    col: int    # 1-based


def _tokenize(text: str, fail) -> list[_Tok]:
    toks, pos, n = [], 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        col = pos + 1
        if m is None:
            ch = text[pos]
            if ch in "'\"":
                fail(f"unterminated string starting at column {col}")
            fail(f"unexpected {ch!r} at column {col}{_HINTS.get(ch, '')}")
        kind, tok = m.lastgroup, m.group()
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "num":
            if len(tok) > MAX_NUMBER_CHARS:
                fail(f"number {tok[:20]}... at column {col} is too long (at most {MAX_NUMBER_CHARS} characters)")
            value = int(tok) if tok.isdigit() else float(tok)
            if not abs(value) <= MAX_LITERAL:
                fail(f"number {tok} at column {col} is out of range (at most 1e15 in size)")
            toks.append(_Tok("num", tok, value, col))
        elif kind == "str":
            body = tok[1:-1]
            if len(body) > MAX_STRING:
                fail(f"string at column {col} is too long (at most {MAX_STRING} characters)")
            if "\\" in body:
                fail(f"backslashes are not allowed in strings (column {col})")
            if not body.isprintable():
                fail(f"string at column {col} holds a non-printable character")
            toks.append(_Tok("str", tok, body, col))
        elif kind == "name":
            if tok in _KEYWORDS:
                toks.append(_Tok("kw", tok, tok, col))
            elif tok in _BOOLS:
                toks.append(_Tok("bool", tok, _BOOLS[tok], col))
            else:
                toks.append(_Tok("name", tok, tok, col))
        elif kind == "sym":
            toks.append(_Tok("sym", tok, tok, col))
        else:
            if tok in _REFUSED:
                fail(f"{_REFUSED[tok]} (column {col})")
            toks.append(_Tok("op", tok, tok, col))
    toks.append(_Tok("end", "", None, n + 1))
    return toks


# -- nodes -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """One part of an expression. ``kind``: num str bool name sym list neg pos not arith cmp and
    or call; ``value``: the literal, name, operator tuple (arith/cmp) or function name; ``key``:
    the canonical form (identical keys compute identical values)."""

    kind: str
    value: object
    children: tuple = ()
    col: int = field(default=0, compare=False)
    key: str = field(default="", compare=False)
    depth: int = field(default=1, compare=False)


def _key(kind, value, children) -> str:
    ks = [c.key for c in children]
    if kind in ("num", "str"):
        return repr(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind in ("name", "sym"):
        return value
    if kind == "list":
        return "[" + ",".join(ks) + "]"
    if kind == "neg":
        return f"(-{ks[0]})"
    if kind == "pos":
        return ks[0]
    if kind == "not":
        return f"(not {ks[0]})"
    if kind in ("arith", "cmp"):
        out = ks[0]
        for op, k in zip(value, ks[1:]):
            out += f" {op} {k}"
        return f"({out})"
    if kind in ("and", "or"):
        return "(" + f" {kind} ".join(ks) + ")"
    return f"{value}(" + ",".join(ks) + ")"  # call


_LITERALS = ("num", "str", "bool")
_INFIX = {"or": 1, "and": 2, "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4, "!=": 4, "in": 4, "not in": 4,
          "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_FAMILY = {1: ("or",), 2: ("and",), 4: ("<", "<=", ">", ">=", "==", "!=", "in", "not in"),
           5: ("+", "-"), 6: ("*", "/", "%")}
_NOT_BP, _UNARY_BP = 3, 7


class _Parser:
    def __init__(self, text: str, fail):
        self.fail = fail
        self.toks = _tokenize(text, fail)
        self.i = 0
        self.count = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def advance(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def node(self, kind, value, children=(), col=0) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            self.fail(f"too many parts (at most {MAX_NODES})")
        depth = 1 + max((c.depth for c in children), default=0)
        if depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep")
        return Node(kind, value, tuple(children), col, _key(kind, value, children), depth)

    def unexpected(self, expected: str | None = None):
        t = self.tok
        got = "the end" if t.kind == "end" else repr(t.text)
        if expected:
            self.fail(f"expected {expected} at column {t.col}, got {got}")
        self.fail(f"unexpected {got} at column {t.col}" if t.kind != "end"
                  else f"expected a value at column {t.col}, got the end")

    def expect(self, text: str):
        if self.tok.kind != "op" or self.tok.text != text:
            self.unexpected(repr(text))
        self.advance()

    def infix(self) -> str | None:
        t = self.tok
        if t.kind == "op" and t.text in _INFIX:
            return t.text
        if t.kind == "kw" and t.text in ("and", "or", "in"):
            return t.text
        if t.kind == "kw" and t.text == "not" and self.toks[self.i + 1].text == "in" \
                and self.toks[self.i + 1].kind == "kw":
            return "not in"
        return None

    def parse(self) -> Node:
        root = self.expr(0, 1)
        if self.tok.kind != "end":
            self.unexpected()
        return root

    def expr(self, rbp: int, depth: int) -> Node:
        if depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep")
        left = self.prefix(rbp, depth)
        while True:
            op = self.infix()
            if op is None or _INFIX[op] <= rbp:
                return left
            bp = _INFIX[op]
            family = _FAMILY[bp]
            col = self.tok.col
            ops, operands = [], [left]
            while (op := self.infix()) in family:
                self.advance()
                if op == "not in":
                    self.advance()
                ops.append(op)
                operands.append(self.expr(bp, depth + 1))
            if bp in (1, 2):
                left = self.node(family[0], family[0], operands, col)
            else:
                left = self.node("cmp" if bp == 4 else "arith", tuple(ops), operands, col)

    def prefix(self, rbp: int, depth: int) -> Node:
        t = self.tok
        if t.kind in ("num", "str", "bool"):
            self.advance()
            return self.node(t.kind, t.value, (), t.col)
        if t.kind == "sym":
            self.advance()
            return self.node("sym", t.value, (), t.col)
        if t.kind == "name":
            self.advance()
            if self.tok.kind == "op" and self.tok.text == "(":
                self.advance()
                args = []
                if not (self.tok.kind == "op" and self.tok.text == ")"):
                    args.append(self.expr(0, depth + 1))
                    while self.tok.kind == "op" and self.tok.text == ",":
                        self.advance()
                        args.append(self.expr(0, depth + 1))
                self.expect(")")
                return self.node("call", t.value, args, t.col)
            return self.node("name", t.value, (), t.col)
        if t.kind == "kw" and t.text == "not":
            if rbp >= _NOT_BP + 1:
                self.fail(f"'not' at column {t.col} must start a condition; put it in parentheses: (not ...)")
            self.advance()
            return self.node("not", "not", [self.expr(_NOT_BP, depth + 1)], t.col)
        if t.kind == "op" and t.text in ("-", "+"):
            self.advance()
            operand = self.expr(_UNARY_BP, depth + 1)
            if operand.kind == "num":  # folded into the literal (already counted)
                value = -operand.value if t.text == "-" else operand.value
                return Node("num", value, (), t.col, _key("num", value, ()), 1)
            return self.node("neg" if t.text == "-" else "pos", t.text, [operand], t.col)
        if t.kind == "op" and t.text == "[":
            self.advance()
            return self.list_rest("]", [], t.col, depth)
        if t.kind == "op" and t.text == "(":
            self.advance()
            if self.tok.kind == "op" and self.tok.text == ")":
                self.advance()
                return self.node("list", None, (), t.col)
            inner = self.expr(0, depth + 1)
            if self.tok.kind == "op" and self.tok.text == ",":
                return self.list_rest(")", [self.literal(inner)], t.col, depth)
            self.expect(")")
            return inner
        self.unexpected()

    def literal(self, node: Node) -> Node:
        if node.kind not in _LITERALS:
            self.fail(f"list items must be numbers, strings or true/false (column {node.col})")
        return node

    def list_rest(self, close: str, items: list, col: int, depth: int) -> Node:
        """The rest of a list after its opening bracket (and, for ``(``, its first item)."""
        while True:
            if self.tok.kind == "op" and self.tok.text == close:
                self.advance()
                return self.node("list", None, items, col)
            if items:
                self.expect(",")
                if self.tok.kind == "op" and self.tok.text == close:
                    continue
            items.append(self.literal(self.expr(0, depth + 1)))


# -- functions and contexts --------------------------------------------------------------------
@dataclass(frozen=True)
class Fn:
    """A function of a context: argument count bounds, argument kinds (``value``, ``symbol``,
    ``series`` = series expression or symbol, ``window``; the last kind repeats) and its usage."""

    name: str
    min_args: int
    max_args: int | None
    kinds: tuple
    usage: str

    def kind(self, i: int) -> str:
        return self.kinds[min(i, len(self.kinds) - 1)]


SCALAR_FUNCTIONS = {
    "abs": Fn("abs", 1, 1, ("value",), "abs(x)"),
    "min": Fn("min", 1, None, ("value",), "min(a, b, ...)"),
    "max": Fn("max", 1, None, ("value",), "max(a, b, ...)"),
    "round": Fn("round", 1, 2, ("value",), "round(x) or round(x, digits)"),
}
SERIES_FUNCTIONS = {
    "close": Fn("close", 1, 1, ("symbol",), "close(SYMBOL)"),
    "open": Fn("open", 1, 1, ("symbol",), "open(SYMBOL)"),
    "high": Fn("high", 1, 1, ("symbol",), "high(SYMBOL)"),
    "low": Fn("low", 1, 1, ("symbol",), "low(SYMBOL)"),
    "ret": Fn("ret", 2, 2, ("symbol", "window"), "ret(SYMBOL, DAYS)"),
    "sma": Fn("sma", 2, 2, ("series", "window"), "sma(x, DAYS)"),
    "max": Fn("max", 2, 2, ("series", "window"), "max(x, DAYS)"),
    "min": Fn("min", 2, 2, ("series", "window"), "min(x, DAYS)"),
    "zscore": Fn("zscore", 2, 2, ("series", "window"), "zscore(x, DAYS)"),
    "abs": Fn("abs", 1, 1, ("value",), "abs(x)"),
    "rs": Fn("rs", 3, 3, ("series", "series", "window"), "rs(S, B, DAYS)"),
    "pct_above": Fn("pct_above", 2, None, ("window", "series"), "pct_above(DAYS, S1, S2, ...)"),
    "advancers": Fn("advancers", 1, None, ("series",), "advancers(S1, S2, ...)"),
    "thrust": Fn("thrust", 4, None, ("number", "number", "window", "series"),
                 "thrust(LOW, HIGH, DAYS, S1, S2, ...)"),
    "golden_cross": Fn("golden_cross", 3, 3, ("series", "window", "window"), "golden_cross(S, FAST, SLOW)"),
}
_SERIES_MAKERS = frozenset({"close", "open", "high", "low", "ret", "sma", "max", "min", "zscore", "rs",
                            "pct_above", "advancers", "thrust", "golden_cross"})
_SYMBOL_FUNCS = frozenset(k for k, f in SERIES_FUNCTIONS.items() if f.kinds[0] == "symbol")
_SERIES_FIRST = frozenset(k for k, f in SERIES_FUNCTIONS.items() if f.kinds[0] == "series")
#: The mean window of thrust() (Zweig's 10 days).
THRUST_AVERAGE_DAYS = 10


def _role(fn: str, i: int) -> str:
    """``symbol``, ``series`` or ``value``: what argument ``i`` of function ``fn`` names (known
    before any context: a symbol, a series or symbol, or anything else)."""
    f = SERIES_FUNCTIONS.get(fn)
    if f is None:
        return "value"
    kind = f.kind(i)
    return kind if kind in ("symbol", "series") else "value"


class ScalarContext:
    """Parameter values by name; functions abs, min, max, round."""

    kind = "scalar"

    def __init__(self, names: dict):
        self.names = dict(names)
        self.functions = SCALAR_FUNCTIONS


class SeriesContext:
    """A panel ``env`` (``.close/.open/.high/.low(symbol)`` -> float arrays of one length T, NaN
    before a symbol's first bar; ``.symbols``) and numeric parameters ``names`` (broadcast)."""

    kind = "series"

    def __init__(self, env, names: dict | None = None, *, length: int | None = None,
                 window_limit: int | None = None, memo: dict | None = None):
        self.env = env
        self.names = dict(names or {})
        self.functions = SERIES_FUNCTIONS
        self.symbols = list(env.symbols)
        self._length = length
        self._window_limit = window_limit
        #: optional dict shared by evaluations on the same data (e.g. every combination of a
        #: sweep): series sub-expressions are kept there keyed by their form and the values of
        #: the parameters they use, so ``ret(DIA, lookback_days)`` is computed once per value
        self.memo = memo

    @property
    def length(self) -> int:
        if self._length is None:
            if not self.symbols:
                raise ValueError("a SeriesContext without symbols needs length=")
            self._length = len(self.env.close(self.symbols[0]))
        return self._length

    @property
    def window_limit(self) -> int:
        """The longest window allowed: the data's length, or (for a per-bar evaluation on the
        last bars only) the whole history's, given as ``window_limit``."""
        return self._window_limit if self._window_limit is not None else self.length


class Panel:
    """A minimal env: dicts symbol -> 1-D array for close (required) and optionally open/high/low,
    all of one length. A missing field is an error naming the symbol."""

    def __init__(self, close: dict, open: dict | None = None, high: dict | None = None,  # noqa: A002
                 low: dict | None = None):
        self._fields = {"close": dict(close), "open": dict(open or {}), "high": dict(high or {}),
                        "low": dict(low or {})}
        self.symbols = list(self._fields["close"])

    def _get(self, name: str, symbol: str) -> np.ndarray:
        try:
            return np.asarray(self._fields[name][symbol], dtype=np.float64)
        except KeyError:
            raise LookupError(f"no {name} prices for {symbol!r}") from None

    def close(self, symbol):
        return self._get("close", symbol)

    def open(self, symbol):
        return self._get("open", symbol)

    def high(self, symbol):
        return self._get("high", symbol)

    def low(self, symbol):
        return self._get("low", symbol)


# -- the expression ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Expr:
    """A parsed expression. ``names``: parameter names it may read (a bare name as the first
    argument of sma/max/min/zscore is listed here even if it turns out to be a symbol);
    ``symbols``: symbol arguments as written (a name among them may be a string parameter);
    ``functions``: the functions it calls. All in order of first appearance."""

    text: str
    what: str
    root: Node
    names: tuple
    symbols: tuple
    functions: tuple

    def fail(self, reason: str):
        raise ExprError(self.what, self.text, reason)

    def check(self, context) -> None:
        """Validate names, functions, argument counts and kinds against ``context``."""
        _Checker(self, context).check(self.root)

    def evaluate(self, context, *, check: bool = True):
        """The value: a Python scalar (ScalarContext) or a float64 array of length T (SeriesContext)."""
        if check:
            self.check(context)
        ev = _Eval(self, context)
        out = ev.ev(self.root)
        return ev.finish(out)

    def margin(self, context, *, check: bool = True):
        """Signed distance of a condition from flipping (positive = true); see the module docstring."""
        if check:
            self.check(context)
        ev = _Eval(self, context)
        return ev.finish(ev.margin(self.root))

    def lookback(self, names: dict | None = None) -> int | None:
        """Bars of history (the decision bar included) the series value at a bar depends on, with
        parameters ``names``: ``ret(S, n)`` needs n + 1, ``sma/max/min/zscore(x, n)`` n - 1 more
        than x. Evaluating on the last ``lookback`` bars gives the same value at the last bar as
        evaluating on the whole history. None when it cannot be told (a window that is not a
        number or a parameter)."""
        names = names or {}

        def window(node):
            if node.kind == "num":
                v = node.value
            elif node.kind == "name" and _is_number(names.get(node.value)):
                v = names[node.value]
            else:
                return None
            return int(v) if float(v) == int(v) and v >= 1 else None

        def need(node):
            if node.kind == "call":
                fn, args = node.value, node.children
                if fn in ("close", "open", "high", "low"):
                    return 1
                if fn == "ret":
                    n = window(args[1])
                    return None if n is None else n + 1
                if fn in ("sma", "max", "min", "zscore") and len(args) == 2:
                    n, inner = window(args[1]), (1 if _is_symbol_arg(args[0], names) else need(args[0]))
                    return None if n is None or inner is None else n - 1 + inner
                if fn == "abs":
                    return need(args[0])

                def series_need(node):
                    return 1 if _is_symbol_arg(node, names) else need(node)
                if fn == "rs" and len(args) == 3:
                    n, a, b = window(args[2]), series_need(args[0]), series_need(args[1])
                    return None if None in (n, a, b) else n - 1 + max(a, b)
                if fn == "golden_cross" and len(args) == 3:
                    n, a = window(args[2]), series_need(args[0])
                    return None if None in (n, a) else n - 1 + a
                if fn in ("pct_above", "advancers", "thrust"):
                    members = args[1:] if fn == "pct_above" else args[3:] if fn == "thrust" else args
                    parts = [series_need(m) for m in members]
                    if None in parts:
                        return None
                    inner = max(parts)
                    if fn == "pct_above":
                        n = window(args[0])
                        return None if n is None else n - 1 + inner
                    if fn == "advancers":
                        return inner + 1
                    n = window(args[2])  # thrust: the n bars before, of a 10-bar mean of advancers
                    return None if n is None else n + THRUST_AVERAGE_DAYS + inner
                return None
            if not node.children:
                return 1
            parts = [need(c) for c in node.children]
            return None if any(p is None for p in parts) else max(parts)
        return need(self.root)

    def needed_symbols(self, names: dict | None = None) -> tuple:
        """The symbols a series evaluation with parameters ``names`` fetches (before loading data)."""
        names = names or {}
        out = {}
        for node in _walk(self.root):
            if node.kind != "call":
                continue
            for i, arg in enumerate(node.children):
                if _role(node.value, i) == "value":
                    continue
                if arg.kind in ("sym", "str"):
                    out.setdefault(arg.value, None)
                elif arg.kind == "name" and arg.value not in names:
                    out.setdefault(arg.value, None)
                elif arg.kind == "name" and isinstance(names[arg.value], str):
                    out.setdefault(names[arg.value], None)
        return tuple(out)


def _walk(root: Node):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def parse(text: str, *, what: str = "--constraint") -> Expr:
    """Parse ``text`` (syntax and size limits only; ``what`` names the flag in messages).
    Expressions are immutable: the same text parses once (the last 2,048 are kept)."""
    if not isinstance(text, str):
        raise ExprError(what, str(text), "not a text")
    return _parse_cached(text, what)


@functools.lru_cache(maxsize=2048)
def _parse_cached(text: str, what: str) -> Expr:

    def fail(reason):
        raise ExprError(what, text, reason)

    if len(text) > MAX_LENGTH:
        fail(f"too long ({len(text):,} characters; at most {MAX_LENGTH:,})")
    if not text.strip():
        fail("empty expression")
    root = _Parser(text, fail).parse()
    names, symbols, functions = {}, {}, {}
    for node in _walk(root):
        if node.kind == "call":
            functions.setdefault(node.value, None)
    _collect(root, names, symbols)
    return Expr(text, what, root, tuple(names), tuple(symbols), tuple(functions))


def _collect(root: Node, names: dict, symbols: dict):
    """Names and symbols in order of first appearance (``symbol``: a first argument of
    close/open/high/low/ret; ``series``: of sma/max/min/zscore, where a string is a symbol)."""
    stack = [(root, "value")]
    while stack:
        node, role = stack.pop()
        if node.kind == "name":
            (symbols if role == "symbol" else names).setdefault(node.value, None)
        elif node.kind == "sym" or (node.kind == "str" and role != "value"):
            symbols.setdefault(node.value, None)
        elif node.kind == "call":
            stack.extend((c, _role(node.value, i)) for i, c in reversed(list(enumerate(node.children))))
        else:
            stack.extend((c, "value") for c in reversed(node.children))


# -- checking ----------------------------------------------------------------------------------
def _listing(items, limit: int = 20) -> str:
    items = list(items)
    return (", ".join(map(str, items[:limit])) + (", ..." if len(items) > limit else "")) or "none"


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, str)


def _kind_of(v) -> str:
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (tuple, list)):
        return "a list"
    if _is_number(v):
        return "a number"
    return f"a {type(v).__name__}"


class _Checker:
    def __init__(self, expr: Expr, ctx):
        self.expr, self.ctx, self.fail = expr, ctx, expr.fail
        self.series = ctx.kind == "series"

    def unknown_name(self, name: str):
        known = list(self.ctx.names)
        if self.series:
            self.fail(f"unknown name {name!r}{did_you_mean(name, known)}; use numeric parameter names "
                      "or a function of a symbol such as close(SYMBOL)")
        self.fail(f"unknown name {name!r}{did_you_mean(name, known)}; use parameter names")

    def symbol(self, node: Node, fn: str, either: bool = False) -> str:
        """The symbol a symbol argument names (checked against the panel); ``either``: the
        argument could also have been a parameter name (first argument of sma/max/min/zscore)."""
        if node.kind in ("sym", "str"):
            sym = node.value
        elif node.kind == "name":
            if node.value in self.ctx.names:
                sym = self.ctx.names[node.value]
                if not isinstance(sym, str):
                    self.fail(f"{fn}() needs a symbol first, but parameter {node.value!r} is {_kind_of(sym)}")
            else:
                sym = node.value
        else:
            self.fail(f"{fn}() needs a symbol first (e.g. {fn}(^DJI, ...) or {fn}('BRK-B', ...)), "
                      f"not an expression (column {node.col})")
        if sym not in self.ctx.symbols and either and node.kind == "name" and node.value == sym:
            numeric = [k for k, v in self.ctx.names.items() if _is_number(v)]
            self.fail(f"unknown symbol or name {sym!r}{did_you_mean(sym, [*self.ctx.symbols, *numeric])}; "
                      f"symbols: {_listing(self.ctx.symbols)}; numeric parameters: {_listing(numeric)}")
        if sym not in self.ctx.symbols:
            self.fail(f"unknown symbol {sym!r}{did_you_mean(sym, self.ctx.symbols)}; "
                      f"available: {_listing(self.ctx.symbols)}")
        return sym

    def check(self, node: Node):
        k = node.kind
        if k == "name":
            if node.value not in self.ctx.names:
                self.unknown_name(node.value)
            v = self.ctx.names[node.value]
            if self.series and not _is_number(v):
                self.fail(f"parameter {node.value!r} is {_kind_of(v)}, not a number")
        elif k == "sym":
            if self.series:
                self.fail(f"a symbol needs a function, e.g. close({node.value}) or ret({node.value}, 5) "
                          f"(column {node.col})")
            self.fail(f"write symbols in quotes here: '{node.value}' (column {node.col})")
        elif k == "str" and self.series:
            self.fail(f"a string stands only for a symbol, e.g. close({node.value!r}) (column {node.col})")
        elif k == "list" and self.series:
            self.fail(f"lists compare parameter values; they have no meaning over a price series (column {node.col})")
        elif k in ("arith", "neg", "pos"):
            for c in node.children:
                if c.kind in ("str", "list"):
                    op = node.value[0] if k == "arith" else node.value
                    self.fail(f"{op!r} needs numbers, got {'a string' if c.kind == 'str' else 'a list'} "
                              f"(column {c.col})")
                self.check(c)
        elif k == "cmp":
            if self.series and any(op in ("in", "not in") for op in node.value):
                self.fail("'in' compares parameter values; it has no meaning over a price series")
            for c in node.children:
                self.check(c)
        elif k == "call":
            self.call(node)
        else:
            for c in node.children:
                self.check(c)

    def call(self, node: Node):
        fns = self.ctx.functions
        fn = fns.get(node.value)
        if fn is None:
            self.fail(f"unknown function {node.value!r}{did_you_mean(node.value, fns)}; "
                      f"use {', '.join(f.usage for f in fns.values())}")
        n = len(node.children)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            count = (f"{fn.min_args}" if fn.min_args == fn.max_args else
                     f"{fn.min_args} or more" if fn.max_args is None else f"{fn.min_args} to {fn.max_args}")
            self.fail(f"{fn.name}() takes {count} argument{'s' if count != '1' else ''} ({fn.usage}), got {n}")
        for i, arg in enumerate(node.children):
            kind = fn.kind(i)
            if kind == "symbol":
                self.symbol(arg, fn.name)
            elif kind == "series":
                if _is_symbol_arg(arg, self.ctx.names):
                    self.symbol(arg, fn.name, either=True)
                else:
                    self.check(arg)
            elif kind in ("window", "number"):
                self.check(arg)
                if any(c.kind == "call" and c.value in _SERIES_MAKERS for c in _walk(arg)):
                    what = "the window" if kind == "window" else f"argument {i + 1}"
                    unit = "a number of bars" if kind == "window" else "a number"
                    self.fail(f"{what} of {fn.name}() must be {unit} (a parameter or a literal), "
                              f"not a series (column {arg.col})")
            else:
                self.check(arg)


# -- evaluation --------------------------------------------------------------------------------
def _truth(x):
    """{0, 1, NaN} from any numbers: NaN stays unknown, non-zero is true."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(np.isnan(x), np.nan, (x != 0).astype(np.float64))


def _kleene_and(parts):
    parts = np.broadcast_arrays(*[_truth(p) for p in parts])
    stack = np.stack(parts)
    false = (stack == 0).any(axis=0)
    unknown = np.isnan(stack).any(axis=0)
    return np.where(false, 0.0, np.where(unknown, np.nan, 1.0))


def _kleene_or(parts):
    parts = np.broadcast_arrays(*[_truth(p) for p in parts])
    stack = np.stack(parts)
    true = (stack == 1).any(axis=0)
    unknown = np.isnan(stack).any(axis=0)
    return np.where(true, 1.0, np.where(unknown, np.nan, 0.0))


def _margin_and(parts):
    stack = np.stack(np.broadcast_arrays(*[np.asarray(p, dtype=np.float64) for p in parts]))
    decided = (stack < 0).any(axis=0)
    return np.where(decided, np.fmin.reduce(stack, axis=0), np.minimum.reduce(stack, axis=0))


def _margin_or(parts):
    stack = np.stack(np.broadcast_arrays(*[np.asarray(p, dtype=np.float64) for p in parts]))
    decided = (stack > 0).any(axis=0)
    return np.where(decided, np.fmax.reduce(stack, axis=0), np.maximum.reduce(stack, axis=0))


_NP_CMP = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
           "==": np.equal, "!=": np.not_equal}
_PY_CMP = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
           ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def rolling_extreme(x: np.ndarray, n: int, fn=np.maximum) -> np.ndarray:
    """Rolling ``fn`` (np.maximum or np.minimum) over the last ``n`` values, in O(T) (van Herk /
    Gil-Werman blocks); NaN for the first n-1 bars and wherever the window holds a NaN."""
    x = np.asarray(x, dtype=np.float64)
    T = len(x)
    out = np.full(T, np.nan)
    if n > T:
        return out
    blocks = -(-T // n)
    pad = np.full(blocks * n, -np.inf if fn is np.maximum else np.inf)
    pad[:T] = x
    b = pad.reshape(blocks, n)
    pre = fn.accumulate(b, axis=1).ravel()
    suf = fn.accumulate(b[:, ::-1], axis=1)[:, ::-1].ravel()
    out[n - 1:] = fn(suf[: T - n + 1], pre[n - 1: T])
    return out


def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last ``n`` values, bit-identical to ``np.mean`` of each window (NaN warm-up)."""
    out = np.full(len(x), np.nan)
    if n <= len(x):
        out[n - 1:] = sliding_window_view(x, n).mean(axis=-1)
    return out


def rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last ``n`` values, ``np.std`` of each window,
    computed in blocks so memory stays bounded (NaN warm-up)."""
    out = np.full(len(x), np.nan)
    if n <= len(x):
        view = sliding_window_view(x, n)
        res = np.empty(len(view))
        step = max(1, _STD_CHUNK // n)
        for i in range(0, len(view), step):
            res[i: i + step] = view[i: i + step].std(axis=-1, ddof=1)
        out[n - 1:] = res
    return out


def relative_strength(x: np.ndarray, bench: np.ndarray, n: int) -> np.ndarray:
    """``r / rolling_mean(r, n) - 1`` with ``r = x / bench``: the ratio's distance above its own
    n-bar mean, as a fraction (NaN warm-up, NaN where a window holds a NaN)."""
    r = np.asarray(x, dtype=np.float64) / np.asarray(bench, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return r / rolling_mean(r, n) - 1.0


def _share(hits: np.ndarray, valid: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid > 0, hits / np.maximum(valid, 1), np.nan)


def share_above(members, n: int) -> np.ndarray:
    """Share of ``members`` (arrays of one length) strictly above their own n-bar mean, among
    those with the value and the mean defined; NaN where none is."""
    hits = valid = 0
    for x in members:
        x = np.asarray(x, dtype=np.float64)
        m = rolling_mean(x, n)
        ok = ~np.isnan(x) & ~np.isnan(m)
        hits = hits + (ok & (x > m))
        valid = valid + ok
    return _share(np.asarray(hits, dtype=np.float64), np.asarray(valid, dtype=np.float64))


def advancing_share(members) -> np.ndarray:
    """Share of ``members`` up on each bar (``x[t] > x[t-1]``) among those with both values
    defined; NaN on the first bar and where none is."""
    hits = valid = 0
    for x in members:
        x = np.asarray(x, dtype=np.float64)
        prev = np.empty_like(x)
        prev[:1] = np.nan
        prev[1:] = x[:-1]
        ok = ~np.isnan(x) & ~np.isnan(prev)
        hits = hits + (ok & (x > prev))
        valid = valid + ok
    return _share(np.asarray(hits, dtype=np.float64), np.asarray(valid, dtype=np.float64))


def breadth_thrust(share: np.ndarray, low: float, high: float, n: int,
                   average_days: int = THRUST_AVERAGE_DAYS) -> np.ndarray:
    """1.0 on the bars where the ``average_days`` mean ``a`` of ``share`` closes above ``high``
    after not being above it on the previous bar, with ``a < low`` on some bar of the ``n``
    before; 0.0 where ``a`` is defined otherwise; NaN where it is not (see ``thrust()`` in the
    module docstring)."""
    a = rolling_mean(np.asarray(share, dtype=np.float64), average_days)
    T = len(a)
    with np.errstate(invalid="ignore"):
        above = a > high
        below = (a < low).astype(np.int64)
    seen = np.zeros(T + 1, dtype=np.int64)
    np.cumsum(below, out=seen[1:])                # seen[k]: low readings on bars < k
    t = np.arange(T)
    recent = seen[t] - seen[np.maximum(t - n, 0)] > 0   # a low reading on bars t-n .. t-1
    was_above = np.zeros(T, dtype=bool)
    was_above[1:] = above[:-1]
    out = (above & ~was_above & recent).astype(np.float64)
    out[np.isnan(a)] = np.nan
    return out


def cross_above(x: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """1.0 while the fast-bar mean of ``x`` is above its slow-bar mean, 0.0 otherwise, NaN where
    either mean is undefined."""
    f, s = rolling_mean(x, fast), rolling_mean(x, slow)
    with np.errstate(invalid="ignore"):
        out = (f > s).astype(np.float64)
    out[np.isnan(f) | np.isnan(s)] = np.nan
    return out


def basket_line(members) -> np.ndarray:
    """One line for a basket of price series: the member itself for one member, else the
    geometric mean ``exp(mean(log x_i))`` (the members summed in the order given), NaN where a
    member is NaN. Scaling a member by k scales the line by a constant, so a ratio over its own
    mean (:func:`relative_strength`) does not depend on the members' price levels."""
    members = [np.asarray(x, dtype=np.float64) for x in members]
    if len(members) == 1:
        return members[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.log(members[0])
        for x in members[1:]:
            acc = acc + np.log(x)
        return np.exp(acc / len(members))


#: Series parts kept in a context's shared memo (the costly ones; comparisons and logic are cheap
#: and vary with every threshold), and how many entries it may hold.
_SHARED_KINDS = frozenset({"call", "arith", "neg", "pos"})
MAX_SHARED_MEMO = 4096


def _subtree_names(expr: "Expr") -> dict:
    """node key -> the parameter names its subtree reads (cached on the expression)."""
    cache = expr.__dict__.get("_subnames")
    if cache is None:
        cache = {}

        def visit(node):
            if node.key in cache:
                return cache[node.key]
            names = {node.value} if node.kind == "name" else set()
            for c in node.children:
                names |= set(visit(c))
            cache[node.key] = tuple(sorted(names))
            return cache[node.key]
        visit(expr.root)
        object.__setattr__(expr, "_subnames", cache)
    return cache


class _Eval:
    def __init__(self, expr: Expr, ctx):
        self.expr, self.ctx, self.fail = expr, ctx, expr.fail
        self.series = ctx.kind == "series"
        self.memo: dict = {}
        self.work = 0
        self.shared = getattr(ctx, "memo", None) if self.series else None
        self.subnames = _subtree_names(expr) if self.shared is not None else None

    # -- shared ----------------------------------------------------------------------------
    def finish(self, out):
        if not self.series:
            return out.item() if isinstance(out, (np.generic, np.ndarray)) else out
        T = self.ctx.length
        arr = np.asarray(out, dtype=np.float64)
        return np.full(T, float(arr)) if arr.ndim == 0 else np.array(arr, dtype=np.float64)

    def ev(self, node: Node):
        hit = self.memo.get(node.key, self)
        if hit is not self:
            return hit
        skey = None
        if self.shared is not None and node.kind in _SHARED_KINDS:
            names = self.ctx.names
            skey = (node.key, tuple((n, repr(names.get(n))) for n in self.subnames[node.key]))
            hit = self.shared.get(skey, self)
            if hit is not self:
                self.memo[node.key] = hit
                return hit
        if self.series:
            with np.errstate(all="ignore"):
                val = self._series(node)
        else:
            val = self._scalar(node)
        self.memo[node.key] = val
        if skey is not None and isinstance(val, np.ndarray):
            if len(self.shared) >= MAX_SHARED_MEMO:
                self.shared.clear()
            val.setflags(write=False)
            self.shared[skey] = val
        return val

    def margin(self, node: Node):
        k = node.kind
        if k == "not":
            return -np.asarray(self.margin(node.children[0]), dtype=np.float64)
        if k in ("and", "or"):
            parts = [self.margin(c) for c in node.children]
            return _margin_and(parts) if k == "and" else _margin_or(parts)
        if k == "cmp":
            vals = [self.ev(c) for c in node.children]
            parts = []
            for op, a, b in zip(node.value, vals, vals[1:]):
                if op in ("in", "not in"):
                    self.fail(f"margin is not defined for {op!r}; it needs comparisons of numbers")
                for v in (a, b):
                    if not self.series and not _is_number(v):
                        self.fail(f"margin is not defined for {op!r} on {_kind_of(v)}; it needs numbers")
                if not self.series:
                    a, b = np.float64(a), np.float64(b)
                with np.errstate(all="ignore"):
                    d = {">": a - b, ">=": a - b, "<": b - a, "<=": b - a,
                         "==": -np.abs(a - b), "!=": np.abs(a - b)}[op]
                parts.append(d)
            return parts[0] if len(parts) == 1 else _margin_and(parts)
        self.fail("margin needs a condition (a comparison, and, or, not)")

    def window(self, node: Node, fn: str, lowest: int = 1) -> int:
        v = self.ev(node)
        arr = np.asarray(v)
        if arr.ndim != 0 or not _is_number(arr.item()):
            self.fail(f"the window of {fn}() must be a number of bars, got {_kind_of(v)}")
        x = float(arr.item())
        limit = MAX_WINDOW
        if not (math.isfinite(x) and x == int(x) and lowest <= x <= limit):
            shown = str(int(x)) if math.isfinite(x) and x == int(x) else repr(arr.item())
            self.fail(f"the window of {fn}() must be a whole number of bars from {lowest} to {limit:,}, got {shown}")
        n = int(x)
        if self.series and n > self.ctx.window_limit:
            self.fail(f"the window of {fn}() is {n:,} bars, longer than the data ({self.ctx.window_limit:,} bars)")
        return n

    # -- scalar ----------------------------------------------------------------------------
    def _num(self, v, op):
        if not _is_number(v):
            self.fail(f"{op!r} needs numbers, got {_kind_of(v)}")
        return v

    def _ranged(self, v):
        if _is_number(v) and abs(v) > MAX_SCALAR:
            self.fail("a result is larger than 1e300 in size")
        return v

    def _name(self, name: str):
        if name not in self.ctx.names:
            self.fail(f"unknown name {name!r}{did_you_mean(name, list(self.ctx.names))}; use parameter names")
        v = self.ctx.names[name]
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, list):
            v = tuple(v)
        if not (_is_number(v) or isinstance(v, (str, tuple))):
            self.fail(f"parameter {name!r} is {_kind_of(v)}, which expressions cannot use")
        return v

    def _scalar(self, node: Node):
        k = node.kind
        if k in ("num", "str", "bool"):
            return node.value
        if k == "name":
            return self._name(node.value)
        if k == "list":
            return tuple(self.ev(c) for c in node.children)
        if k == "sym":
            self.fail(f"write symbols in quotes here: '{node.value}'")
        if k == "neg":
            return self._ranged(-self._num(self.ev(node.children[0]), "-"))
        if k == "pos":
            return self._num(self.ev(node.children[0]), "+")
        if k == "not":
            return not self.ev(node.children[0])
        if k == "and":
            return all(bool(self.ev(c)) for c in node.children)  # all() stops at the first false
        if k == "or":
            return any(bool(self.ev(c)) for c in node.children)
        if k == "arith":
            acc = self._num(self.ev(node.children[0]), node.value[0])
            for op, c in zip(node.value, node.children[1:]):
                b = self._num(self.ev(c), op)
                try:
                    acc = acc + b if op == "+" else acc - b if op == "-" else acc * b if op == "*" \
                        else acc / b if op == "/" else acc % b
                except ZeroDivisionError:
                    self.fail("division by zero")
                except OverflowError:
                    self.fail("a result is larger than 1e300 in size")
                self._ranged(acc)
            return acc
        if k == "cmp":
            left = self.ev(node.children[0])
            for op, c in zip(node.value, node.children[1:]):
                right = self.ev(c)
                if not self._compare(op, left, right):
                    return False
                left = right
            return True
        return self._scalar_call(node)

    def _compare(self, op: str, a, b) -> bool:
        if op in ("in", "not in"):
            if not isinstance(b, tuple):
                self.fail(f"{op!r} needs a list on its right, e.g. x in (1, 2), got {_kind_of(b)}")
            found = any(_same(a, item) for item in b)
            return found if op == "in" else not found
        ka, kb = _kind_of(a), _kind_of(b)
        if ka != kb or (op not in ("==", "!=") and ka not in ("a number", "a string")):
            self.fail(f"cannot compare {ka} with {kb} using {op!r}")
        if ka == "a list":
            a, b = tuple(a), tuple(b)
        return bool(_PY_CMP[op](a, b))

    def _scalar_call(self, node: Node):
        name, args = node.value, [self.ev(c) for c in node.children]
        if name == "abs":
            return abs(self._num(args[0], "abs"))
        if name in ("min", "max"):
            if len(args) == 1:
                if not isinstance(args[0], tuple) or not args[0]:
                    self.fail(f"{name}() of one argument needs a non-empty list, got {_kind_of(args[0])}")
                args = list(args[0])
            for a in args:
                self._num(a, name)
            return min(args) if name == "min" else max(args)
        if name != "round":
            self.fail(f"unknown function {name!r}")
        x = self._num(args[0], "round")
        if len(args) == 1:
            if not math.isfinite(x):
                self.fail(f"cannot round {x}")
            return round(x)
        d = self._num(args[1], "round")
        if d != int(d) or not -15 <= d <= 15:
            self.fail(f"round(x, digits) needs whole digits from -15 to 15, got {d!r}")
        return self._ranged(round(x, int(d)))

    # -- series ----------------------------------------------------------------------------
    def _series(self, node: Node):
        k = node.kind
        if k == "num":
            return np.float64(node.value)
        if k == "bool":
            return np.float64(1.0 if node.value else 0.0)
        if k == "name":
            v = self._name(node.value)
            if not _is_number(v):
                self.fail(f"parameter {node.value!r} is {_kind_of(v)}, not a number")
            return np.float64(v)
        if k in ("str", "sym", "list"):
            self.fail(f"{node.key} is not a number (column {node.col})")
        if k == "neg":
            return -self.ev(node.children[0])
        if k == "pos":
            return self.ev(node.children[0])
        if k == "not":
            return 1.0 - _truth(self.ev(node.children[0]))
        if k == "and":
            return _kleene_and([self.ev(c) for c in node.children])
        if k == "or":
            return _kleene_or([self.ev(c) for c in node.children])
        if k == "arith":
            acc = self.ev(node.children[0])
            for op, c in zip(node.value, node.children[1:]):
                b = self.ev(c)
                acc = acc + b if op == "+" else acc - b if op == "-" else acc * b if op == "*" \
                    else acc / b if op == "/" else np.remainder(acc, b)
            return acc
        if k == "cmp":
            vals = [self.ev(c) for c in node.children]
            parts = []
            for op, a, b in zip(node.value, vals, vals[1:]):
                if op in ("in", "not in"):
                    self.fail("'in' compares parameter values; it has no meaning over a price series")
                r = _NP_CMP[op](a, b).astype(np.float64)
                parts.append(np.where(np.isnan(a) | np.isnan(b), np.nan, r))
            return parts[0] if len(parts) == 1 else _kleene_and(parts)
        return self._series_call(node)

    def _resolve(self, node: Node, fn: str) -> str:
        return _Checker(self.expr, self.ctx).symbol(node, fn)

    def _field(self, field_name: str, sym: str) -> np.ndarray:
        key = ("field", field_name, sym)  # never equal to a node's key (a string)
        hit = self.memo.get(key)
        if hit is None:
            try:
                hit = np.asarray(getattr(self.ctx.env, field_name)(sym), dtype=np.float64)
            except LookupError as exc:
                self.fail(str(exc) or f"no {field_name} prices for {sym!r}")
            if hit.ndim != 1 or len(hit) != self.ctx.length:
                self.fail(f"{field_name} prices of {sym!r} have shape {hit.shape}, expected ({self.ctx.length},)")
            self.memo[key] = hit
        return hit

    def _series_arg(self, node: Node, fn: str) -> np.ndarray:
        """The first argument of sma/max/min/zscore: a series expression, or a symbol's close."""
        if _is_symbol_arg(node, self.ctx.names):
            return self._field("close", self._resolve(node, fn))
        v = self.ev(node)
        arr = np.asarray(v, dtype=np.float64)
        return np.full(self.ctx.length, float(arr)) if arr.ndim == 0 else arr

    def _charge(self, fn: str, n: int, weight: int):
        self.work += weight * (self.ctx.length - n + 1) * n
        if self.work > MAX_WINDOW_WORK:
            self.fail(f"too much work: the windows of sma/zscore add up to more than {MAX_WINDOW_WORK:,} "
                      f"bar-values (at {fn}() with {n:,} bars); use shorter or fewer windows")

    def _series_call(self, node: Node):
        name, args = node.value, node.children
        if name in ("close", "open", "high", "low"):
            return self._field(name, self._resolve(args[0], name))
        if name == "abs":
            return np.abs(self.ev(args[0]))
        if name == "ret":
            c = self._field("close", self._resolve(args[0], name))
            n = self.window(args[1], name)
            out = np.full(len(c), np.nan)
            out[n:] = c[n:] / c[:-n] - 1.0
            return out
        if name in _BREADTH:
            return self._breadth(name, args)
        x = self._series_arg(args[0], name)
        n = self.window(args[1], name, lowest=2 if name == "zscore" else 1)
        if name == "max":
            return rolling_extreme(x, n, np.maximum)
        if name == "min":
            return rolling_extreme(x, n, np.minimum)
        if name == "sma":
            self._charge(name, n, 1)
            return rolling_mean(x, n)
        self._charge(name, n, 5)
        m, s = rolling_mean(x, n), rolling_std(x, n)
        flat = s <= _FLAT * np.abs(m)  # a constant window (its std is 0 up to rounding)
        return np.where(flat, np.nan, (x - m) / s)


    def number(self, node: Node, fn: str, i: int) -> float:
        v = self.ev(node)
        arr = np.asarray(v)
        if arr.ndim != 0 or not _is_number(arr.item()) or not math.isfinite(float(arr.item())):
            self.fail(f"argument {i + 1} of {fn}() must be a finite number, got {_kind_of(v)}")
        return float(arr.item())

    def _breadth(self, name: str, args):
        if name == "rs":
            x, b = self._series_arg(args[0], name), self._series_arg(args[1], name)
            n = self.window(args[2], name)
            self._charge(name, n, 1)
            return relative_strength(x, b, n)
        if name == "golden_cross":
            x = self._series_arg(args[0], name)
            fast, slow = self.window(args[1], name), self.window(args[2], name)
            if not fast < slow:
                self.fail(f"golden_cross(S, FAST, SLOW) needs FAST < SLOW, got {fast} and {slow}")
            self._charge(name, fast, 1)
            self._charge(name, slow, 1)
            return cross_above(x, fast, slow)
        if name == "advancers":
            return advancing_share([self._series_arg(a, name) for a in args])
        if name == "pct_above":
            n = self.window(args[0], name)
            members = [self._series_arg(a, name) for a in args[1:]]
            for _ in members:
                self._charge(name, n, 1)
            return share_above(members, n)
        low, high = self.number(args[0], name, 0), self.number(args[1], name, 1)
        if not 0.0 <= low < high <= 1.0:
            self.fail(f"thrust(LOW, HIGH, ...) needs 0 <= LOW < HIGH <= 1 (shares of the members), got {low:g} "
                      f"and {high:g}; Zweig's are 0.40 and 0.615")
        n = self.window(args[2], name)
        share = advancing_share([self._series_arg(a, name) for a in args[3:]])
        self._charge(name, min(THRUST_AVERAGE_DAYS, self.ctx.length), 1)
        return breadth_thrust(share, low, high, n)


_BREADTH = frozenset({"rs", "pct_above", "advancers", "thrust", "golden_cross"})


def _is_symbol_arg(node: Node, names: dict) -> bool:
    """Whether the first argument of sma/max/min/zscore names a symbol (whose close is meant)."""
    if node.kind in ("sym", "str"):
        return True
    return node.kind == "name" and (node.value not in names or isinstance(names[node.value], str))


def _same(a, b) -> bool:
    """Membership test for ``in``: equal values of the same kind."""
    ka = _kind_of(a)
    if ka != _kind_of(b):
        return False
    if ka == "a list":
        return tuple(a) == tuple(b)
    return bool(a == b)
