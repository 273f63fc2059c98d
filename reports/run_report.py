"""Write a run's full output folder: CSVs, metrics.json, PNG charts, report.pdf and report.html.

Three processes share the work: this one writes the CSVs and metrics.json and binds report.pdf;
two helpers draw (:mod:`reports.build`). One starts on the charts as soon as the engine's result
exists; the other sets the PDF's text pages and report.html once the metrics exist, then joins in
on the charts; each chart is drawn once, by whichever helper claims it first (a counter they
share). The run command forks both helpers before the backtest (:class:`RunHelpers`), so they
import the plotting stack while the engine runs; otherwise :func:`write_report` forks them. A
chart or page a helper failed to deliver is drawn here. This module imports no plotting
library: the process that only binds never loads one.

Pure layout: the metrics and statistics come with the run (``run.metrics``, computed by the
core); nothing here runs an engine or a statistic.
"""

from __future__ import annotations

import dataclasses
import itertools
import queue
import threading
import time

from rotationlab.procs import Helper

#: The charts of a run report, in page order (reports.build.FIGURES draws them; the PNG files
#: are named after them).
CHARTS = ("equity", "underwater", "allocation", "signal", "rolling", "rolling_beta", "monthly")

_CLAIMS: dict = {}  # token -> the counter of the next chart to draw, shared with forked helpers
_TOKENS = itertools.count()


#: The order the helpers claim the charts in (indices into CHARTS): the longest to draw first
#: (the monthly table of returns, the two-panel charts), so the last one claimed is short and
#: both helpers finish together.
CLAIM_ORDER = tuple(CHARTS.index(name) for name in
                    ("monthly", "signal", "rolling", "rolling_beta", "equity", "underwater", "allocation"))


def _claim(token: int) -> int:
    """The next chart (its index in CHARTS) for this helper to draw, or len(CHARTS) if none is left."""
    counter = _CLAIMS[token]
    with counter.get_lock():
        n = counter.value
        counter.value = n + 1
    return CLAIM_ORDER[n] if n < len(CLAIM_ORDER) else len(CHARTS)


def _charts(token: int, result):
    """Draw charts until none is left: ``("chart", index, PNG bytes or None)`` each."""
    from reports.build import draw_chart
    while (k := _claim(token)) < len(CHARTS):
        yield "chart", k, draw_chart(CHARTS[k], result)


def _pages_then_charts(token: int, run, pdf: bool, html: bool):
    """The text pages and report.html (``("pages", dict)``), then charts as :func:`_charts`."""
    from reports.build import text_pages
    yield "pages", text_pages(run, pdf, html)
    yield from _charts(token, run.result)


class RunHelpers:
    """The two helper processes of a run report, forked at once (before the engine runs): one
    imports matplotlib and the page modules and reads the fonts, then forks the other (its twin,
    with all of that already in memory); both wait for their work.
    :meth:`start` hands one the engine's result; :func:`write_report` hands the other the run
    with its metrics. :meth:`close` stops whatever was not collected."""

    def __init__(self):
        import multiprocessing
        self.token = next(_TOKENS)
        _CLAIMS[self.token] = multiprocessing.get_context("fork").Value("i", 0)  # shared by the forks
        # one helper imports (at a lower priority: the engine in this process keeps its core),
        # then forks its twin, which shares what it imported
        self.charts = Helper(prepare="reports.build:warm_up_pages", nice=3, twin=True)
        self.pages = self.charts.twin
        self.started = False

    def start(self, result) -> None:
        """Start drawing ``result``'s charts (the API's ``on_result`` hook: before the statistics)."""
        if not self.started:
            self.charts.submit(_charts, self.token, result)
            self.started = True

    def close(self) -> None:
        self.charts.close()  # and its twin
        _CLAIMS.pop(self.token, None)


def _collect(helpers) -> queue.Queue:
    """Every item of the helpers' work, as it arrives, in one queue (None after each helper)."""
    q: queue.Queue = queue.Queue()

    def drain(helper):
        try:
            for item in helper.items():
                q.put(item)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            q.put(("error", exc))
        q.put(None)
    for h in helpers:
        threading.Thread(target=drain, args=(h,), daemon=True, name="rotationlab-helper-drain").start()
    return q


def write_report(run, folder, pdf: bool = True, html: bool = True, timings: dict | None = None,
                 helpers: RunHelpers | None = None) -> dict:
    """Write the run into ``folder`` (an OutputFolder or a path): CSVs and metrics.json, one PNG
    per chart and, if ``pdf``, report.pdf (cover, metrics beside the benchmark and holding
    growth, "more than luck?" statistics, the charts, the tear sheet: returns by year and
    trailing, worst drawdowns, crises / time in assets / rolling beta; factor attribution;
    trades, execution assumptions); if ``html``, report.html (the same tables and interactive
    charts, self-contained). ``helpers``: already forked (the run command's); else forked here."""
    from rotationlab.outdir import as_folder
    from rotationlab.results import write_run
    folder = as_folder(folder)
    result, metrics = run.result, run.metrics
    own = helpers is None
    h = helpers if helpers is not None else RunHelpers()
    try:
        t0 = time.perf_counter()
        h.start(result)
        slim = dataclasses.replace(run, data=None)  # the pages need the result and the metrics, not the bars
        h.pages.submit(_pages_then_charts, h.token, slim, pdf, html)
        write_run(result, folder, metrics)
        t1 = time.perf_counter()
        if pdf:
            import pypdf  # noqa: F401 - imported while the helpers draw

            from reports.binding import bind
        charts: dict = {}
        parts = None

        def got_chart(k, png):  # written while the helpers go on
            charts[k] = png
            if png is not None:
                folder.write_bytes(f"{CHARTS[k]}.png", png)

        def got_pages(p):
            nonlocal parts
            parts = p
            if html:
                folder.write_text("report.html", p["html"])

        q = _collect([h.charts, h.pages])
        for _ in range(2):
            while (item := q.get()) is not None:
                if item[0] == "error":
                    raise item[1]
                if item[0] == "chart":
                    got_chart(item[1], item[2])
                else:
                    got_pages(item[1])
        t2 = time.perf_counter()
        missing = [k for k in range(len(CHARTS)) if k not in charts]
        if missing or parts is None:  # a helper failed part-way: draw the rest here
            from reports.build import draw_chart, text_pages
            for k in missing:
                got_chart(k, draw_chart(CHARTS[k], result))
            if parts is None:
                got_pages(text_pages(slim, pdf, html))
        pngs = {CHARTS[k]: charts[k] for k in sorted(charts) if charts[k] is not None}
        if pdf:
            order = [("pdf", (parts["head"][0], k)) for k in range(parts["head"][1])]
            order += [("png", png) for png in pngs.values()]
            order += [("pdf", (parts["tail"][0], k)) for k in range(parts["tail"][1])]
            folder.write_bytes("report.pdf", bind(order, title=f"Rotation Lab report: {result.strategy}"))
    finally:
        if own:
            h.close()
    t3 = time.perf_counter()
    if timings is not None:
        timings.update({"CSV and JSON files": t1 - t0,
                        "charts, PDF pages and html (two helper processes)": t2 - t1,
                        "binding and writing files": t3 - t2})
    return {"metrics": metrics, "out": folder.path}
