"""Run directories: created once (never overwritten), every file written atomically, read back checked.

runs/<config-stem>-<YYYYmmdd-HHMMSS>[-N]/
  config.yaml  weights.npz  metrics.csv  summary.json  [checkpoint.npz]  [snapshots.npz]
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic, jsonable
from . import summary as summary_format
from .errors import RunDirError, argument
from .history import Columns
from .readers import is_number, parse_json, printable, read_text

CONFIG, WEIGHTS, METRICS, SUMMARY, CHECKPOINT, SNAPSHOTS = (
    "config.yaml", "weights.npz", "metrics.csv", "summary.json", "checkpoint.npz", "snapshots.npz")
FILES = (CONFIG, WEIGHTS, METRICS, SUMMARY, CHECKPOINT, SNAPSHOTS)


# -- atomic writes --------------------------------------------------------------------------------
def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def metrics_csv(rows, columns: list[str]) -> str:
    """metrics.csv: the header, then one line per row; floats as repr (they read back exactly), missing
    cells empty. Built column by column (a stack's `history.Columns` renders its arrays whole)."""
    cells = [rows.cells(name) if isinstance(rows, Columns) else [_fmt(r.get(name)) for r in rows]
             for name in columns]
    return "\n".join([",".join(columns), *map(",".join, zip(*cells))]) + "\n"


def summary_bytes(summary: dict[str, Any]) -> bytes:
    """summary.json's content."""
    return (jsonable.dumps(summary) + "\n").encode("utf-8")  # strict JSON: NaN and infinity are null


def _fmt(v) -> str:
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def replace(path: Path, files: dict[str, bytes], durable: bool = False) -> None:
    """A sweep's run directory `path` (made anew: an unfinished run of an earlier attempt is removed)
    holding rendered files (MemoryRun.files); without fsyncs unless `durable` (the sweep makes them durable
    together, atomic.sync_filesystem, before results.csv lists them)."""
    if path.exists():
        RunDir(path).discard()
    create(path.name, out=path).write_files(files, durable=durable)


# -- creating -------------------------------------------------------------------------------------
def create(stem: str, runs_dir: Path | None = None, out: Path | None = None) -> "RunDir":
    """Make a new, empty run directory: `out` itself (must not exist), or `<runs_dir>/<stem>-<time>[-N]`.

    os.mkdir is atomic, so processes started in the same second (a shell loop with xargs -P) each get
    their own directory: a name already taken moves on to the next suffix. The parent directories it had
    to create are remembered, so that `RunDir.discard` (and a failure here) leaves nothing behind.
    """
    created: list[Path] = []
    try:
        if out is not None:
            out = Path(out)
            created = _make_parents(out.parent)
            try:
                out.mkdir()
            except FileExistsError:
                raise RunDirError(f"already exists; {argument('out')} must name a new directory (runs are never "
                                  f"overwritten; use {argument('runs_dir')} to have a name chosen)",
                                  where=str(out)) from None
            return RunDir(out, created)
        runs_dir = Path(runs_dir if runs_dir is not None else "runs")
        created = _make_parents(runs_dir)
        base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        for n in range(1, 10_000):
            path = runs_dir / (base if n == 1 else f"{base}-{n}")
            try:
                path.mkdir()
                return RunDir(path, created)
            except FileExistsError:
                continue
        raise RunDirError("could not find a free run directory name", where=str(runs_dir))
    except BaseException as e:
        _remove_empty(created)
        if isinstance(e, PermissionError):
            raise RunDirError(f"cannot create the run directory: permission denied ({e.filename}); choose a "
                              f"writable place with {argument('runs_dir')} or {argument('out')}",
                              where=str(out or runs_dir)) from None
        if isinstance(e, OSError):
            raise RunDirError(f"cannot create the run directory: {e.strerror or e}",
                              where=str(out or runs_dir)) from None
        raise


def _make_parents(path: Path) -> list[Path]:
    """Create `path` and its missing ancestors; return the directories created, outermost first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
    return list(reversed(missing))


def _remove_empty(directories: list[Path]) -> None:
    """Remove the directories a run created, innermost first, if they are still empty (another run may
    have been created in them meanwhile)."""
    for directory in reversed(directories):
        try:
            directory.rmdir()
        except OSError:
            return


class RunDir:
    """One run's directory and its files."""

    def __init__(self, path: Path, created_parents: list[Path] | None = None):
        self.path = Path(path)
        self.created_parents = list(created_parents or [])  # made for this run: removed by discard()

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    # -- writing ----------------------------------------------------------------------------------
    def _write(self, name: str, data: bytes, durable: bool = True) -> None:
        try:
            atomic.write_bytes(self.file(name), data, durable)
        except OSError as e:
            raise RunDirError(f"cannot write {name}: {e.strerror or e}", where=str(self.path)) from None

    def write_config(self, text: str) -> None:
        self._write(CONFIG, text.encode("utf-8"))

    def write_weights(self, arrays: dict[str, np.ndarray]) -> None:
        self._write(WEIGHTS, npz_bytes(arrays))

    def write_checkpoint(self, arrays: dict[str, np.ndarray]) -> None:
        self._write(CHECKPOINT, npz_bytes(arrays))

    def write_snapshots(self, arrays: dict[str, np.ndarray]) -> None:
        self._write(SNAPSHOTS, npz_bytes(arrays))

    def write_metrics(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        self._write(METRICS, metrics_csv(rows, columns).encode("utf-8"))

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._write(SUMMARY, summary_bytes(summary))

    def write_files(self, files: dict[str, bytes], durable: bool = True) -> None:
        """Write rendered files (MemoryRun.files), each atomically, in the order given (`durable=False`:
        without an fsync each; see atomic.sync_filesystem)."""
        for name, data in files.items():
            self._write(name, data, durable)

    def has_checkpoint(self) -> bool:
        return self.file(CHECKPOINT).exists()  # a checkpoint that is not a file is refused when read

    def remove_checkpoint(self) -> None:
        self.file(CHECKPOINT).unlink(missing_ok=True)

    # -- housekeeping -----------------------------------------------------------------------------
    def remove_temporaries(self) -> None:
        """Delete the temporary files (`.<name>.<random>.tmp`) a killed write leaves behind."""
        for path in self.path.glob(".*.tmp"):
            if any(path.name.startswith(f".{name}.") for name in FILES):
                path.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove a run directory that has just been created (only the files nncli writes into it)."""
        for path in self.path.iterdir():
            if path.name in FILES or (path.name.startswith(".") and path.name.endswith(".tmp")):
                try:
                    path.unlink()
                except OSError:
                    pass
        try:
            self.path.rmdir()
        except OSError:
            return
        _remove_empty(self.created_parents)

    # -- reading ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run directory; RunDirError if it is missing or is not a run."""
        path = Path(path)
        if not path.exists():
            raise RunDirError("no such directory; give a run directory such as runs/xor-20260101-120000",
                              where=str(path))
        if not path.is_dir():
            raise RunDirError("is a file, not a run directory", where=str(path))
        if not (path / CONFIG).exists():
            raise RunDirError(f"not a run directory: it has no {CONFIG} (runs are made by `nncli train`)",
                              where=str(path))
        return cls(path)

    def read_config_text(self) -> str:
        """config.yaml as text: a regular file of at most LIMITS["config"] bytes of UTF-8."""
        return read_text(self.file(CONFIG), "config", RunDirError, "config.yaml")

    def read_summary(self) -> dict[str, Any]:
        """summary.json, every field nncli reads checked for its type ({} when there is none yet)."""
        p = self.file(SUMMARY)
        if not p.exists():
            return {}
        data = parse_json(read_text(p, "summary", RunDirError, "summary.json"), str(p), RunDirError)
        return summary_format.check(data, str(p))

    def read_metrics(self) -> tuple[list[str], list[dict[str, float | None]]]:
        """Columns and rows of metrics.csv, every value a float (None where empty), each checked against
        what its column can hold (METRIC_RULES)."""
        p = self.file(METRICS)
        if not p.exists():
            return [], []
        text = read_text(p, "metrics", RunDirError, "metrics.csv")
        try:
            return _parse_metrics(text, str(p))
        except csv.Error as e:
            raise RunDirError(f"metrics.csv is not a readable CSV file ({printable(e)})", where=str(p)) from None


#: what a metrics.csv column can hold, by the end of its name: (end, test, the rule). Anything else found
#: there was edited by hand or damaged (a loss is a mean of non-negative errors, and so on).
METRIC_RULES = (
    ("epoch", lambda v: v >= 1 and v.is_integer(), "epochs are whole numbers from 1"),
    ("step", lambda v: v >= 0 and v.is_integer(), "steps are whole numbers from 0"),
    ("_loss", lambda v: v >= 0, "a loss is never negative (nor NaN)"),  # an evaluation may overflow to inf
    ("loss", lambda v: 0 <= v < math.inf, "a training loss is finite and never negative"),  # else: diverged
    ("accuracy", lambda v: 0 <= v <= 1, "an accuracy lies between 0 and 1"),
    ("lr", lambda v: v >= 0 and math.isfinite(v), "a learning rate is finite and not negative"),
    ("seconds", lambda v: v >= 0 and math.isfinite(v), "times are finite and not negative"),
)


def _parse_metrics(text: str, where: str) -> tuple[list[str], list[dict[str, float | int | None]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or header[0] != "epoch":
        raise RunDirError("metrics.csv has no header row starting with 'epoch'", where=where)
    if len(set(header)) != len(header):
        raise RunDirError("metrics.csv's header names a column twice", where=where)
    rules = [next(((ok, what) for end, ok, what in METRIC_RULES if c.endswith(end)), None) for c in header]
    rows = []
    for line_no, values in enumerate(reader, start=2):
        if len(values) != len(header):
            raise RunDirError(f"line {line_no} has {len(values)} fields, the header has {len(header)}", where=where)
        row: dict[str, float | None] = {}
        for col, cell, rule in zip(header, values, rules):
            if cell == "":
                row[col] = None
                continue
            if not is_number(cell):
                raise RunDirError(f"line {line_no}, column {col!r}: {cell[:40]!r} is not a number (every value must "
                                  f"be a number or empty)", where=where)
            v = row[col] = float(cell)
            if rule is not None and not rule[0](v):
                raise RunDirError(f"line {line_no}, column {col!r}: {cell[:40]} cannot be right ({rule[1]}); "
                                  f"metrics.csv was edited or damaged", where=where)
            if col in ("epoch", "step") and v.is_integer():
                row[col] = int(v)  # counts, as training wrote them
        rows.append(row)
    return header, rows


class MemoryRun:
    """What a run directory would hold, kept in memory: a run trained with `runs_dir=None` (notebooks, and
    the workers of a sweep, whose results the client writes). The same write methods as RunDir."""

    path = None

    def __init__(self, name: str = "run") -> None:
        self.name = name  # what the run directory would be called (TensorBoard names the run by it)
        self.config: str | None = None
        self.weights: dict[str, np.ndarray] = {}
        self.checkpoint: dict[str, np.ndarray] | None = None
        self.snapshots: dict[str, np.ndarray] | None = None
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] = []
        self.summary: dict[str, Any] = {}
        self._summary_bytes = summary_bytes({})  # summary.json's text, rendered once by write_summary

    def write_config(self, text: str) -> None:
        self.config = text

    def write_weights(self, arrays: dict[str, np.ndarray]) -> None:
        self.weights = {k: np.array(v) for k, v in arrays.items()}  # copies: the network trains on in place

    def write_checkpoint(self, arrays: dict[str, np.ndarray]) -> None:
        self.checkpoint = {k: np.array(v) for k, v in arrays.items()}

    def write_snapshots(self, arrays: dict[str, np.ndarray]) -> None:
        self.snapshots = {k: np.array(v) for k, v in arrays.items()}

    def write_metrics(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        self.rows = rows if isinstance(rows, Columns) else [dict(r) for r in rows]  # Columns are read-only
        self.columns = list(columns)

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._summary_bytes = summary_bytes(summary)
        self.summary = json.loads(self._summary_bytes)  # as summary.json would hold it

    def has_checkpoint(self) -> bool:
        return self.checkpoint is not None

    def remove_checkpoint(self) -> None:
        self.checkpoint = None

    def files(self) -> dict[str, bytes]:
        """The run directory's files as bytes, in the order a training run writes them (weights first):
        rendered where the run trained (a sweep's worker), so the client only writes them."""
        files = {WEIGHTS: npz_bytes(self.weights)}
        if self.config is not None:
            files[CONFIG] = self.config.encode("utf-8")
        if self.snapshots is not None:
            files[SNAPSHOTS] = npz_bytes(self.snapshots)
        if self.checkpoint is not None:
            files[CHECKPOINT] = npz_bytes(self.checkpoint)
        files[METRICS] = metrics_csv(self.rows, self.columns).encode("utf-8")
        files[SUMMARY] = self._summary_bytes
        return files

    def save(self, run: RunDir) -> None:
        """Write everything into the run directory `run` (weights first, as a training run does)."""
        run.write_files(self.files())
