"""``mixed`` source: each symbol from its own source in one run, and proxies spliced on load.

Per-symbol sources (``--sources``, or ``sources`` in the ``[data]`` table of a config file)::

    spec   = entry , { "," , entry } ;
    entry  = SYMBOL , "=" , source ;
    source = "sample"
           | "csv" , [ ":" , DIR ]          (* DIR: a folder of SYMBOL.csv; default: --data-dir *)
           | "yahoo" , [ ":" , MODE ] ;     (* MODE: total_return | split_only; default: the run's *)

    --sources "^DJI=sample,IWM=csv:../shared/data/market,SPY=yahoo"
    [data]
    sources = { "^DJI" = "sample", IWM = "csv:../shared/data/market" }

Symbols not listed come from the run's default source (``--source``) with the run's options.
A relative DIR is relative to the current directory (as ``--data-dir``); DIR is everything after
the first colon, so it may hold colons but not commas (write such paths in a config file's
table). Listed symbols that the run does not use are ignored. Every source gets the run's
``cache_dir``, ``offline``, ``adjustments``, ``date_format`` (and ``data_dir`` unless the entry
names a folder); options only the default source takes (Yahoo's retry settings...) go to it alone.

Splicing (``--splice IWM=^RUT,QQQ=^IXIC``, or ``splice = { IWM = "^RUT" }`` in ``[data]``): the
target is loaded through its source, the proxy through its own (its ``--sources`` entry, else the
default), each over its whole history to ``end``; :func:`data_feeds.splice.splice` joins them and
the result is then cut to the requested dates. Each bar's metadata name its source
(``BarsMeta.source``: ``sample``, ``csv``, ``yahoo`` or ``splice``; ``BarsMeta.splice`` for a
spliced series), so a run's provenance lists every source used.

``get_source("csv", data_dir=..., sources={...}, splice={...})`` returns a :class:`MixedSource`
whose default source is csv; ``get_source("mixed", default="csv", ...)`` is the same.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from rotationlab.errors import UserError

from .base import _SYMBOL_RE, SOURCES, Bars, Source, did_you_mean
from .splice import parse_splice, splice

#: What the text after ``SOURCE:`` means, per source; sources not listed take none.
ARGUMENTS = {"csv": "a folder of SYMBOL.csv files", "yahoo": "the download mode: total_return or split_only"}
YAHOO_MODES = ("total_return", "split_only")


def _choices() -> str:
    return ", ".join(sorted(SOURCES))


def _check_entry(symbol: str, text, where: str) -> str:
    """The canonical ``SOURCE[:ARG]`` of one entry, or UserError naming it."""
    show = f"{where} {symbol}={text}"
    if not isinstance(symbol, str) or not _SYMBOL_RE.fullmatch(symbol) or ".." in symbol:
        raise UserError(f"{show}: {symbol!r} is not a ticker; e.g. {where} IWM=csv:../shared/data/market")
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{show}: give a source ({_choices()}), e.g. {symbol}=sample or {symbol}=csv:DIR")
    name, sep, arg = text.strip().partition(":")
    name, arg = name.strip(), arg.strip()
    if name not in SOURCES:
        raise UserError(f"{show}: unknown data source {name!r}{did_you_mean(name, SOURCES)}; "
                        f"choose one of: {_choices()}")
    if sep and not arg:
        raise UserError(f"{show}: nothing after '{name}:'; write {symbol}={name} or {symbol}={name}:"
                        f"{'DIR' if name == 'csv' else 'MODE'}")
    if arg and name not in ARGUMENTS:
        raise UserError(f"{show}: the {name} source takes no argument; write {symbol}={name}")
    if name == "yahoo" and arg and arg not in YAHOO_MODES:
        raise UserError(f"{show}: unknown Yahoo mode {arg!r}{did_you_mean(arg, YAHOO_MODES)}; use "
                        f"{' or '.join(YAHOO_MODES)}")
    if name == "csv" and arg and not Path(arg).is_dir():
        raise UserError(f"{show}: {arg} is not a folder; point it at a folder of SYMBOL.csv files "
                        "(relative paths start at the current directory)")
    return f"{name}:{arg}" if arg else name


def parse_sources(spec, where: str = "--sources") -> dict[str, str]:
    """``"^DJI=sample,IWM=csv:DIR"`` (or a list of such strings, or a ``{symbol: source}`` table)
    -> ``{"^DJI": "sample", "IWM": "csv:DIR"}``; UserError naming a malformed entry (see the
    module docstring for the grammar)."""
    if not spec:
        return {}
    pairs: list[tuple[str, object]] = []
    if isinstance(spec, dict):
        pairs = list(spec.items())
    else:
        items = [spec] if isinstance(spec, str) else list(spec)
        for item in items:
            for part in str(item).split(","):
                if not part.strip():
                    continue
                symbol, sep, text = part.partition("=")
                if not sep or not symbol.strip():
                    raise UserError(f"{where} {part.strip()!r}: use SYMBOL=SOURCE, e.g. {where} "
                                    f"^DJI=sample,IWM=csv:../shared/data/market (sources: {_choices()})")
                pairs.append((symbol.strip(), text))
    out: dict[str, str] = {}
    for symbol, text in pairs:
        entry = _check_entry(symbol, text, where)
        if out.get(symbol, entry) != entry:
            raise UserError(f"{where}: {symbol} is given two sources ({out[symbol]}, {entry}); keep one")
        out[symbol] = entry
    return out


#: Options every source takes (the keyword arguments of :class:`Source`).
COMMON = tuple(p for p in inspect.signature(Source.__init__).parameters if p != "self")


class MixedSource(Source):
    """Each symbol from its own source, proxies spliced (see the module docstring).

    ``default``: the source of symbols without an entry; ``sources``: the per-symbol entries
    (:func:`parse_sources`); ``splice``: ``{target: proxy}`` (:func:`parse_splice`); the other
    options are the run's (``data_dir``, ``cache_dir``...), handed to every source. Not in
    :data:`SOURCES` (it is no place data come from): :func:`get_source` builds it."""

    name = "mixed"
    description = "each symbol from its own source (--sources SYM=SOURCE[:ARG]), proxies spliced (--splice T=P)"

    def __init__(self, *, default: str = "sample", sources=None, splice=None, **options):
        common = {k: v for k, v in options.items() if k in COMMON}
        super().__init__(**common)
        if default not in SOURCES:
            raise UserError(f"unknown default data source {default!r}{did_you_mean(default, SOURCES)}; "
                            f"choose one of: {_choices()}")
        self.default = default
        self.entries = parse_sources(sources)
        self.splices = parse_splice(splice)
        self._common = common
        self._options = dict(options)
        self._subs: dict[str, Source] = {}

    def entry(self, symbol: str) -> str:
        """The ``SOURCE[:ARG]`` that ``symbol`` is loaded from."""
        return self.entries.get(symbol, self.default)

    def source_for(self, symbol: str) -> Source:
        """The (cached) source instance of ``symbol``."""
        key = self.entry(symbol)
        sub = self._subs.get(key)
        if sub is None:
            name, _, arg = key.partition(":")
            if key == self.default:
                opts = dict(self._options)
            else:
                opts = dict(self._common)
                if name == "csv" and arg:
                    opts["data_dir"] = arg
                if name == "yahoo" and arg:
                    opts["adjustment"] = arg
            sub = self._subs[key] = SOURCES[name](**opts)
        return sub

    def plan(self, symbols) -> dict[str, dict]:
        """Where each of ``symbols`` comes from: ``{"source": entry}`` plus ``proxy`` and
        ``proxy_source`` for a spliced symbol (JSON-ready, for a run's provenance)."""
        out = {}
        for s in dict.fromkeys(symbols):
            row = {"source": self.entry(s)}
            if s in self.splices:
                row.update(proxy=self.splices[s], proxy_source=self.entry(self.splices[s]))
            out[s] = row
        return out

    def load_symbol(self, symbol: str, start=None, end=None) -> Bars:
        proxy = self.splices.get(symbol)
        if proxy is None:
            return self.source_for(symbol).load_symbol(symbol, start, end)
        target = self.source_for(symbol).load(symbol, None, end)
        longer = self.source_for(proxy).load(proxy, None, end)
        return splice(target, longer)
