"""Output folders (rotationlab.outdir, rotationlab.atomic): what a command refuses before it writes,
what it leaves when a write fails or it is interrupted, locks, permissions and temporary files.

File-system faults are injected here (a fake full disk, a refused rename); the real ones (a small
tmpfs, a read-only mount, killed processes) are in test_faults.py."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from rotationlab import atomic
from rotationlab import outdir as OD
from rotationlab.cli import main
from rotationlab.errors import UserError

#: A quick run: three years, no statistics, no PDF or HTML.
RUN = ["run", "--start", "2006-01-03", "--end", "2006-12-29", "--no-stats", "--no-pdf", "--no-html"]
#: A quick fast-engine sweep of four combinations.
SWEEP = ["sweep", "--start", "2005-01-03", "--end", "2007-12-31", "--grid", "lookback_days=5,10",
         "--grid", "threshold=0.02,0.03", "--no-pdf", "--no-html", "--no-progress"]


def one_line(capsys) -> str:
    """The command's stderr, checked to be one line with no traceback and no internal error."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def listing(folder) -> dict:
    """``{relative path: bytes}`` of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def assert_lists_only_existing_files(folder, man):
    for name, info in man["files"].items():
        blob = (folder / name).read_bytes()
        assert len(blob) == info["bytes"] and hashlib.sha256(blob).hexdigest() == info["sha256"], name


# -- refused before anything is written ----------------------------------------------------------
def test_a_file_or_a_folder_under_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me")
    assert main([*RUN, "--out", str(f)]) == 2
    assert one_line(capsys) == f"error: cannot use {f} as an output folder: it is a file; choose another --out"
    assert main([*RUN, "--out", str(f / "sub")]) == 2
    assert f"is under {f}, which is a file" in one_line(capsys)
    assert f.read_text() == "keep me"


def test_a_refused_command_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "new" / "deep"
    assert main([*RUN[:1], "--start", "2030-01-01", "--out", str(out)]) == 2
    one_line(capsys)
    assert not (tmp_path / "new").exists()
    folder = OD.OutputFolder(out, "run", {}).check()  # checking creates nothing either
    assert folder and not (tmp_path / "new").exists()


def test_another_config_or_command_is_refused_unless_force(tmp_path, capsys):
    out = tmp_path / "r"
    assert main([*RUN, "--out", str(out)]) == 0
    before = listing(out)
    man = manifest(out)
    assert man["status"] == "complete" and man["kind"] == "run"
    assert man["command"] == ["run_backtest.py", *RUN, "--out", str(out)]  # the command that made it
    assert man["config"]["run"]["start"] == "2006-01-03"                    # and its config
    assert_lists_only_existing_files(out, man)
    capsys.readouterr()
    assert main([*RUN, "-p", "threshold=0.02", "--out", str(out)]) == 2
    line = one_line(capsys)
    assert "holds the output of `run` with another config" in line and "(made by `run_backtest.py run" in line
    assert "--force" in line
    assert main([*SWEEP, "--out", str(out)]) == 2
    assert "holds the output of `run`, not a sweep" in one_line(capsys)
    assert listing(out) == before  # refused: nothing touched
    assert main([*RUN, "-p", "threshold=0.02", "--out", str(out), "--force"]) == 0
    assert manifest(out)["config"]["run"]["params"] == {"threshold": 0.02}


def test_run_into_a_sweep_folder_is_refused_and_the_sweep_still_resumes(tmp_path, capsys):
    out = tmp_path / "sw"
    assert main([*SWEEP, "--out", str(out)]) == 0
    rows = (out / "sweep.csv").read_bytes()
    man = (out / "manifest.json").read_bytes()
    capsys.readouterr()
    assert main([*RUN, "--out", str(out)]) == 2
    assert "holds the output of `sweep`, not `run`" in one_line(capsys)
    assert (out / "manifest.json").read_bytes() == man and (out / "sweep.csv").read_bytes() == rows
    (out / "sweep.csv").write_bytes(b"".join(rows.splitlines(keepends=True)[:2]))  # keep one row
    assert main([*SWEEP, "--out", str(out), "--resume"]) == 0
    assert (out / "sweep.csv").read_bytes() == rows
    assert manifest(out)["status"] == "complete"


def test_a_folder_of_other_files_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("x")
    assert main([*RUN, "--out", str(out)]) == 2
    assert "no Rotation Lab command made" in one_line(capsys)
    (out / "notes.txt").unlink()
    (out / "manifest.json").write_text("{not json")
    assert main([*RUN, "--out", str(out)]) == 2
    assert "manifest.json cannot be read" in one_line(capsys)


# -- write errors and interruptions --------------------------------------------------------------
def _fail_on(monkeypatch, n: int, exc_factory):
    """Make the ``n``-th file write of an OutputFolder raise ``exc_factory(path)``."""
    real = OD.atomic_write_bytes
    calls = []

    def write(path, data):
        calls.append(path)
        if len(calls) == n:
            raise exc_factory(path)
        return real(path, data)
    monkeypatch.setattr(OD, "atomic_write_bytes", write)
    return calls


def test_a_full_disk_mid_report_leaves_a_failed_manifest_of_existing_files(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    # equity.csv, trades.csv, weights.csv, then targets.csv: the disk is full
    _fail_on(monkeypatch, 4, lambda p: atomic.os_error(OSError(errno.ENOSPC, "No space left"), p))
    assert main([*RUN, "--out", str(out)]) == 2
    line = one_line(capsys)
    assert line.startswith("error: cannot write") and "the disk is full" in line
    man = manifest(out)
    assert man["status"] == "failed" and "the disk is full" in man["error"]
    assert sorted(man["files"]) == ["equity.csv", "trades.csv", "weights.csv"]
    assert_lists_only_existing_files(out, man)
    run = man["config"].get("run") or man["config"]["identity"]["run"]  # the config it was made with
    assert run["start"] == "2006-01-03"
    monkeypatch.undo()
    assert main([*RUN, "--out", str(out)]) == 0  # the rerun takes its own folder back
    man = manifest(out)
    assert man["status"] == "complete" and "error" not in man
    assert_lists_only_existing_files(out, man)


def test_a_refused_rename_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"

    def deny(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))
    monkeypatch.setattr(atomic.os, "replace", deny)
    assert main([*RUN, "--out", str(out)]) == 2
    assert "permission denied" in one_line(capsys)
    assert not out.exists()  # the first write (the manifest) failed: the folder it made is gone


def test_ctrl_c_in_the_report_marks_the_folder_interrupted(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    _fail_on(monkeypatch, 2, lambda p: KeyboardInterrupt())  # at trades.csv
    assert main([*RUN, "--out", str(out)]) == 130
    line = capsys.readouterr().err.strip()
    assert line == f"interrupted; {out} holds what was written so far (manifest status interrupted)"
    man = manifest(out)
    assert man["status"] == "interrupted" and sorted(man["files"]) == ["equity.csv"]
    assert_lists_only_existing_files(out, man)
    assert not OD._HELD  # the lock is released


@pytest.mark.parametrize("exc, code, status", [(KeyboardInterrupt, 130, "interrupted"),
                                               (RuntimeError, 1, "failed")])
def test_a_stop_between_writes_marks_the_folder(exc, code, status, tmp_path, capsys, monkeypatch):
    import reports.build

    def boom(fig, *a, **k):
        raise exc("figure")
    monkeypatch.setattr(reports.build, "png_bytes", boom)
    out = tmp_path / "r"
    assert main([*RUN, "--out", str(out)]) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"(manifest status {status})" in err
    man = manifest(out)
    assert man["status"] == status and "metrics.json" in man["files"]
    assert_lists_only_existing_files(out, man)


def test_ctrl_c_in_a_sweep_report_names_the_resume_command(tmp_path, capsys, monkeypatch):
    import reports.sweep_report

    def stop(sweep, folder, **k):
        folder.write_text("top.csv", "rank\n")  # one file of the report, then Ctrl-C
        raise KeyboardInterrupt
    out = tmp_path / "sw"
    monkeypatch.setattr(reports.sweep_report, "write_sweep_report", stop)
    argv = [*SWEEP, "--out", str(out)]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"run `run_backtest.py {' '.join(argv)} --resume` to finish it"), err
    assert manifest(out)["status"] == "interrupted"
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 0
    assert "(0 computed on the fast engine, 4 already in sweep.csv)" in capsys.readouterr().out
    assert manifest(out)["status"] == "complete" and "report.html" not in manifest(out)["files"]


def test_a_refused_sweep_leaves_no_folder_and_does_not_block_the_rerun(tmp_path, capsys, monkeypatch):
    from rotationlab import sweeps as S

    def refuse(*a, **k):
        raise UserError("refused for the test")
    for engine, target in (("fast", "run_fast_sweep"), ("backtrader", "run_local")):
        out = tmp_path / engine
        argv = [*SWEEP, "--engine", engine, "--jobs", "1", "--out", str(out)]
        with monkeypatch.context() as m:
            m.setattr(S, target, refuse)
            assert main(argv) == 2
        assert one_line(capsys) == "error: refused for the test"
        assert not out.exists(), engine  # no header-only sweep.csv, no manifest, no .lock, no folder
        assert main(argv) == 0, engine   # and the same command runs without --resume
        assert manifest(out)["status"] == "complete"


# -- locks ---------------------------------------------------------------------------------------
HOLD = """
import sys, time
from rotationlab.outdir import OutputFolder
f = OutputFolder(sys.argv[1], "sweep", {}, command=["run_backtest.py", "sweep", "--out", sys.argv[1]]).lock()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_folder_another_process_writes_is_refused_naming_it(tmp_path, capsys):
    out = tmp_path / "busy"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for argv in ([*RUN, "--out", str(out)], [*SWEEP, "--out", str(out)], [*SWEEP, "--out", str(out), "--resume"],
                     [*RUN, "--out", str(out), "--force"]):
            assert main(argv) == 2
            line = one_line(capsys)
            assert f"{out} is in use by process {holder.pid} (run_backtest.py sweep --out {out})" in line, line
        with pytest.raises(UserError, match=f"in use by process {holder.pid}"):
            OD.OutputFolder(out, "run", {}).lock()
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()
    folder = OD.OutputFolder(out, "run", {})  # the lock dies with its process
    assert folder.in_use() is None
    folder.lock().unlock()


# -- permissions and temporary files -------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_files_and_folders_follow_the_umask(mask, tmp_path):
    from rotationlab.sweeps import RowFile
    old = os.umask(mask)
    try:
        folder = OD.OutputFolder(tmp_path / "a" / "b", "run", {"x": 1})
        folder.write_text("data.csv", "x\n")
        OD.sub(folder, "part").write_text("inner.csv", "y\n")
        folder.finish({"x": 1}, {})
        rows = RowFile(tmp_path / "a" / "b" / "sweep.csv", ["a", "combo_id"])
        rows.open(fresh=True)
        rows.append(["1", "id"])
        rows.close()
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    base = tmp_path / "a" / "b"
    for name in ("data.csv", "part/inner.csv", "manifest.json", ".lock", "sweep.csv"):
        assert mode(base / name) == 0o666 & ~mask, name
    for d in (tmp_path / "a", base, base / "part"):
        assert mode(d) == 0o777 & ~mask, d


def test_stale_temporary_files_are_removed_at_the_next_start(tmp_path):
    out = tmp_path / "r"
    (out / "part").mkdir(parents=True)
    stale = [out / ".equity.csv.ab12cd_9.tmp", out / "part" / ".inner.csv.zz99yy88.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
    kept = [out / ".notes.tmp", out / "part" / "x.tmp"]  # not the name of a temporary file
    for p in kept:
        p.write_bytes(b"mine")
    (out / "manifest.json").write_text(json.dumps({"kind": "run", "identity_hash": OD.OutputFolder(
        out, "run", {}).identity_hash, "files": {}, "status": "failed"}))
    folder = OD.OutputFolder(out, "run", {}).check()
    folder.write_text("equity.csv", "date\n")
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    folder.finish({}, {})


def test_no_temporary_file_is_left_by_a_failed_write(tmp_path, monkeypatch):
    target = tmp_path / "f.csv"
    target.write_text("old")

    def deny(src, dst):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(atomic.os, "replace", deny)
    with pytest.raises(UserError, match="the file system is read-only"):
        atomic.atomic_write_text(target, "new")
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["f.csv"]


def test_atomic_writes_refuse_pipes_and_devices_and_write_through_links(tmp_path):
    fifo = tmp_path / "pipe"  # stands for a device such as /dev/full: not a regular file
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        atomic.atomic_write_text(fifo, "x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(UserError, match="it is a folder"):
        atomic.atomic_write_text(tmp_path, "x")
    target = tmp_path / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    atomic.atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_data_out_to_a_pipe_is_refused(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["data", "--symbols", "^DJI", "--out", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


# -- sweep.csv -----------------------------------------------------------------------------------
def test_rows_file_starts_with_its_first_row_and_reports_a_full_disk(tmp_path):
    from rotationlab.sweeps import RowFile
    rf = RowFile(tmp_path / "sweep.csv", ["a", "error", "combo_id"])
    rf.open(fresh=True)
    rf.close()
    assert not rf.path.exists()  # no row, no file (a header alone would block the rerun)
    rf.open(fresh=True)
    rf.append(["1", "", "id1"])
    assert rf.path.read_text() == "a,error,combo_id\n1,,id1\n"

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.fh, name)
    rf.fh = Full(rf.fh)
    with pytest.raises(UserError, match=r"cannot write .*sweep.csv: the disk is full"):
        rf.append(["2", "", "id2"])
    rf.close()  # after the reported error: quietly
    assert rf.existing() == {"id1": "1,,id1\n"}


def test_a_rows_file_being_written_by_another_process_is_refused(tmp_path):
    from rotationlab.sweeps import RowFile
    out = tmp_path / "busy"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=f"in use by process {holder.pid}"):
            RowFile(out / "sweep.csv", ["a", "combo_id"])
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        holder.stdout.close()
    t0 = time.monotonic()
    RowFile(out / "sweep.csv", ["a", "combo_id"])
    assert time.monotonic() - t0 < 5
