"""Proxy splicing: a longer proxy history (an index) put before a series' first date (an ETF).

``splice(target, proxy)`` returns one series: before the splice date (the target's first date)
the proxy's bars scaled by one factor, from it on the target's own bars, bit for bit.

* The factor is ``target close / proxy close`` on the first date both have a bar (normally the
  target's first date), so proxy and target agree there; open, high, low and close are all
  multiplied by it; volume before the splice is the proxy's, unscaled (an index's volume is not
  a number of the target's shares: do not read it as one).
* The proxy must start before the target, and the two must share at least one date.
* The spliced series' metadata (:attr:`BarsMeta.splice`) record the splice date, the factor and
  the date it was measured on, and each part's symbol, source, origin, adjustment, span and
  SHA-256; ``BarsMeta.source`` is ``"splice"`` and ``origin``/``notes`` say the same in words.
* Adjustment kinds: when target and proxy share one kind, the series has it. When they differ
  (a total-return ETF spliced onto a price index) the series keeps the target's kind and the mix
  is noted in the metadata (``splice.adjustment_note``, also a note): returns before the splice
  miss (or add) the dividend yield. :func:`splice_warnings` turns these into warning lines.

``parse_splice("IWM=^RUT,QQQ=^IXIC")`` reads the ``--splice`` spec (see :mod:`data_feeds.mixed`,
which loads both parts through their own sources and splices on load).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rotationlab.errors import DataError, UserError

from .base import _SYMBOL_RE, CLOSE_ONLY_SHARE, Bars, BarsMeta, close_only_share

PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class SplicePart:
    """One part of a spliced series, as it was loaded (before splicing)."""

    symbol: str
    source: str
    origin: str
    adjustment: str
    first_date: str
    last_date: str
    rows: int
    sha256: str

    @classmethod
    def of(cls, meta: BarsMeta) -> "SplicePart":
        return cls(symbol=meta.symbol, source=meta.source, origin=meta.origin, adjustment=meta.adjustment,
                   first_date=meta.first_date, last_date=meta.last_date, rows=meta.rows, sha256=meta.sha256)


@dataclass(frozen=True)
class Splice:
    """How a spliced series was made: ``proxy`` bars before ``date`` times ``factor``, then
    ``target`` bars. ``factor_date``: the first date both had a bar (where they agree)."""

    date: str
    factor: float
    factor_date: str
    proxy_rows: int
    target: SplicePart
    proxy: SplicePart
    adjustment_note: str | None = None


def _kind_words(kind: str, symbol: str) -> str:
    if kind == "total_return":
        return "total return (dividends included)"
    if kind == "price":
        return "a price index (no dividends)" if symbol.startswith("^") else "price only (no dividends)"
    return "of unknown adjustment"


def adjustment_note(target: BarsMeta, proxy: BarsMeta, date: str) -> str | None:
    """One line when the two parts' adjustment kinds differ, else None."""
    if target.adjustment == proxy.adjustment:
        return None
    line = (f"{target.symbol} spliced onto {proxy.symbol}: {target.symbol} is "
            f"{_kind_words(target.adjustment, target.symbol)} from {date}, {proxy.symbol} before it is "
            f"{_kind_words(proxy.adjustment, proxy.symbol)}")
    kinds = {target.adjustment, proxy.adjustment}
    if kinds == {"total_return", "price"}:
        miss = "miss" if target.adjustment == "total_return" else "include"
        line += f": returns before {date} {miss} the dividend yield, about 1.5-2 %/yr for US stocks"
    else:
        line += f": declare the unknown kind (--adjustment {proxy.symbol if proxy.adjustment == 'unknown' else target.symbol}=KIND)"
    return line


def splice(target: Bars, proxy: Bars) -> Bars:
    """``proxy`` (scaled) before ``target``'s first date, ``target`` from it on (see the module
    docstring). DataError when the proxy does not start earlier or the two share no date."""
    t, p = target.meta, proxy.meta
    if t.symbol == p.symbol:
        raise UserError(f"cannot splice {t.symbol} onto itself; name another symbol as its proxy")
    tf, pf = target.frame, proxy.frame
    start = tf.index[0]
    if not pf.index[0] < start:
        raise DataError(f"{p.symbol} starts {p.first_date}, not before {t.symbol} ({t.first_date}): nothing to "
                        f"splice; drop {t.symbol}={p.symbol} from --splice or choose a longer proxy")
    common = tf.index.intersection(pf.index)
    if len(common) == 0:
        raise DataError(f"{t.symbol} ({t.first_date} to {t.last_date}) and its proxy {p.symbol} ({p.first_date} to "
                        f"{p.last_date}) share no date to scale the proxy on; choose a proxy that overlaps it")
    at = common[0]
    factor = float(tf.at[at, "close"]) / float(pf.at[at, "close"])
    early = pf.loc[pf.index < start].copy()
    early.loc[:, list(PRICES)] = early.loc[:, list(PRICES)] * factor
    frame = pd.concat([early, tf.loc[:, early.columns]])
    date = start.strftime("%Y-%m-%d")
    note_mix = adjustment_note(t, p, date)
    info = Splice(date=date, factor=factor, factor_date=at.strftime("%Y-%m-%d"), proxy_rows=len(early),
                  target=SplicePart.of(t), proxy=SplicePart.of(p), adjustment_note=note_mix)
    words = (f"spliced: before {date} {p.symbol} ({p.source}: {p.origin}) x {factor:.10g}, scaled to agree with "
             f"{t.symbol}'s close on {info.factor_date}; from {date} {t.symbol} ({t.source}: {t.origin})")
    notes = [words, *(f"{t.symbol}: {n}" for n in t.notes), *(f"{p.symbol}: {n}" for n in p.notes),
             f"volume before {date} is {p.symbol}'s, not scaled"]
    if note_mix:
        notes.append(note_mix)
    origin = f"{t.symbol} from {date}: {t.origin}; {p.symbol} before: {p.origin}"
    share = close_only_share(frame)
    return Bars.build(frame, source="splice", symbol=t.symbol, adjustment=t.adjustment,
                      close_only=share >= CLOSE_ONLY_SHARE, origin=origin, notes=tuple(notes), splice=info)


def splice_warnings(bars: dict[str, Bars]) -> list[str]:
    """The adjustment-mix lines of the spliced series among ``bars`` (one per series)."""
    return [b.meta.splice.adjustment_note for b in bars.values()
            if b.meta.splice is not None and b.meta.splice.adjustment_note]


def parse_splice(spec, where: str = "--splice") -> dict[str, str]:
    """``"IWM=^RUT,QQQ=^IXIC"`` (or a list of such strings, or a ``{target: proxy}`` table) ->
    ``{"IWM": "^RUT", "QQQ": "^IXIC"}``; UserError naming a malformed entry. Refused: a symbol
    spliced onto itself, one target with two proxies, chains (a proxy that is itself spliced)."""
    if not spec:
        return {}
    pairs: list[tuple[str, str]] = []
    if isinstance(spec, dict):
        pairs = [(str(k), v) for k, v in spec.items()]
    else:
        items = [spec] if isinstance(spec, str) else list(spec)
        for item in items:
            for part in str(item).split(","):
                if not part.strip():
                    continue
                target, sep, proxy = part.partition("=")
                if not sep or not target.strip() or not proxy.strip():
                    raise UserError(f"{where} {part.strip()!r}: use TARGET=PROXY, e.g. {where} IWM=^RUT "
                                    "(the proxy's history is put before the target's first date)")
                pairs.append((target.strip(), proxy.strip()))
    out: dict[str, str] = {}
    for target, proxy in pairs:
        for sym in (target, proxy):
            if not isinstance(sym, str) or not _SYMBOL_RE.fullmatch(sym) or ".." in sym:
                raise UserError(f"{where} {target}={proxy}: {sym!r} is not a ticker; e.g. {where} IWM=^RUT")
        if target == proxy:
            raise UserError(f"{where} {target}={proxy}: a symbol cannot be its own proxy; name a longer series, "
                            "e.g. IWM=^RUT")
        if out.get(target, proxy) != proxy:
            raise UserError(f"{where}: {target} is spliced onto both {out[target]} and {proxy}; keep one")
        out[target] = proxy
    for target, proxy in out.items():
        if proxy in out:
            raise UserError(f"{where}: {target}={proxy} and {proxy}={out[proxy]} make a chain; splice {target} "
                            f"onto the longest series directly ({target}={out[proxy]})")
    return out
