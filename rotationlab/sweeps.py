"""Parameter sweeps: a grid over strategy parameters (and cost knobs), run in worker processes or
on a Dask cluster, one CSV row per combination, resumable.

* :func:`build_spec` turns ``--grid NAME=VALUES`` items (``2,5,10``, ranges ``0.01:0.05:0.01``,
  list-valued parameters as ``DIA,IWM|IWD,IWN``) and an optional ``--constraint`` expression
  into a :class:`SweepSpec`: every value is type-checked against the strategy's parameters
  (unknown names get a did-you-mean), every combination that passes the constraint is validated
  by the strategy, and a constraint that keeps nothing is an error.
* :func:`run_sweep` runs the combinations not yet in ``sweep.csv``: in this process
  (``jobs=1``), in a pool of worker processes that each receive the data once, or on a Dask
  cluster (``dask_scheduler``, the data scattered to every worker once). Each finished
  combination is appended to ``sweep.csv`` at once (flushed and fsynced line by line), so an
  interrupted sweep loses at most the row being written; ``resume=True`` skips the rows already
  there (ignoring a trailing partial line). A completed sweep's file is rewritten in grid
  order, so the same config and data give a byte-identical ``sweep.csv`` however and wherever
  it ran.

Row layout: one column per swept parameter (named as the parameter), the metrics of
:func:`reports.metrics.compute_metrics` (``METRIC_ROWS`` order, then ``rejected_orders``), the
trading period, ``error`` (empty unless the engine refused the combination) and ``combo_id``
(a hash of the swept values). Floats are written with ``repr`` (shortest round trip).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
import errno
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from data_feeds.base import did_you_mean
from rotationlab import expr
from rotationlab import manifest as MF
from rotationlab.atomic import atomic_write_text
from rotationlab.config import Execution, RunConfig, coerce_value, make_rule
from rotationlab.errors import UserError

#: Execution settings a grid may sweep besides the strategy's parameters.
EXEC_KNOBS = ("commission_bps", "slippage_bps", "fill", "cash_buffer", "drift_tolerance", "cash")
#: Metrics where a lower value is better (ranking, heatmap colours); all others: higher is better.
LOWER_IS_BETTER = frozenset({"annual_volatility", "max_drawdown_days", "time_in_drawdown", "tracking_error",
                             "annual_turnover", "rejected_orders"})
MAX_COMBINATIONS = 1_000_000
MAX_RANGE_VALUES = 10_000
#: The connect timeout (seconds) for ``--dask-scheduler`` and how long to wait for a first worker.
DASK_CONNECT_TIMEOUT = 5
DASK_WORKER_TIMEOUT = 60
ROWS_FILE = "sweep.csv"
TRIALS_FILE = "trials.npy"
TRIAL_DATES_FILE = "trials_dates.csv"
#: Appended rows are fsynced at most this often (seconds).
FSYNC_SECONDS = 2.0


# -- columns -----------------------------------------------------------------------------------
def metric_columns(benchmark: bool) -> list[str]:
    from rotationlab.metrics import METRIC_ROWS, RELATIVE
    cols = [k for k, _, _ in METRIC_ROWS if benchmark or k not in RELATIVE]
    return [*cols, "rejected_orders"]


def check_metric(name: str, columns: list[str], flag: str = "--metric") -> str:
    if name not in columns:
        raise UserError(f"{flag} {name!r} is not a metric{did_you_mean(name, columns)}; "
                        f"choose one of {', '.join(columns)}")
    return name


def cell(value) -> str:
    """CSV text of a parameter or metric value: shortest round-trip floats, lists as ``A,B``."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes, tuple, list)):
        value = value.item()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (tuple, list)):
        return ",".join(cell(v) for v in value)
    return str(value)


def _line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


# -- the grid ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple
    kind: str  # "param" or "execution"


@dataclass(frozen=True)
class Combo:
    index: int     # position in the full grid (the product of the axes, before the constraint)
    values: tuple  # one value per axis
    id: str        # stable hash of the swept values

    def label(self, axes) -> str:
        return ", ".join(f"{a.name}={cell(v)}" for a, v in zip(axes, self.values))


def combo_id(names, values) -> str:
    return MF.sha256_of({n: _jsonable(v) for n, v in zip(names, values)})[:16]


def _decimal(text: str, name: str, spec: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise UserError(f"bad grid {name}={spec}: {text.strip()!r} is not a number "
                        "(ranges are start:stop:step, e.g. 0.01:0.05:0.01)") from None
    if not d.is_finite():
        raise UserError(f"bad grid {name}={spec}: {text.strip()!r} is not a finite number")
    return d


def expand_range(name: str, item: str, spec: str, default) -> list:
    """``start:stop[:step]`` -> values from start to stop inclusive (step 1 if left out)."""
    parts = item.split(":")
    if len(parts) not in (2, 3) or isinstance(default, bool) or not isinstance(default, (int, float)):
        what = "numeric parameters only" if len(parts) in (2, 3) else "start:stop:step"
        raise UserError(f"bad grid {name}={spec}: range {item!r} needs {what} (e.g. 0.01:0.05:0.01)")
    start, stop = _decimal(parts[0], name, spec), _decimal(parts[1], name, spec)
    step = _decimal(parts[2], name, spec) if len(parts) == 3 else Decimal(1)
    if step <= 0:
        raise UserError(f"bad grid {name}={spec}: the step of {item!r} must be positive")
    if stop < start:
        raise UserError(f"bad grid {name}={spec}: range {item!r} runs backwards (start above stop)")
    n = int((stop - start) / step) + 1
    if n > MAX_RANGE_VALUES:
        raise UserError(f"bad grid {name}={spec}: range {item!r} has {n:,} values (at most {MAX_RANGE_VALUES:,})")
    values = [start + i * step for i in range(n)]
    if isinstance(default, int):
        if any(v != v.to_integral_value() for v in values):
            raise UserError(f"bad grid {name}={spec}: {name} takes whole numbers; range {item!r} gives fractions")
        return [int(v) for v in values]
    return [float(v) for v in values]


def parse_axis(name: str, spec, default) -> list:
    """Typed values of one grid axis. ``spec`` is ``--grid`` text or a TOML list (or scalar)."""
    shown = spec if isinstance(spec, str) else repr(spec)
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise UserError(f"bad grid {name}=: give values, e.g. {name}=1,2,3 or a range start:stop:step")
        if isinstance(default, tuple):  # list-valued parameter: alternatives split on '|'
            items = [("text", s) for s in text.split("|")]
        else:
            items = [("text", s) for s in text.split(",")]
    elif isinstance(spec, list):
        if not spec:
            raise UserError(f"bad grid {name}=[]: give at least one value")
        items = [("value", v) for v in spec]
    else:
        items = [("value", spec)]
    from rotationlab.configfile import param_text
    values = []
    for kind, item in items:
        if kind == "text":
            s = item.strip()
            if not s and not isinstance(default, (str, tuple)):
                raise UserError(f"bad grid {name}={shown}: empty value (check the commas)")
            if ":" in s and not isinstance(default, (str, tuple)):
                values.extend(expand_range(name, s, shown, default))
                continue
        else:
            if isinstance(item, (dict,)):
                raise UserError(f"bad grid {name}={shown}: {item!r} is not a value")
            if isinstance(default, tuple) and not isinstance(item, (list, str)):
                raise UserError(f"bad grid {name}={shown}: {name} is a list parameter; give each value as "
                                "a list, e.g. [[\"DIA\", \"IWM\"], [\"IWD\", \"IWN\"]]")
            s = param_text(item)
        if "\n" in s or "\r" in s:
            raise UserError(f"bad grid {name}={shown}: values cannot contain line breaks")
        try:
            v = coerce_value(name, s, default)
        except UserError as exc:
            raise UserError(f"bad grid {name}={shown}: {exc}") from None
        if isinstance(v, float) and not math.isfinite(v):
            raise UserError(f"bad grid {name}={shown}: {s!r} is not a finite number")
        values.append(v)
    seen = set()
    for v in values:
        if v in seen:
            raise UserError(f"bad grid {name}={shown}: value {cell(v) or '(empty)'} appears twice")
        seen.add(v)
    return values


def parse_grid_items(items: list[str]) -> list[tuple[str, str]]:
    """``["NAME=VALUES", ...]`` -> ``[(name, values text)]`` (one-line error if malformed)."""
    out = []
    for item in items:
        name, sep, spec = str(item).partition("=")
        if not sep or not name.strip():
            raise UserError(f"bad grid {item!r}: use NAME=VALUES, e.g. --grid lookback_days=2,5,10 or "
                            "--grid threshold=0.01:0.05:0.01")
        out.append((name.strip(), spec))
    return out


def merge_grid(file_grid: dict | None, cli_items: list[str]) -> list[tuple[str, object]]:
    """The config file's grid in its order, each ``--grid`` replacing its parameter (or added)."""
    merged = dict((file_grid or {}).items())
    seen = set()
    for name, spec in parse_grid_items(cli_items):
        if name in seen:
            raise UserError(f"bad grid: {name} is given twice with --grid; give all its values in one, "
                            f"e.g. --grid {name}=1,2,3")
        seen.add(name)
        merged[name] = spec
    return list(merged.items())


# -- the constraint ----------------------------------------------------------------------------
class Constraint:
    """A ``--constraint`` over parameter names in the bounded language of :mod:`rotationlab.expr`
    (scalar context): names, numbers, strings, true/false, lists, comparisons (chains, ``in``),
    ``and``/``or``/``not``, ``+ - * / %`` and abs/min/max/round. Checked once here (one-line
    errors with did-you-mean); calling it evaluates it for one combination's values."""

    def __init__(self, text: str, names):
        self.text = text
        self.expr = expr.parse(text, what="--constraint")
        values = dict(names) if isinstance(names, dict) else dict.fromkeys(names)
        self.expr.check(expr.ScalarContext(values))

    def __call__(self, env: dict) -> bool:
        return bool(self.expr.evaluate(expr.ScalarContext(env), check=False))


# -- the spec ----------------------------------------------------------------------------------
@dataclass
class SweepSpec:
    base: RunConfig
    axes: list[Axis]
    constraint: str | None
    metric: str
    grid_size: int
    combos: list[Combo]
    columns: list[str] = field(default_factory=list)   # every column of sweep.csv
    metrics: list[str] = field(default_factory=list)   # the metric columns
    symbols: list[str] = field(default_factory=list)   # every symbol any combination needs

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.axes]

    def config(self, combo: Combo) -> RunConfig:
        return combo_config(self.base, self.axes, combo.values)

    def identity(self) -> dict:
        """What the rows depend on (hashed for --resume): config minus where the data lives
        (the data hash covers what it is), grid, constraint and columns."""
        run = self.base.to_dict()
        for k in ("data_dir", "cache_dir", "offline"):
            run.pop(k, None)
        return {"run": run, "grid": {a.name: [_jsonable(v) for v in a.values] for a in self.axes},
                "constraint": self.constraint, "columns": self.columns}

    def config_hash(self) -> str:
        return MF.sha256_of(self.identity())

    def describe(self) -> dict:
        return {"run": self.base.to_dict(), "grid": {a.name: [_jsonable(v) for v in a.values] for a in self.axes},
                "grid_kinds": {a.name: a.kind for a in self.axes}, "constraint": self.constraint,
                "metric": self.metric, "columns": self.columns,
                "combinations": {"grid": self.grid_size, "after_constraint": len(self.combos)}}


def combo_config(base: RunConfig, axes, values) -> RunConfig:
    params = dict(base.params)
    knobs = {}
    for a, v in zip(axes, values):
        if a.kind == "param":
            params[a.name] = v
        else:
            knobs[a.name] = v
    ex = dataclasses.replace(base.execution, **knobs) if knobs else base.execution
    return dataclasses.replace(base, params=params, execution=ex)


def build_spec(base: RunConfig, grid: list[tuple[str, object]], constraint: str | None = None,
               metric: str = "sharpe") -> SweepSpec:
    """Check the grid, the constraint and every combination up front (one-line errors)."""
    base_rule = make_rule(base.strategy, base.params)
    values = base_rule.values
    defaults = values  # every parameter the rule takes (typed), the base config's values applied
    if not grid:
        raise UserError("nothing to sweep: give at least one --grid NAME=VALUES (e.g. --grid lookback_days=2,5,10)")
    axes = []
    for name, spec in grid:
        if name in defaults:
            axes.append(Axis(name, tuple(parse_axis(name, spec, defaults[name])), "param"))
        elif name in EXEC_KNOBS:
            axes.append(Axis(name, tuple(parse_axis(name, spec, getattr(base.execution, name))), "execution"))
        else:
            known = [*defaults, *EXEC_KNOBS]
            raise UserError(f"unknown parameter {name!r} for strategy {base_rule.name()}{did_you_mean(name, known)}; "
                            f"its parameters: {', '.join(defaults)}; execution: {', '.join(EXEC_KNOBS)}")
    size = math.prod(len(a.values) for a in axes)
    if size > MAX_COMBINATIONS:
        raise UserError(f"bad grid: {size:,} combinations (at most {MAX_COMBINATIONS:,}); use fewer values")
    env_base = {**values, **{k: getattr(base.execution, k) for k in EXEC_KNOBS}}
    check = Constraint(constraint, env_base) if constraint and constraint.strip() else None
    names = [a.name for a in axes]
    combos, symbols = [], {}
    for index, vals in enumerate(itertools.product(*(a.values for a in axes))):
        env = {**env_base, **dict(zip(names, vals))}
        if check is not None:
            try:
                keep = check(env)
            except expr.ExprError as exc:  # a type error or division by zero for these values
                label = ", ".join(f"{n}={cell(v)}" for n, v in zip(names, vals))
                raise UserError(f"bad --constraint {constraint!r}: cannot evaluate it for {label} "
                                f"({exc.reason})") from None
            if not keep:
                continue
        combo = Combo(index, tuple(vals), combo_id(names, vals))
        cfg = combo_config(base, axes, vals)
        try:
            crule = make_rule(cfg.strategy, cfg.params)
            Execution(**dataclasses.asdict(cfg.execution))
        except UserError as exc:
            raise UserError(f"combination {combo.label(axes)} is invalid: {exc}; "
                            "leave it out with --constraint") from None
        for s in [*crule.needed(), *([base.benchmark] if base.benchmark else [])]:
            symbols.setdefault(s, None)
        combos.append(combo)
    if not combos:
        raise UserError(f"impossible constraint {constraint!r}: none of the {size:,} combinations of the grid "
                        "satisfies it; loosen it or widen the grid")
    metrics = metric_columns(base.benchmark is not None)
    check_metric(metric, metrics)
    columns = [*names, *metrics, "trade_from", "trade_to", "error", "combo_id"]
    dup = [n for n in names if n in metrics or n in ("trade_from", "trade_to", "error", "combo_id")]
    if dup:
        raise UserError(f"bad grid: parameter {dup[0]!r} clashes with a column of sweep.csv")
    return SweepSpec(base=base, axes=axes, constraint=constraint.strip() if check else None, metric=metric,
                     grid_size=size, combos=combos, columns=columns, metrics=metrics, symbols=list(symbols))


# -- evaluating one combination (in any process) -----------------------------------------------
def evaluate(base: RunConfig, axes, values, metrics: list[str], data: dict) -> list[str]:
    """The CSV cells of one combination: values, metrics, period, error, combo id."""
    from rotationlab.engine import run
    from rotationlab.metrics import compute_metrics
    cfg = combo_config(base, axes, values)
    names = [a.name for a in axes]
    try:
        result = run(cfg, data=data)
    except UserError as exc:
        return [*map(cell, values), *([""] * len(metrics)), "", "", str(exc), combo_id(names, values)]
    m = compute_metrics(result, with_tearsheet=False)["metrics"]
    p = result.provenance["period"]
    return [*map(cell, values), *(cell(m.get(k)) for k in metrics), p["trade_from"], p["trade_to"], "",
            combo_id(names, values)]


_WORKER: dict = {}


def _init_worker(base, axes, metrics, data):
    """Process-pool initializer: keep the data (received once per worker); ignore Ctrl-C (the
    parent handles it and stops the pool); die with the parent."""
    from rotationlab.procs import worker_init
    worker_init()
    _WORKER.update(base=base, axes=axes, metrics=metrics, data=data)


def _pool_task(index, values):
    w = _WORKER
    return index, evaluate(w["base"], w["axes"], values, w["metrics"], w["data"])


def dask_task(base, axes, values, metrics, data):
    """The function a Dask worker runs (``data`` is the scattered dict, resolved by Dask)."""
    return evaluate(base, axes, values, metrics, data)


# -- sweep.csv ---------------------------------------------------------------------------------
class RowFile:
    """``sweep.csv``: header, then one line per finished combination (flushed at once, fsynced at
    most every :data:`FSYNC_SECONDS`).

    The header is written with the first row, so a sweep that stops before any row leaves no file
    (and nothing that blocks its rerun). A row file in a folder another process is writing (its
    ``.lock`` is held) is refused: that process is appending to it. Errors of the file system (a
    full disk, a read-only folder) are one-line UserErrors; a row cut off by one is cut off again
    by :meth:`existing` on ``--resume``."""

    def __init__(self, path: Path, columns: list[str]):
        from rotationlab.outdir import OutputFolder
        self.path = Path(path)
        self.columns = columns
        self.header = _line(columns)
        self.fh = None
        self._synced = 0.0
        self._fresh = True      # the header is still to be written (with the first row)
        self._broken = False    # a write failed: close() does not raise again
        if self.path.parent.is_dir():
            OutputFolder(self.path.parent, "sweep", {}).check_free()

    def existing(self) -> dict[str, str]:
        """``{combo_id: line}`` of the complete rows; a trailing partial line is cut off."""
        if not self.path.exists():
            return {}
        from rotationlab.atomic import os_error
        try:
            blob = self.path.read_bytes()
            cut = blob.rfind(b"\n") + 1
            if cut < len(blob):  # a row that was being written when the sweep stopped
                with open(self.path, "r+b") as fh:
                    fh.truncate(cut)
                    fh.flush()
                    os.fsync(fh.fileno())
                blob = blob[:cut]
        except IsADirectoryError:
            raise UserError(f"{self.path} is a folder, not a sweep's rows; use another --out") from None
        except OSError as exc:
            raise os_error(exc, self.path, "update") from None
        if not blob:
            return {}
        try:
            text = blob.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{self.path} is not a sweep's rows (not UTF-8 text); use another --out") from None
        lines = text.splitlines(keepends=True)
        if lines[0] != self.header:
            raise UserError(f"{self.path}: its columns differ from this sweep's ({lines[0].strip()[:80]}...); "
                            "use another --out")
        rows = {}
        for n, line in enumerate(lines[1:], start=2):
            try:
                fields = next(csv.reader([line]))
            except (csv.Error, StopIteration):
                fields = []
            if len(fields) != len(self.columns) or not fields[-1]:
                raise UserError(f"{self.path} line {n} is malformed ({len(fields)} fields, expected "
                                f"{len(self.columns)}); fix or delete that line, then --resume")
            rows.setdefault(fields[-1], line)
        return rows

    def open(self, fresh: bool) -> None:
        """Get ready to append: ``fresh`` (or no rows yet) starts the file anew with the first row."""
        self.close()
        self._fresh = fresh or not self.path.exists() or self.path.stat().st_size == 0
        self._broken = False

    def append(self, cells: list[str]) -> None:
        """Append a row; flushed at once, fsynced at most every FSYNC_SECONDS (a crash loses at
        most the rows of that interval, which --resume recomputes)."""
        from rotationlab.atomic import os_error
        line = _line(cells)
        try:
            if self.fh is None:
                if self._fresh or not self.path.exists():
                    atomic_write_text(self.path, self.header)
                    self._fresh = False
                self.fh = open(self.path, "a", encoding="utf-8", newline="")
            self.fh.write(line)
            self.fh.flush()
            now = time.monotonic()
            if now - self._synced >= FSYNC_SECONDS:
                os.fsync(self.fh.fileno())
                self._synced = now
        except OSError as exc:
            self._broken = True
            raise os_error(exc, self.path) from None
        except UserError:
            self._broken = True
            raise

    def write_all(self, rows: list[list[str]], order: dict[str, int], keep: dict | None = None) -> None:
        """Write the whole file once (atomically), rows in grid order (fast engine)."""
        lines = list((keep or {}).values()) + [_line(r) for r in rows]
        lines.sort(key=lambda ln: order[next(csv.reader([ln]))[-1]])
        atomic_write_text(self.path, self.header + "".join(lines))

    def close(self) -> None:
        """Flush and close (after a failed write: close quietly, the error was raised already)."""
        fh, self.fh = self.fh, None
        if fh is None:
            return
        from rotationlab.atomic import os_error
        try:
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:
            if not self._broken:
                self._broken = True
                _close_quietly(fh)
                raise os_error(exc, self.path) from None
        _close_quietly(fh)

    def finalize(self, order: dict[str, int]) -> None:
        """Rewrite the file (atomically) with its rows in grid order."""
        rows = self.existing()
        lines = sorted(rows.values(), key=lambda ln: order[next(csv.reader([ln]))[-1]])
        atomic_write_text(self.path, self.header + "".join(lines))


def _close_quietly(fh) -> None:
    try:
        fh.close()
    except OSError:  # the buffer could not be written; the error was reported
        try:
            os.close(fh.fileno())
        except (OSError, ValueError):
            pass


# -- progress ----------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """A one-line progress bar with rate and ETA on stderr (redrawn in place on a terminal,
    a plain line every 10 seconds otherwise)."""

    def __init__(self, total: int, done: int, enabled: bool = True, stream=None, label: str = "sweep"):
        self.total, self.done, self.start_done = total, done, done
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0
        self.label = label
        self.errors = 0
        self._draw(force=True)

    def text(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(frac * 24)
        elapsed = time.monotonic() - self.t0
        new = self.done - self.start_done
        rate = new / elapsed if elapsed > 0 and new else 0.0
        eta = _clock((self.total - self.done) / rate) if rate else "?"
        errs = f" {self.errors} failed" if self.errors else ""
        return (f"{self.label} [{bar:<24}] {self.done}/{self.total} {frac:4.0%} {rate:5.2f} combos/s "
                f"elapsed {_clock(elapsed)} ETA {eta}{errs}")

    def _draw(self, force=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if force or now - self.last >= 0.1:
                self.stream.write("\r" + self.text() + "\x1b[K")
                self.stream.flush()
                self.last = now
        elif force or now - self.last >= 10:
            self.stream.write(self.text() + "\n")
            self.stream.flush()
            self.last = now

    def update(self, n: int = 1, error: bool = False) -> None:
        self.done += n
        self.errors += bool(error)
        self._draw(force=self.done == self.total)

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# -- running -----------------------------------------------------------------------------------
class SweepStopped(Exception):
    """The sweep stopped early (Ctrl-C, a dead worker pool, a lost Dask scheduler or workers);
    the finished rows are kept and ``--resume`` continues. ``exit_code``: what the command exits
    with (130 for Ctrl-C, 1 otherwise)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(" ".join(str(message).split()))
        self.exit_code = exit_code


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _mp_context():
    """fork where this process has one thread (fast: the workers share the imported modules),
    else spawn; either way each worker runs :func:`rotationlab.procs.worker_init`."""
    import multiprocessing as mp
    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def run_local(spec: SweepSpec, todo: list[Combo], data: dict, jobs: int, on_row) -> None:
    """Run ``todo`` here (``jobs=1``) or in ``jobs`` worker processes; ``on_row(combo, cells)``
    is called in this process as each one finishes. The workers die with this process (also on
    SIGKILL: ``PR_SET_PDEATHSIG``) and are stopped at once on Ctrl-C or an error."""
    if jobs <= 1 or len(todo) <= 1:
        for combo in todo:
            on_row(combo, evaluate(spec.base, spec.axes, combo.values, spec.metrics, data))
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    by_index = {c.index: c for c in todo}
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=_mp_context(),
                               initializer=_init_worker, initargs=(spec.base, spec.axes, spec.metrics, data))
    clean = False
    try:
        pending = {pool.submit(_pool_task, c.index, c.values) for c in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                index, cells = fut.result()  # a worker's exception (a bug, not bad input) stops the sweep
                on_row(by_index[index], cells)
        clean = True
    except BrokenProcessPool:
        raise SweepStopped("a worker process died (killed, or out of memory)", 1) from None
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:  # Ctrl-C or an error: drop what is queued and stop the workers now
            from rotationlab.procs import stop_pool
            stop_pool(pool)


#: How often a Dask sweep looks at its connection while no result arrives (seconds).
DASK_POLL_SECONDS = 1.0
_DASK_LOGGERS = ("distributed", "tornado", "bokeh", "asyncio")


class quiet_dask_logs:  # noqa: N801 - used as a context manager: ``with quiet_dask_logs():``
    """Silence the loggers of ``distributed`` (and tornado, asyncio) for the duration: a lost
    scheduler or worker is reported in one line, not in pages of reconnect tracebacks. The levels
    are restored after."""

    def __enter__(self):
        import logging
        names = {n for n in logging.root.manager.loggerDict if n.split(".")[0] in _DASK_LOGGERS} | set(_DASK_LOGGERS)
        self._saved = [(lg, lg.level) for lg in map(logging.getLogger, sorted(names))]
        for lg, _ in self._saved:
            lg.setLevel(logging.CRITICAL + 1)
        return self

    def __exit__(self, *exc):
        for lg, level in self._saved:
            lg.setLevel(level)
        return False


def check_address(address: str) -> str:
    """``address`` if it is a scheduler address (``tcp://HOST:PORT``, also tls/ws/wss, or
    ``HOST:PORT``) with a port from 1 to 65535; else a one-line UserError."""
    import re
    bad = UserError(f"--dask-scheduler {address!r} is not a scheduler address; use tcp://HOST:PORT "
                    "(e.g. tcp://127.0.0.1:8786, as printed by `dask scheduler`)")
    m = re.fullmatch(r"(?:(tcp|tls|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})/?", address or "")
    if not m or not 1 <= int(m.group(3)) <= 65535:
        raise bad
    try:
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        return address
    try:
        parse_host_port(parse_address(address.rstrip("/"))[1])
    except (ValueError, TypeError):
        raise bad from None
    return address


def connect(address: str, timeout: float = DASK_CONNECT_TIMEOUT):
    """A ``distributed.Client`` for ``address`` or a one-line UserError within ``timeout`` s."""
    check_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--dask-scheduler needs dask.distributed: pip install 'rotation-lab[dask]'") from None
    made = []

    class _Client(Client):  # remembers itself, so that a client that failed half-way can be shut down
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)
    try:
        with quiet_dask_logs():
            return _Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError, RuntimeError) as exc:
        with quiet_dask_logs():
            for client in made:  # else its __del__ waits for a stopped event loop at exit
                try:
                    client.close(timeout=2)
                except Exception:  # noqa: BLE001
                    client.status = "closed"
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"cannot reach the Dask scheduler at {address} ({why}); "
                        "start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                        "or check the address and firewall") from None


def _lost_scheduler(address: str) -> SweepStopped:
    return SweepStopped(f"lost the connection to the Dask scheduler at {address} (it stopped, or the network "
                        "failed)", 1)


def _dropped(client, fut, address: str) -> SweepStopped:
    """Why the scheduler cancelled a task: the connection to it was lost, or every worker (with
    the data scattered to them) was lost."""
    if client.status not in ("running",):
        return _lost_scheduler(address)
    if _n_workers(client) == 0:
        return SweepStopped(f"every Dask worker at the scheduler at {address} was lost (and the data sent to "
                            f"them); start workers with `dask worker {address}`", 1)
    try:
        fut.result()
    except Exception as exc:  # noqa: BLE001 - the cancellation's reason
        why = getattr(exc, "reason", None) or type(exc).__name__
    else:  # pragma: no cover
        why = "cancelled"
    return SweepStopped(f"the Dask scheduler at {address} dropped the sweep's tasks ({why})", 1)


def _n_workers(client) -> int | None:
    """Workers at the scheduler now (None if it cannot be asked)."""
    try:
        info = client.scheduler_info(n_workers=0)
    except (OSError, TimeoutError):
        return None
    n = info.get("n_workers")
    return len(info.get("workers") or {}) if n is None else int(n)


def _collect(client, futures: dict, address: str, on_row) -> None:
    """``on_row`` for each finished future, watching the scheduler and its workers meanwhile."""
    from distributed import as_completed
    ready = as_completed(list(futures))
    looked = time.monotonic()
    while not ready.is_empty():
        if ready.has_ready():
            for fut in ready.next_batch(block=False):
                if fut.cancelled():  # the scheduler went away, or the workers with the data did
                    raise _dropped(client, fut, address)
                on_row(futures[fut], fut.result())  # a task's own exception is a bug: raised
            continue
        now = time.monotonic()
        if now - looked >= DASK_POLL_SECONDS:
            looked = now
            if client.status not in ("running", "connecting"):
                raise _lost_scheduler(address)
        time.sleep(0.02)


def run_dask(spec: SweepSpec, todo: list[Combo], data: dict, address: str, on_row, client=None) -> None:
    """Run ``todo`` on the Dask cluster at ``address``: the data is scattered to every worker once,
    one task per combination; tasks of a worker that dies are recomputed on the others. If the
    scheduler goes away, or every worker does (with the scattered data), the sweep stops
    (:class:`SweepStopped`, one line) with the rows so far kept; Dask's own logging is silenced
    meanwhile."""
    from concurrent.futures import CancelledError
    own = client is None
    futures: dict = {}
    lost = False
    with quiet_dask_logs():
        if own:
            client = connect(address)
        try:
            try:
                client.wait_for_workers(1, timeout=DASK_WORKER_TIMEOUT)
            except TimeoutError:
                raise UserError(f"no Dask worker joined the scheduler at {address} within {DASK_WORKER_TIMEOUT} s; "
                                f"start some with `dask worker {address} --nthreads 1`") from None
            [data_f] = client.scatter([data], broadcast=True, hash=False)
            tag = spec.config_hash()[:10]
            for c in todo:
                fut = client.submit(dask_task, spec.base, spec.axes, c.values, spec.metrics, data_f,
                                    key=f"rotationlab-sweep-{tag}-{c.id}", pure=False, retries=1)
                futures[fut] = c
            with client.as_current():
                _collect(client, futures, address, on_row)
        except SweepStopped:
            lost = True
            raise
        except (CancelledError, OSError, TimeoutError):  # the scheduler went away mid-sweep
            lost = True
            raise _lost_scheduler(address) from None
        finally:
            if futures and not lost:
                try:
                    client.cancel(list(futures))
                except Exception:  # noqa: BLE001  (the cluster may be gone)
                    pass
            if own or lost:
                try:
                    client.close(timeout=5)
                except Exception:  # noqa: BLE001
                    pass


@dataclass
class SweepOutcome:
    out: Path
    rows_path: Path
    total: int
    computed: int     # rows computed in this session
    reused: int       # rows found in sweep.csv (resume)
    errors: int
    seconds: float
    manifest: dict
    folder: object = None
    overfitting: dict | None = None
    trials: object = None     # (returns N x T, dates) of every combination in grid order
    fast: dict | None = None  # fast-engine timing


def _refuse_resume(old: dict, identity: dict, new_hash: str, new_data: str) -> None:
    cfg = old.get("config") or {}
    if cfg.get("config_hash") != new_hash:
        before = cfg.get("identity") or {}
        parts = {"grid": "the grid", "constraint": "the constraint", "run": "the strategy, data or cost settings",
                 "columns": "the metric columns"}
        diff = next((v for k, v in parts.items() if before.get(k) != identity.get(k)), "the config hash")
        raise UserError(f"--resume: this sweep's config differs from the one that started it ({diff} changed); "
                        "run it with the same config, or use a new --out")
    old_data = (old.get("data") or {}).get("hash")
    if old_data != new_data:
        raise UserError("--resume: the data differs from the data the sweep started with (data hash "
                        f"{str(old_data)[:12]} then, {new_data[:12]} now); use a new --out")


def fast_trials(spec: SweepSpec, combos: list[Combo], data: dict, jobs: int | None = None):
    """Run ``combos`` with the fast engine; returns (results, trial returns (len(combos) x dates),
    dates): each combination's daily returns on the union calendar (NaN where it does not trade).
    Holds the whole matrix in memory: for walk-forward and small grids (sweeps stream theirs, see
    :class:`TrialStream`)."""
    from rotationlab import fast
    sets = [dict(zip(spec.names, c.values)) for c in combos]
    prep = fast.prepare(spec.base, data, sets)
    stream = TrialStream(prep, sets, folder=None, overfit=False)
    res = fast.run_fast(prep, sets, jobs=jobs, keep_equity=False, on_chunk=stream.on_chunk)
    return res, stream.matrix, stream.calendar


class TrialStream:
    """Every combination's daily returns as the fast engine produces them, chunk by chunk: into
    ``trials.npy`` (a memory-mapped file in the sweep folder, combinations x dates on the union
    calendar, NaN where a combination does not trade) or an in-memory matrix, and into the
    overfitting statistics (:class:`rotationlab.overfit.OverfitAccumulator`, on the days every
    combination trades), so no whole matrix is ever held in memory."""

    def __init__(self, prep, sets: list[dict], *, folder=None, overfit: bool = True, labels=None, benchmark=None,
                 common=None, keep: bool = True):
        import numpy as np

        from rotationlab import fast
        from rotationlab.overfit import OverfitAccumulator
        self.sets = sets
        places = fast.placements(prep, sets)
        panels = {id(p): p for p, _ in places if p is not None}
        cal = None
        for p in panels.values():  # from the first trading day of any combination on that panel
            days = p.calendar[min(pl.tf for q, pl in places if q is p):]
            cal = days if cal is None else cal.union(days)
        self.calendar = cal
        self.ok = np.array([p is not None for p, _ in places], dtype=bool)
        # the days on which every combination that runs has a return
        given, common = common, None
        for p in panels.values():
            tfs = [pl.tf for q, pl in places if q is p]
            days = p.calendar[max(tfs) + 1:]
            common = days if common is None else common.intersection(days)
        if given is not None:  # the days of a whole sweep, when this is one chunk of it
            common = given
        self.common = common
        self._pos = {}
        self._cpos = {}
        self.folder = folder
        self.matrix = None
        self._tmp = None
        if cal is not None and keep:
            shape = (len(sets), len(cal))
            if folder is None:
                self.matrix = np.full(shape, np.nan)
            else:
                import tempfile
                fd, self._tmp = tempfile.mkstemp(prefix=f".{TRIALS_FILE}.", suffix=".tmp", dir=folder.path)
                os.close(fd)
                try:
                    self.matrix = np.lib.format.open_memmap(self._tmp, mode="w+", dtype="<f8", shape=shape)
                    # reserve the blocks now: a write into a mapped file on a full disk is a bus error
                    fd = os.open(self._tmp, os.O_RDWR)
                    try:
                        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
                    except OSError as exc:  # a file system without fallocate: map it as it is
                        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                            raise
                    finally:
                        os.close(fd)
                except OSError as exc:
                    from rotationlab.atomic import os_error
                    self.matrix = None
                    self.abandon()
                    raise os_error(exc, folder.path / TRIALS_FILE) from None
                self.matrix[:] = np.nan
        self.acc = None
        if overfit and common is not None and (int(self.ok.sum()) >= 2 or given is not None):
            b = None
            if benchmark is not None:
                b = benchmark.reindex(common)
            self.acc = OverfitAccumulator(common, benchmark=b)
        self.labels = labels or [str(i) for i in range(len(sets))]
        self._buf: list = []

    def on_chunk(self, idx, eq, tfa, panel) -> None:
        import numpy as np
        key = id(panel)
        if key not in self._pos:
            self._pos[key] = self.calendar.get_indexer(panel.calendar)
            self._cpos[key] = panel.calendar.get_indexer(self.common) if self.common is not None else None
        pos, cpos = self._pos[key], self._cpos[key]
        rets = np.full((len(idx), len(panel.calendar)), np.nan)
        tfa = np.asarray(tfa)
        for tf in np.unique(tfa):  # the rows that start trading on one bar, at once
            rows = np.flatnonzero(tfa == tf)
            e = eq[rows, tf:]
            with np.errstate(divide="ignore", invalid="ignore"):
                rets[rows, tf + 1:] = e[:, 1:] / e[:, :-1] - 1.0
        if self.matrix is not None:
            keep = pos >= 0  # panel days before any combination trades are not in the file
            self.matrix[np.asarray(idx)[:, None], pos[keep][None, :]] = rets[:, keep]
        if self.acc is not None:  # days x trials, column-major (as the accumulator reduces them)
            self.acc.add(rets[:, cpos].T, [self.labels[i] for i in idx])

    def finish(self) -> dict | None:
        """Close the file (renamed into place atomically) and return the overfitting dict."""
        if self._tmp is not None:
            from rotationlab.atomic import umask
            self.matrix.flush()
            del self.matrix
            self.matrix = None
            os.chmod(self._tmp, 0o666 & ~umask())
            os.replace(self._tmp, self.folder.path / TRIALS_FILE)
            self._tmp = None
            self.folder.adopt(TRIALS_FILE)
            self.folder.write_text(TRIAL_DATES_FILE, "date\n" + "".join(f"{d:%Y-%m-%d}\n" for d in self.calendar))
        return self.acc.result() if self.acc is not None else None

    def abandon(self) -> None:
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None


def _fast_cells(spec, combos, res) -> list[list[str]]:
    rows = []
    for i, combo in enumerate(combos):
        m = res.metrics_row(i)
        err = res.errors[i]
        frm, to = res.period(i)
        metrics = [""] * len(spec.metrics) if err else [cell(m.get(k)) for k in spec.metrics]
        rows.append([*map(cell, combo.values), *metrics, frm, to, err, combo.id])
    return rows


def benchmark_returns(spec: SweepSpec, data: dict):
    """The benchmark's daily close-to-close returns (the basis of the excess statistics)."""
    if spec.base.benchmark and spec.base.benchmark in data:
        return data[spec.base.benchmark].frame["close"].pct_change()
    return None


def run_fast_sweep(spec: SweepSpec, combos: list[Combo], data: dict, folder, jobs: int | None, overfit: bool = True):
    """The fast engine over ``combos``, streaming the trials into the folder and the overfitting
    statistics: (results, overfitting dict or None)."""
    from rotationlab import fast
    sets = [dict(zip(spec.names, c.values)) for c in combos]
    prep = fast.prepare(spec.base, data, sets)
    stream = TrialStream(prep, sets, folder=folder, overfit=overfit and len(sets) >= 2,
                         labels=[c.label(spec.axes) for c in combos], benchmark=benchmark_returns(spec, data))
    try:
        res = fast.run_fast(prep, sets, jobs=jobs, keep_equity=False, on_chunk=stream.on_chunk)
        over = stream.finish()
    except BaseException:
        stream.abandon()
        raise
    return res, over


def read_trials(out):
    """A sweep folder's trial returns as a DataFrame: dates x combinations (columns: combo_id,
    in sweep.csv's order)."""
    import numpy as np
    import pandas as pd
    out = Path(out)
    arr = np.load(out / TRIALS_FILE, mmap_mode="r")
    dates = pd.read_csv(out / TRIAL_DATES_FILE, parse_dates=["date"])["date"]
    ids = pd.read_csv(out / ROWS_FILE, usecols=["combo_id"], dtype=str)["combo_id"]
    return pd.DataFrame(np.asarray(arr).T, index=pd.DatetimeIndex(dates, name="date"), columns=list(ids))


def run_sweep(spec: SweepSpec, data: dict, out: str | Path, *, jobs: int | None = None,
              dask_scheduler: str | None = None, resume: bool = False, force: bool = False, progress: bool = True,
              manifest_extra: dict | None = None, seed: int = 0, config_file=None, command=None,
              client=None, engine: str = "fast", overfit: bool = True) -> SweepOutcome:
    """Run (or continue) the sweep into ``out``; see the module docstring."""
    from rotationlab.outdir import OutputFolder
    out = Path(out)
    folder = OutputFolder(out, "sweep", spec.identity(), force=force, command=command)
    chash = spec.config_hash()
    prov = MF.data_provenance({s: data[s] for s in data})
    rows = RowFile(out / ROWS_FILE, spec.columns)
    old = MF.read(out) if out.is_dir() else None
    if old is not None and old.get("kind") != "sweep" and not force:
        raise UserError(f"{out} holds the output of `{old.get('kind')}`, not a sweep; choose another --out "
                        "(or --force to overwrite)")
    if old is None and not rows.path.exists():
        folder.check()
    holds = rows.path.exists() or (old is not None and old.get("kind") == "sweep")
    if holds and not resume and not force:
        raise UserError(f"{out} already holds a sweep; add --resume to continue it, or choose another --out")
    if holds and resume:
        if old is None:
            raise UserError(f"--resume: {out} has {ROWS_FILE} but no manifest.json to check it against; "
                            "use a new --out")
        _refuse_resume(old, spec.identity(), chash, prov["hash"])
    if dask_scheduler and client is None:
        client = connect(dask_scheduler)  # fail before touching the folder
    folder.lock()
    try:
        return _run_locked(spec, data, folder, rows, resume and holds, jobs, dask_scheduler, progress,
                           manifest_extra, seed, config_file, client, engine, overfit, chash, prov)
    finally:
        folder.unlock()


def _run_locked(spec, data, folder, rows, resume, jobs, dask_scheduler, progress, manifest_extra, seed, config_file,
                client, engine, overfit, chash, prov):
    out = folder.path
    if not resume and rows.path.exists():
        rows.path.unlink()
    done = rows.existing() if resume else {}
    order = {c.id: c.index for c in spec.combos}
    stray = [i for i in done if i not in order]
    if stray:
        raise UserError(f"{rows.path} has rows of combinations outside this grid (combo_id {stray[0]}); "
                        "use a new --out")
    errors = sum(1 for line in done.values() if next(csv.reader([line]))[-2])
    venue = {"dask_scheduler": dask_scheduler} if dask_scheduler else {"jobs": jobs or default_jobs()}
    venue["engine"] = engine
    config = {**spec.describe(), "config_hash": chash, "identity": spec.identity()}
    man_extra = {"venue": venue, **(manifest_extra or {})}
    folder.describe(config, prov, seed=seed, config_file=config_file, extra=man_extra)
    folder.adopt(ROWS_FILE)
    todo = [c for c in spec.combos if c.id not in done]

    def write_manifest(status: str, n_written: int):
        folder.adopt(ROWS_FILE)
        folder.finish(config, prov, seed=seed, config_file=config_file, status=status,
                      extra={**man_extra, "rows": {"written": n_written, "of": len(spec.combos), "failed": errors}})

    computed = 0
    t0 = time.monotonic()
    outcome = SweepOutcome(out=out, rows_path=rows.path, total=len(spec.combos), computed=0, reused=len(done),
                           errors=errors, seconds=0.0, manifest={}, folder=folder)
    if engine == "fast" and client is None:
        from rotationlab import fast
        fast.warm_up()  # compile or load the kernel before the clock starts
        t0 = time.monotonic()
        res, over = run_fast_sweep(spec, spec.combos, data, folder, jobs, overfit)
        cells = _fast_cells(spec, spec.combos, res)
        keep = {i: cells[order[i]] for i in done}
        new = [c for c in cells if c[-1] not in done]
        for c in new:
            errors += bool(c[-2])
        computed = len(new)
        rows.write_all(new, order, keep={k: _line(v) for k, v in keep.items()})
        outcome.seconds = res.seconds
        outcome.fast = {"seconds": res.seconds, "timings": res.timings}
    else:
        write_manifest("running", len(done))
        rows.open(fresh=not done)
        bar = Progress(len(spec.combos), len(done), enabled=progress)

        def on_row(combo, cells):
            nonlocal computed, errors
            rows.append(cells)
            computed += 1
            err = bool(cells[-2])
            errors += err
            bar.update(error=err)
        dask_over = None

        def on_rows(pairs):
            for combo, cells in pairs:
                on_row(combo, cells)
        try:
            if engine == "fast":
                dask_over = run_dask_fast(spec, todo, data, dask_scheduler, on_rows, client=client,
                                          done=set(done), overfit=overfit)
            elif client is not None:
                if todo:
                    run_dask(spec, todo, data, dask_scheduler, on_row, client=client)
            else:
                run_local(spec, todo, data, jobs or default_jobs(), on_row)
        except KeyboardInterrupt:
            bar.close()
            rows.close()
            write_manifest("interrupted", len(done) + computed)
            raise SweepStopped(f"interrupted: {len(done) + computed} of {len(spec.combos)} combinations are in "
                               f"{rows.path}; to finish the rest, run: {folder.resume_command()}", 130) from None
        except SweepStopped as exc:
            bar.close()
            rows.close()
            write_manifest("stopped", len(done) + computed)
            raise SweepStopped(f"{exc}; {len(done) + computed} of {len(spec.combos)} combinations are in "
                               f"{rows.path}; to finish the rest, run: {folder.resume_command()}",
                               exc.exit_code) from None
        except BaseException:
            bar.close()
            rows.close()
            write_manifest("failed", len(done) + computed)
            raise
        finally:
            if client is not None:
                try:
                    client.close(timeout=5)
                except Exception:  # noqa: BLE001
                    pass
        bar.close()
        rows.close()
        rows.finalize(order)
        outcome.seconds = time.monotonic() - t0
        over = dask_over
        from rotationlab import fast
        if engine != "fast" and fast.kernel_available():  # trials and statistics from the fast engine: the same trades
            _, over = run_fast_sweep(spec, spec.combos, data, folder, jobs, overfit)
    outcome.computed, outcome.errors = computed, errors
    if over is not None:
        from rotationlab.verdict import sweep_verdict
        over["verdict"] = sweep_verdict(over)
        outcome.overfitting = over
        folder.write_text("overfitting.json", _dump(over))
    outcome.manifest = {"config": config, "data": prov, "extra": man_extra}
    outcome._finish = lambda: write_manifest("complete", len(done) + computed)  # noqa: SLF001
    write_manifest("complete", len(done) + computed)
    return outcome


def _dump(obj) -> str:
    from rotationlab.results import dump_json
    return dump_json(obj)


def finish_manifest(outcome: SweepOutcome) -> None:
    """Rewrite the manifest after the report's files were added (it lists every file)."""
    fin = getattr(outcome, "_finish", None)
    if fin is not None:
        fin()


#: Combinations per Dask task of the fast engine.
DASK_FAST_CHUNK = 2000


def common_days(spec: SweepSpec, data: dict):
    """The days on which every combination of ``spec`` has a return (the overfitting basis)."""
    from rotationlab import fast
    sets = [dict(zip(spec.names, c.values)) for c in spec.combos]
    prep = fast.prepare(spec.base, data, sets)
    stream = TrialStream(prep, sets, folder=None, overfit=False, keep=False)
    return stream.common


def dask_fast_task(base, names, values_list, labels, metrics, data, common, bench, rows: bool = True):
    """One chunk of a fast-engine sweep on a Dask worker: the CSV cells of its combinations (if
    ``rows``) and its overfitting accumulator (merged by the client, in chunk order)."""
    from rotationlab import fast
    sets = [dict(zip(names, v)) for v in values_list]
    prep = fast.prepare(base, data, sets)
    stream = TrialStream(prep, sets, folder=None, overfit=common is not None, labels=labels, benchmark=bench,
                         common=common, keep=False)
    res = fast.run_fast(prep, sets, jobs=1, keep_equity=False, on_chunk=stream.on_chunk)
    acc = stream.acc
    if not rows:
        return None, acc
    cells = []
    for i, vals in enumerate(values_list):
        m = res.metrics_row(i)
        err = res.errors[i]
        frm, to = res.period(i)
        cells.append([*map(cell, vals), *([""] * len(metrics) if err else [cell(m.get(k)) for k in metrics]),
                      frm, to, err, combo_id(names, vals)])
    return cells, acc


def run_dask_fast(spec, todo, data, address, on_rows, client=None, chunk: int = DASK_FAST_CHUNK,
                  done: set | None = None, overfit: bool = True):
    """The fast engine on a Dask cluster: the data scattered once, chunks of ``chunk``
    combinations one task each (rows appended as each chunk finishes: a stop loses at most the
    running chunks; ``--resume`` continues); the chunks' overfitting accumulators merged in grid
    order (combinations already in sweep.csv are recomputed for the statistics only). Returns
    the overfitting dict (or None)."""
    from distributed import as_completed
    try:
        client.wait_for_workers(1, timeout=DASK_WORKER_TIMEOUT)
    except (TimeoutError, OSError):
        raise UserError(f"no Dask worker joined the scheduler at {address} within {DASK_WORKER_TIMEOUT} s; "
                        f"start some with `dask worker {address} --nthreads 1`") from None
    common = common_days(spec, data) if overfit and len(spec.combos) >= 2 else None
    bench = benchmark_returns(spec, data)
    [data_f] = client.scatter([data], broadcast=True, hash=False)
    tag = spec.config_hash()[:10]
    done = done or set()
    todo_ids = {c.id for c in todo}
    chunks = [spec.combos[a:a + chunk] for a in range(0, len(spec.combos), chunk)]
    futures = {}
    for k, part in enumerate(chunks):
        need_rows = any(c.id in todo_ids for c in part)
        if not need_rows and common is None:
            continue
        fut = client.submit(dask_fast_task, spec.base, spec.names, [c.values for c in part],
                            [c.label(spec.axes) for c in part], spec.metrics, data_f, common, bench, need_rows,
                            key=f"rotationlab-fast-{tag}-{k}", pure=False, retries=2)
        futures[fut] = (k, part)
    accs: dict = {}
    try:
        with client.as_current():
            for fut in as_completed(list(futures)):
                k, part = futures[fut]
                cells, acc = fut.result()
                if cells is not None:
                    on_rows([(c, row) for c, row in zip(part, cells) if c.id not in done])
                accs[k] = acc
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            try:
                client.cancel(pending)
            except Exception:  # noqa: BLE001  (the cluster may be gone)
                pass
    if common is None:
        return None
    merged = None
    for k in sorted(accs):
        if accs[k] is None:
            continue
        merged = accs[k] if merged is None else merged.merge(accs[k])
    return merged.result() if merged is not None else None


def load_rows(spec: SweepSpec, path: str | Path):
    """``sweep.csv`` as a DataFrame: typed parameter columns (from the spec), float metrics,
    ``grid_index``; in grid order."""
    import pandas as pd
    by_id = {c.id: c for c in spec.combos}
    records = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        for fields in reader:
            rec = dict(zip(header, fields))
            combo = by_id.get(rec["combo_id"])
            if combo is None:
                continue
            row = {a.name: v for a, v in zip(spec.axes, combo.values)}
            for m in spec.metrics:
                row[m] = float(rec[m]) if rec[m] != "" else float("nan")
            row.update(trade_from=rec["trade_from"], trade_to=rec["trade_to"], error=rec["error"],
                       combo_id=rec["combo_id"], grid_index=combo.index)
            records.append(row)
    frame = pd.DataFrame.from_records(records, columns=[*spec.names, *spec.metrics, "trade_from", "trade_to",
                                                        "error", "combo_id", "grid_index"])
    return frame.sort_values("grid_index", kind="stable").reset_index(drop=True)


def ranked(frame, metric: str):
    """Rows ranked best first by ``metric`` (NaN last; ties in grid order)."""
    asc = metric in LOWER_IS_BETTER
    return frame.sort_values([metric, "grid_index"], ascending=[asc, True], na_position="last", kind="stable")


#: Metrics shown in the top-N table besides the ranking metric.
TOP_METRICS = ("cagr", "sharpe", "max_drawdown", "excess_cagr", "n_trades")


def top_table(frame, spec: SweepSpec, metric: str, n: int):
    """The ``n`` best rows by ``metric`` (failed rows left out): rank, parameters, metrics."""
    ok = frame[frame["error"] == ""]
    best = ranked(ok, metric).head(n)
    extra = [m for m in TOP_METRICS if m in spec.metrics and m != metric]
    out = best[[*spec.names, metric, *extra, "combo_id"]].copy()
    out.insert(0, "rank", range(1, len(out) + 1))
    return out.reset_index(drop=True)


def parse_heatmap(text: str | None, spec: SweepSpec) -> tuple[str, str | None, str]:
    """``"x,y,metric"`` (``y`` and ``metric`` optional) -> checked ``(x, y, metric)``; default:
    the first two swept parameters and ``spec.metric``."""
    names = spec.names
    if not text:
        return names[0], (names[1] if len(names) > 1 else None), spec.metric
    parts = [p.strip() for p in text.split(",")]
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise UserError(f"--heatmap {text!r}: use X,Y,METRIC with two swept parameters and a metric, e.g. "
                        f"--heatmap {','.join(names[:2])},sharpe")
    for p in parts[:2]:
        if p not in names:
            what = "a metric, not a parameter" if p in spec.metrics else "not a swept parameter"
            raise UserError(f"--heatmap {text!r}: {p!r} is {what}{did_you_mean(p, names)}; "
                            f"swept: {', '.join(names)}")
    x = parts[0]
    y = parts[1] if len(parts) > 1 else None
    if y == x:
        raise UserError(f"--heatmap {text!r}: give two different parameters")
    metric = check_metric(parts[2], spec.metrics, "--heatmap metric") if len(parts) == 3 else spec.metric
    return x, y, metric


def is_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
