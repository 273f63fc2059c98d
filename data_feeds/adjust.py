"""Declared adjustment kinds: ``total_return``, ``price`` or ``unknown`` per series.

Where a series' kind comes from, first match wins:

1. the ``adjustments`` option of a source (``--adjustment SYM=KIND``, also ``SYM=KIND,SYM2=KIND``);
2. the ``[symbols]`` table of ``adjustments.toml`` in a csv data folder;
3. what the data say: Yahoo ``auto_adjust=True`` is total_return, its split_only mode price; an
   ``Adj Close`` column (OHLC scaled to it) is total_return; a symbol starting with ``^`` is an
   index level, price;
4. the ``default`` of ``adjustments.toml``;
5. otherwise ``unknown``.

The kind and where it came from are recorded in the bars' metadata (``adjustment``, a note).
:func:`adjustment_mix` turns the kinds of a run's legs and benchmark into one warning line.

``adjustments.toml`` (every key optional)::

    # adjustment of the series in this folder: total_return | price | unknown
    default = "unknown"
    [symbols]
    SPY = "total_return"
    KRE = "price"
    "^GSPC" = "price"      # quote symbols with ^ or . (TOML bare keys are A-Z a-z 0-9 _ -)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rotationlab.errors import DataError, UserError

from .base import _SYMBOL_RE, ADJUSTMENTS, did_you_mean

SIDECAR = "adjustments.toml"
_KINDS = ", ".join(ADJUSTMENTS)
#: Former names and common spellings, pointed at the kind that replaced them in messages.
_RENAMED = {"price_index": "price", "split_only": "price", "total return": "total_return",
            "tr": "total_return", "adjusted": "total_return"}


def _hint(kind) -> str:
    if isinstance(kind, str) and kind.strip().lower() in _RENAMED:
        return f" (did you mean {_RENAMED[kind.strip().lower()]!r}?)"
    return did_you_mean(kind, ADJUSTMENTS)


def check_adjustments(mapping, where: str = "--adjustment") -> dict[str, str]:
    """``{SYMBOL: kind}`` with upper-case symbols, or UserError naming the bad entry."""
    if not mapping:
        return {}
    if not isinstance(mapping, dict):
        raise UserError(f"{where}: give symbol=kind pairs, e.g. SPY=total_return (kinds: {_KINDS})")
    out: dict[str, str] = {}
    for symbol, kind in mapping.items():
        if not isinstance(symbol, str) or not _SYMBOL_RE.fullmatch(symbol) or ".." in symbol:
            raise UserError(f"{where} {symbol}={kind}: {symbol!r} is not a ticker; e.g. SPY=total_return")
        if not isinstance(kind, str) or kind not in ADJUSTMENTS:
            raise UserError(f"{where} {symbol}={kind}: unknown adjustment kind {kind!r}{_hint(kind)}; "
                            f"use one of: {_KINDS}")
        key = symbol.upper()
        if out.get(key, kind) != kind:
            raise UserError(f"{where}: {key} is declared both {out[key]} and {kind}; keep one")
        out[key] = kind
    return out


def parse_adjustments(items) -> dict[str, str]:
    """``["SPY=total_return", "KRE=price,^GSPC=price"]`` (repeated ``--adjustment`` flags) ->
    ``{"SPY": "total_return", ...}``; UserError naming a malformed item."""
    pairs: dict[str, str] = {}
    for item in items or ():
        for part in str(item).split(","):
            if not part.strip():
                continue
            symbol, sep, kind = part.partition("=")
            if not sep or not symbol.strip() or not kind.strip():
                raise UserError(f"--adjustment {part.strip()!r}: use SYM=KIND, e.g. --adjustment "
                                f"SPY=total_return (kinds: {_KINDS})")
            symbol, kind = symbol.strip(), kind.strip()
            check_adjustments({symbol: kind})
            if pairs.get(symbol.upper(), kind) != kind:
                raise UserError(f"--adjustment: {symbol.upper()} is declared both {pairs[symbol.upper()]} "
                                f"and {kind}; keep one")
            pairs[symbol.upper()] = kind
    return pairs


@dataclass(frozen=True)
class Sidecar:
    """The parsed ``adjustments.toml`` of a folder (empty if the folder has none)."""

    path: Path | None = None
    default: str | None = None
    symbols: dict[str, str] = field(default_factory=dict)


def read_sidecar(folder: Path) -> Sidecar:
    """``folder/adjustments.toml``; DataError naming the file, the key and the allowed values."""
    path = Path(folder) / SIDECAR
    if not path.is_file():
        return Sidecar()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it ({exc}); fix or delete it") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc}); e.g. SPY = \"total_return\" under "
                        "[symbols], symbols with ^ quoted: \"^GSPC\" = \"price\"") from None
    for key in data:
        if key not in ("default", "symbols"):
            raise DataError(f"{path}: unknown key {key!r}{did_you_mean(key, ['default', 'symbols'])}; "
                            "allowed: default = KIND and a [symbols] table of SYMBOL = KIND, "
                            f"kinds: {_KINDS}")
    default = data.get("default")
    if default is not None and (not isinstance(default, str) or default not in ADJUSTMENTS):
        raise DataError(f"{path}: default = {default!r} is not an adjustment kind{_hint(default)}; "
                        f"use one of: {_KINDS}")
    table = data.get("symbols", {})
    if not isinstance(table, dict):
        raise DataError(f"{path}: symbols must be a table ([symbols] then SYMBOL = KIND lines), "
                        f"not {table!r}")
    symbols: dict[str, str] = {}
    for symbol, kind in table.items():
        if not _SYMBOL_RE.fullmatch(symbol) or ".." in symbol:
            raise DataError(f"{path}: symbols key {symbol!r} is not a ticker; use the file name "
                            "without .csv, e.g. SPY or \"^GSPC\"")
        if not isinstance(kind, str) or kind not in ADJUSTMENTS:
            raise DataError(f"{path}: symbols.{symbol} = {kind!r} is not an adjustment kind"
                            f"{_hint(kind)}; use one of: {_KINDS}")
        if symbols.get(symbol.upper(), kind) != kind:
            raise DataError(f"{path}: {symbol.upper()} is declared twice with different kinds "
                            f"({symbols[symbol.upper()]}, {kind}); keep one")
        symbols[symbol.upper()] = kind
    return Sidecar(path, default, symbols)


def declare_hint(symbol: str, folder: Path | str | None = None) -> str:
    where = f"{Path(folder) / SIDECAR}" if folder is not None else f"the data folder's {SIDECAR}"
    return f"declare it in {where} or with --adjustment {symbol}=KIND"


def resolve(symbol: str, inferred: str, why: str, declared: dict[str, str],
            sidecar: Sidecar = Sidecar(), folder: Path | str | None = None) -> tuple[str, str]:
    """``(kind, note)`` of ``symbol``: the declared kind, else the sidecar's, else ``inferred``
    (``why`` says from what), else the sidecar default, else unknown (the note says how to declare)."""
    key = symbol.upper()
    if key in declared:
        return declared[key], f"adjustment {declared[key]} declared with --adjustment"
    if key in sidecar.symbols:
        return sidecar.symbols[key], f"adjustment {sidecar.symbols[key]} declared by {sidecar.path}"
    if inferred != "unknown":
        return inferred, f"adjustment {inferred}: {why}"
    if sidecar.default is not None:
        return sidecar.default, f"adjustment {sidecar.default}: the default of {sidecar.path}"
    return "unknown", f"adjustment unknown: {declare_hint(symbol, folder)}"


# --- one warning line for a run whose series do not match -------------------------------------------

def _is(symbols: list[str], kind: str) -> str:
    """``"is total return (dividends included)"`` / ``"are price indices (no dividends)"``."""
    one = len(symbols) == 1
    verb = "is" if one else "are"
    if kind == "total_return":
        return f"{verb} total return (dividends included)"
    if all(s.startswith("^") for s in symbols):
        return f"{verb} {'a price index' if one else 'price indices'} (no dividends)"
    return f"{verb} price only (no dividends)"


_WORDS = {"total_return": "total return", "price": "price", "unknown": "unknown"}
_YIELD = "the dividend yield, about 1.5-2 %/yr for US stocks; declare or choose matching series"


def adjustment_mix(traded: dict[str, str], benchmark: tuple[str, str] | None = None, *,
                   data_dir: Path | str | None = None) -> str | None:
    """One warning line when a run's series do not share one adjustment kind, else None.

    ``traded`` maps each traded symbol to its kind (``Bars.meta.adjustment``); ``benchmark`` is
    ``(symbol, kind)`` or None. Warns when the traded legs mix total_return and price, when they
    differ from the benchmark, and when a kind is unknown beside a known one (``data_dir`` names
    the folder whose adjustments.toml to edit). All unknown is not known to be inconsistent: None.
    """
    series = dict(traded)
    if benchmark is not None:
        series.setdefault(benchmark[0], benchmark[1])
    for s, k in series.items():
        if not isinstance(k, str) or k not in ADJUSTMENTS:
            raise ValueError(f"{s}: adjustment {k!r} is not one of {sorted(ADJUSTMENTS)}")
    legs: dict[str, list[str]] = {}
    for s, k in traded.items():
        legs.setdefault(k, []).append(s)
    known = [k for k in ("total_return", "price") if k in legs]
    parts = []
    if len(known) == 2:
        tr, pr = legs["total_return"], legs["price"]
        parts.append(f"{', '.join(tr)} {_is(tr, 'total_return')} but {', '.join(pr)} {_is(pr, 'price')}: "
                     f"the legs' returns differ by {_YIELD}")
    elif known and benchmark is not None and benchmark[1] not in ("unknown", known[0]):
        syms, (b, bk) = legs[known[0]], benchmark
        parts.append(f"{', '.join(syms)} {_is(syms, known[0])} but the benchmark {b} {_is([b], bk)}: "
                     f"the comparison is biased by {_YIELD}")
    unknown = [s for s, k in series.items() if k == "unknown"]
    if unknown and len(unknown) < len(series):
        beside = ", ".join(f"{s} {_WORDS[k]}" for s, k in series.items() if k != "unknown")
        where = Path(data_dir) / SIDECAR if data_dir is not None else f"the data folder's {SIDECAR}"
        parts.append(f"{', '.join(unknown)}: adjustment unknown (beside {beside}): declare it in "
                     f"{where} or with --adjustment SYM=KIND")
    return "; ".join(parts) or None
