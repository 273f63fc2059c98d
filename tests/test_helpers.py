"""Helper processes (rotationlab.procs.Helper) and the run report's three-process layout.

A helper streams its work's items back in order; a failed helper's work is done by the caller,
nothing repeated; a prepared helper's twin shares what was prepared; closing stops everything
(no process left running, no zombie left behind). The report written by the helpers is the report
written without them, byte for byte, and every chart is drawn once.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest

from rotationlab.procs import Helper

psutil = pytest.importorskip("psutil")


def squares(n, tag=""):
    for i in range(n):
        yield tag, os.getpid(), i * i


def fail_after(n):
    for i in range(n):
        yield i
    if os.environ.get("_HELPER_TEST_PARENT") != str(os.getpid()):  # only the helper fails
        os._exit(3)


def slow_prepare():
    time.sleep(0.2)


def children():
    return [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]


def test_a_helper_streams_its_work_and_its_twin_shares_what_was_prepared():
    h = Helper(prepare=slow_prepare, twin=True)
    h.submit(squares, 3, "a")
    h.twin.submit(squares, 2, "b")
    a, b = list(h.items()), list(h.twin.items())
    assert [x[2] for x in a] == [0, 1, 4] and [x[2] for x in b] == [0, 1]
    assert len({x[1] for x in a + b} | {os.getpid()}) == 3  # two other processes
    h.close()
    assert Helper(lambda: {"x": 1}).get() == {"x": 1}


def test_a_failed_helper_s_work_is_finished_here_without_repeats(monkeypatch):
    monkeypatch.setenv("_HELPER_TEST_PARENT", str(os.getpid()))
    h = Helper(prepare=None)
    h.submit(fail_after, 4)
    assert list(h.items()) == [0, 1, 2, 3]
    h.close()


def test_without_fork_the_caller_does_the_work(monkeypatch):
    monkeypatch.setenv("ROTATIONLAB_NO_FORK", "1")
    h = Helper(prepare=slow_prepare, twin=True)
    assert h.pid is None
    h.submit(squares, 2, "a")
    h.twin.submit(squares, 2, "b")
    assert {x[1] for x in [*h.items(), *h.twin.items()]} == {os.getpid()}
    h.close()


@pytest.mark.parametrize("state", ["waiting", "working"])
def test_closing_leaves_no_process_behind(state):
    before = {p.pid for p in children()}
    h = Helper(prepare=None, twin=True)
    if state == "working":
        h.submit(time.sleep, 30)
        h.twin.submit(time.sleep, 30)
    time.sleep(0.3)
    assert len({p.pid for p in children()} - before) == 2  # the helper and its twin
    h.close()
    t0 = time.monotonic()
    while {p.pid for p in children()} - before and time.monotonic() - t0 < 5:
        time.sleep(0.05)
    assert not {p.pid for p in children()} - before


def test_the_report_is_the_same_with_and_without_helper_processes(tmp_path, monkeypatch):
    """Three processes (charts and pages drawn by helpers, each chart claimed once) or one: the
    same files, byte for byte."""
    import rotationlab as rl
    from reports import run_report
    run = rl.run(start="2012-01-01", end="2016-12-31")
    drawn = []
    real = run_report._claim

    def claim(token):
        k = real(token)
        drawn.append((os.getpid(), k))
        return k
    monkeypatch.setattr(run_report, "_claim", claim)
    run.report(tmp_path / "forked")
    monkeypatch.setenv("ROTATIONLAB_NO_FORK", "1")
    run.report(tmp_path / "here")
    names = sorted(p.name for p in (tmp_path / "here").iterdir() if p.name != "manifest.json")
    assert names == sorted(p.name for p in (tmp_path / "forked").iterdir() if p.name != "manifest.json")
    assert {"report.pdf", "report.html", "equity.png", "monthly.png"} <= set(names)
    for name in names:
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "forked" / name).read_bytes(), name
    here = [k for pid, k in drawn if pid == os.getpid() and k < len(run_report.CHARTS)]
    assert sorted(here) == list(range(len(run_report.CHARTS)))  # without helpers: each chart once, here


def test_png_pages_keep_their_pixels_whatever_the_png():
    """Charts go into the PDF as their PNG's own compressed rows; a PNG of another kind (alpha,
    palette) is converted first; either way the page shows the same pixels."""
    from PIL import Image
    from pypdf import PdfReader

    from reports.binding import bind
    rgb = (np.arange(60 * 80 * 3) % 251).astype(np.uint8).reshape(60, 80, 3)
    pngs = []
    for mode in ("RGB", "RGBA", "P"):
        img = Image.fromarray(rgb).convert(mode)
        buf = io.BytesIO()
        img.save(buf, format="png")
        pngs.append((buf.getvalue(), np.asarray(img.convert("RGB"))))
    reader = PdfReader(io.BytesIO(bind([("png", p) for p, _ in pngs], title="t")))
    assert len(reader.pages) == 3 and reader.metadata.title == "t"
    for page, (_, want) in zip(reader.pages, pngs):
        (image,) = page.images
        np.testing.assert_array_equal(np.asarray(image.image.convert("RGB")), want)
