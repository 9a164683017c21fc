"""Run directories: created once (never overwritten), every file written atomically, read back checked.

runs/<config-stem>-<YYYYmmdd-HHMMSS>[-N]/
  config.yaml  weights.npz  metrics.csv  summary.json  [checkpoint.npz]  [snapshots.npz]
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic, jsonable
from .errors import RunDirError, argument
from .readers import is_number, printable

CONFIG, WEIGHTS, METRICS, SUMMARY, CHECKPOINT, SNAPSHOTS = (
    "config.yaml", "weights.npz", "metrics.csv", "summary.json", "checkpoint.npz", "snapshots.npz")
FILES = (CONFIG, WEIGHTS, METRICS, SUMMARY, CHECKPOINT, SNAPSHOTS)


# -- atomic writes --------------------------------------------------------------------------------
def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def metrics_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k)) for k in columns})
    return buf.getvalue()


def summary_bytes(summary: dict[str, Any]) -> bytes:
    """summary.json's content."""
    return (json.dumps(summary, indent=2, default=jsonable.default) + "\n").encode("utf-8")


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return v


# -- creating -------------------------------------------------------------------------------------
def create(stem: str, runs_dir: Path | None = None, out: Path | None = None) -> "RunDir":
    """Make a new, empty run directory: `out` itself (must not exist), or `<runs_dir>/<stem>-<time>[-N]`.

    os.mkdir is atomic, so processes started in the same second (a shell loop with xargs -P) each get
    their own directory: a name already taken moves on to the next suffix.
    """
    try:
        if out is not None:
            out = Path(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                out.mkdir()
            except FileExistsError:
                raise RunDirError(f"already exists; {argument('out')} must name a new directory (runs are never "
                                  f"overwritten; use {argument('runs_dir')} to have a name chosen)",
                                  where=str(out)) from None
            return RunDir(out)
        runs_dir = Path(runs_dir if runs_dir is not None else "runs")
        runs_dir.mkdir(parents=True, exist_ok=True)
        base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        for n in range(1, 10_000):
            path = runs_dir / (base if n == 1 else f"{base}-{n}")
            try:
                path.mkdir()
                return RunDir(path)
            except FileExistsError:
                continue
        raise RunDirError("could not find a free run directory name", where=str(runs_dir))
    except PermissionError as e:
        raise RunDirError(f"cannot create the run directory: permission denied ({e.filename}); choose a "
                          f"writable place with {argument('runs_dir')} or {argument('out')}",
                          where=str(out or runs_dir)) from None
    except OSError as e:
        if isinstance(e, RunDirError):
            raise
        raise RunDirError(f"cannot create the run directory: {e.strerror or e}",
                          where=str(out or runs_dir)) from None


class RunDir:
    """One run's directory and its files."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    # -- writing ----------------------------------------------------------------------------------
    def _write(self, name: str, data: bytes) -> None:
        try:
            atomic.write_bytes(self.file(name), data)
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

    def write_files(self, files: dict[str, bytes]) -> None:
        """Write rendered files (MemoryRun.files), each atomically, in the order given."""
        for name, data in files.items():
            self._write(name, data)

    def has_checkpoint(self) -> bool:
        return self.file(CHECKPOINT).is_file()

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
            pass

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
        if not (path / CONFIG).is_file():
            raise RunDirError(f"not a run directory: it has no {CONFIG} (runs are made by `nncli train`)",
                              where=str(path))
        return cls(path)

    def read_config_text(self) -> str:
        return self.file(CONFIG).read_text(encoding="utf-8")

    def read_summary(self) -> dict[str, Any]:
        p = self.file(SUMMARY)
        if not p.is_file():
            return {}
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunDirError(f"summary.json is not valid JSON ({e})", where=str(p)) from None
        if not isinstance(data, dict):
            raise RunDirError("summary.json must hold a JSON object", where=str(p))
        return data

    def read_metrics(self) -> tuple[list[str], list[dict[str, float | None]]]:
        """Columns and rows of metrics.csv, every value a float (None where empty)."""
        p = self.file(METRICS)
        if not p.is_file():
            return [], []
        try:
            return self._parse_metrics(p)
        except (UnicodeDecodeError, csv.Error) as e:
            raise RunDirError(f"metrics.csv is not a readable CSV file ({printable(e)})", where=str(p)) from None

    @staticmethod
    def _parse_metrics(p: Path) -> tuple[list[str], list[dict[str, float | None]]]:
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header or header[0] != "epoch":
                raise RunDirError("metrics.csv has no header row starting with 'epoch'", where=str(p))
            rows = []
            for line_no, values in enumerate(reader, start=2):
                if len(values) != len(header):
                    raise RunDirError(f"line {line_no} has {len(values)} fields, the header has {len(header)}",
                                      where=str(p))
                try:
                    rows.append({k: (float(v) if v != "" else None) for k, v in zip(header, values)})
                except ValueError:
                    col, bad = next((k, v) for k, v in zip(header, values) if v != "" and not is_number(v))
                    raise RunDirError(f"line {line_no}, column {col!r}: {bad[:40]!r} is not a number (every "
                                      f"value must be a number or empty)", where=str(p)) from None
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

    def write_config(self, text: str) -> None:
        self.config = text

    def write_weights(self, arrays: dict[str, np.ndarray]) -> None:
        self.weights = {k: np.array(v) for k, v in arrays.items()}  # copies: the network trains on in place

    def write_checkpoint(self, arrays: dict[str, np.ndarray]) -> None:
        self.checkpoint = {k: np.array(v) for k, v in arrays.items()}

    def write_snapshots(self, arrays: dict[str, np.ndarray]) -> None:
        self.snapshots = {k: np.array(v) for k, v in arrays.items()}

    def write_metrics(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        self.rows, self.columns = [dict(r) for r in rows], list(columns)

    def write_summary(self, summary: dict[str, Any]) -> None:
        self.summary = json.loads(json.dumps(summary, default=jsonable.default))

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
        files[SUMMARY] = summary_bytes(self.summary)
        return files

    def save(self, run: RunDir) -> None:
        """Write everything into the run directory `run` (weights first, as a training run does)."""
        run.write_files(self.files())
