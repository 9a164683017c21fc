"""Run directories: created once (never overwritten), every file written atomically, read back checked.

runs/<config-stem>-<YYYYmmdd-HHMMSS>[-N]/
  config.yaml  weights.npz  metrics.csv  summary.json  [checkpoint.npz]
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic, jsonable
from .errors import RunDirError

CONFIG, WEIGHTS, METRICS, SUMMARY, CHECKPOINT = (
    "config.yaml", "weights.npz", "metrics.csv", "summary.json", "checkpoint.npz")


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
                raise RunDirError("already exists; --out must name a new directory (runs are never "
                                  "overwritten; use --runs-dir to have a name chosen)", where=str(out)) from None
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
                          "writable place with --runs-dir or --out", where=str(out or runs_dir)) from None
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

    def write_metrics(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        self._write(METRICS, metrics_csv(rows, columns).encode("utf-8"))

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._write(SUMMARY, (json.dumps(summary, indent=2, default=jsonable.default) + "\n").encode("utf-8"))

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
            raise RunDirError(f"metrics.csv is not a readable CSV file ({_printable(e)})", where=str(p)) from None

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
                    col, bad = next((k, v) for k, v in zip(header, values) if v != "" and not _is_float(v))
                    raise RunDirError(f"line {line_no}, column {col!r}: {bad[:40]!r} is not a number (every "
                                      f"value must be a number or empty)", where=str(p)) from None
        return header, rows


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz, loaded with allow_pickle=False (object arrays are refused)."""
    path = Path(path)
    if not path.is_file():
        raise RunDirError("missing", where=str(path))
    damaged = "not a readable .npz file (truncated or corrupted?)"
    if not zipfile.is_zipfile(path):
        raise RunDirError(f"{damaged}: it is not a zip archive", where=str(path))
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e):  # object arrays need pickle: refused
            raise RunDirError("refused: it holds pickled Python objects, not plain arrays",
                              where=str(path)) from None
        raise RunDirError(f"{damaged}: {_printable(e)}", where=str(path)) from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, zlib.error) as e:
        raise RunDirError(f"{damaged}: {_printable(e)}", where=str(path)) from None


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _printable(e: Exception, limit: int = 100) -> str:
    """An exception's text without the binary garbage a corrupted file can put into it."""
    text = "".join(c if c.isprintable() else "?" for c in str(e))
    return text if len(text) <= limit else text[:limit] + "..."


