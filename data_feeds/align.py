"""Put several symbols on one trading calendar, by an explicit policy recorded in the output.

Policies:

* ``union`` (default): the calendar is every date on which any symbol traded. A symbol's gaps
  inside its own history are forward-filled for at most ``max_ffill_days`` consecutive dates
  (filled bars repeat the last close with zero volume); a longer gap is an error. A symbol that
  starts later (an ETF listed later) simply has no bars before its first date: nothing is
  back-filled.
* ``intersection``: only dates on which every symbol traded; nothing is filled.

Neither policy ever invents a price before a symbol's first bar or after its last.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from rotationlab.errors import DataError, UserError

from .base import Bars


@dataclass(frozen=True)
class AlignPolicy:
    kind: str = "union"
    max_ffill_days: int = 5

    def __post_init__(self):
        if self.kind not in ("union", "intersection"):
            raise UserError(f"alignment policy {self.kind!r} is unknown; use 'union' or 'intersection'")
        if self.max_ffill_days < 0:
            raise UserError("max_ffill_days must be >= 0")

    def describe(self) -> str:
        if self.kind == "intersection":
            return "intersection: only dates on which every symbol has a bar; nothing filled"
        return (f"union: every date any symbol traded; gaps inside a symbol's history forward-filled "
                f"for at most {self.max_ffill_days} dates (close repeated, volume 0); no back-fill")


@dataclass(frozen=True)
class Panel:
    """Aligned bars: ``frames[symbol]`` share ``calendar`` from each symbol's first date on."""

    calendar: pd.DatetimeIndex
    frames: dict[str, pd.DataFrame]
    bars: dict[str, Bars]
    policy: AlignPolicy
    filled: dict[str, int] = field(default_factory=dict)

    def closes(self) -> pd.DataFrame:
        """Closes on the calendar, one column per symbol (NaN before a symbol's first date)."""
        return pd.DataFrame({s: f["close"] for s, f in self.frames.items()}).reindex(self.calendar)

    def provenance(self) -> dict:
        return {
            "alignment": {"policy": self.policy.kind, "max_ffill_days": self.policy.max_ffill_days,
                          "description": self.policy.describe(), "filled_dates": dict(self.filled),
                          "calendar_first": self.calendar[0].strftime("%Y-%m-%d"),
                          "calendar_last": self.calendar[-1].strftime("%Y-%m-%d"),
                          "calendar_rows": len(self.calendar)},
            "symbols": {s: b.meta.to_dict() for s, b in self.bars.items()},
        }


def align(bars: dict[str, Bars], policy: AlignPolicy | None = None) -> Panel:
    policy = policy or AlignPolicy()
    if not bars:
        raise UserError("nothing to align: no symbols loaded")
    indexes = [b.frame.index for b in bars.values()]
    calendar = indexes[0]
    for idx in indexes[1:]:
        calendar = calendar.intersection(idx) if policy.kind == "intersection" else calendar.union(idx)
    if len(calendar) == 0:
        spans = ", ".join(f"{s} {b.meta.first_date}..{b.meta.last_date}" for s, b in bars.items())
        raise DataError(f"the symbols share no dates ({spans}); choose symbols whose histories overlap")
    frames, filled = {}, {}
    for sym, b in bars.items():
        f = b.frame
        own = calendar[(calendar >= f.index[0]) & (calendar <= f.index[-1])]
        g = f.reindex(own)
        missing = g["close"].isna()
        if missing.any():
            run = missing.groupby((~missing).cumsum()).transform("sum")
            if int(run.max()) > policy.max_ffill_days:
                at = g.index[missing & (run == run.max())][0]
                raise DataError(
                    f"{sym}: {int(run.max())} consecutive dates missing from {at:%Y-%m-%d} that other "
                    f"symbols traded; more than max_ffill_days={policy.max_ffill_days}: raise it, use "
                    "the intersection policy, or start after the gap"
                )
            close = g["close"].ffill()
            g = g.assign(close=close, open=g["open"].fillna(close), high=g["high"].fillna(close),
                         low=g["low"].fillna(close), volume=g["volume"].fillna(0.0))
        frames[sym], filled[sym] = g, int(missing.sum())
    return Panel(calendar=calendar, frames=frames, bars=dict(bars), policy=policy, filled=filled)
