"""Plotly figures as plain data: what report.html hands to plotly.js, built without plotly's
Python objects.

plotly.js draws a figure from ``{"data": [...], "layout": {...}}``; plotly's Python package builds
the same thing through validating objects, which cost most of the time of an HTML report (a third
of a second for a run's six charts). :class:`Figure` keeps the few calls the report's charts make
(traces per subplot, layout and axis updates, shapes, annotations, subplots with titles) and
writes the JSON itself (numbers as JSON numbers, NaN as null, dates as text).
"""

from __future__ import annotations

import datetime
import json
import math

import numpy as np
import pandas as pd


def _merge(into: dict, new: dict) -> dict:
    """``new`` merged into ``into`` (nested dicts merged, anything else replaced; None, as in
    plotly, sets nothing)."""
    for k, v in new.items():
        if v is None:
            continue
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v
    return into


class Figure:
    """A plotly figure specification; ``rows`` x ``cols`` subplots as plotly's ``make_subplots``
    lays them out (spacing, relative heights and widths, a title over each, shared x axes)."""

    def __init__(self, rows: int = 1, cols: int = 1, *, shared_xaxes: bool = False, row_heights=None,
                 column_widths=None, vertical_spacing: float | None = None, horizontal_spacing: float | None = None,
                 subplot_titles=None):
        self.data: list[dict] = []
        self.layout: dict = {}
        self.rows, self.cols = rows, cols
        if rows == 1 and cols == 1 and not subplot_titles:
            return
        vs = 0.3 / rows if vertical_spacing is None else vertical_spacing
        hs = 0.2 / cols if horizontal_spacing is None else horizontal_spacing
        hts = _shares(row_heights, rows, 1.0 - vs * (rows - 1))
        wds = _shares(column_widths, cols, 1.0 - hs * (cols - 1))
        top = 1.0
        titles = list(subplot_titles or [])
        for r in range(rows):
            bottom = top - hts[r]
            left = 0.0
            for c in range(cols):
                k = r * cols + c + 1
                right = left + wds[c]
                x = {"domain": [left, right], "anchor": f"y{_n(k)}"}
                y = {"domain": [max(bottom, 0.0), top], "anchor": f"x{_n(k)}"}
                if shared_xaxes and rows > 1:
                    last = (rows - 1) * cols + c + 1
                    if k != last:
                        x.update({"matches": f"x{_n(last)}", "showticklabels": False})
                self.layout[f"xaxis{_n(k)}"] = x
                self.layout[f"yaxis{_n(k)}"] = y
                if k - 1 < len(titles) and titles[k - 1]:
                    self.add_annotation(text=titles[k - 1], x=(left + right) / 2, y=top, xref="paper",
                                        yref="paper", xanchor="center", yanchor="bottom", showarrow=False,
                                        font={"size": 16})
                left = right + hs
            top = bottom - vs

    # -- building -----------------------------------------------------------------------------------
    def add_trace(self, trace: dict, row: int | None = None, col: int | None = None) -> Figure:
        k = self._k(row, col)
        if k > 1:
            trace = {**trace, "xaxis": f"x{k}", "yaxis": f"y{k}"}
        self.data.append(trace)
        return self

    def update_layout(self, **kw) -> Figure:
        _merge(self.layout, kw)
        return self

    def _axes(self, kind: str, row, col) -> list[str]:
        if row is None and col is None:  # every axis of that kind (the first one is plain "xaxis")
            return [kind] + [k for k in self.layout if k.startswith(kind) and k[len(kind):].isdigit()]
        return [f"{kind}{_n(self._k(row, col))}"]

    def update_xaxes(self, row: int | None = None, col: int | None = None, **kw) -> Figure:
        for name in self._axes("xaxis", row, col):
            _merge(self.layout.setdefault(name, {}), kw)
        return self

    def update_yaxes(self, row: int | None = None, col: int | None = None, **kw) -> Figure:
        for name in self._axes("yaxis", row, col):
            _merge(self.layout.setdefault(name, {}), kw)
        return self

    def add_annotation(self, **kw) -> Figure:
        self.layout.setdefault("annotations", []).append(kw)
        return self

    def update_annotations(self, **kw) -> Figure:
        for a in self.layout.get("annotations", []):
            _merge(a, kw)
        return self

    def add_shapes(self, shapes: list[dict]) -> Figure:
        self.layout.setdefault("shapes", []).extend(shapes)
        return self

    @property
    def height(self) -> int:
        return int(self.layout.get("height") or 450)

    def _k(self, row, col) -> int:
        return 1 if row is None else (row - 1) * self.cols + (col or 1)

    # -- writing ------------------------------------------------------------------------------------
    def to_json(self) -> str:
        """The figure as JSON for ``Plotly.newPlot`` (deterministic: keys in insertion order)."""
        return json.dumps({"data": _ready(self.data), "layout": _ready(self.layout)}, allow_nan=False,
                          separators=(",", ":"), ensure_ascii=False)


def _n(k: int) -> str:
    return "" if k == 1 else str(k)


def _shares(weights, n: int, total: float) -> list[float]:
    w = [1.0] * n if weights is None else [float(x) for x in weights]
    s = sum(w)
    return [total * x / s for x in w]


def _ready(obj):
    """``obj`` with only what JSON knows: arrays as lists, dates as ISO text (YYYY-MM-DD), numpy
    scalars as Python numbers, NaN and infinities as null (plotly.js leaves a gap)."""
    if isinstance(obj, dict):
        return {k: _ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "M":
            return np.datetime_as_string(obj, unit="D").tolist()
        if obj.dtype.kind == "f" and not np.isfinite(obj).all():
            return _ready(obj.tolist())
        return obj.tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.datetime64):
        return _ready(pd.Timestamp(obj))
    if isinstance(obj, np.generic):
        return _ready(obj.item())
    if isinstance(obj, datetime.date):  # a date, a datetime, a pandas Timestamp: ISO text
        if isinstance(obj, datetime.datetime) and obj.time() != datetime.time(0):
            return obj.isoformat()
        return f"{obj:%Y-%m-%d}"
    return obj
