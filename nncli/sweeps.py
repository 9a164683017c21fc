"""A sweep: many runs of one config over a grid of values and seeds, and its directory.

    runs/<stem>-sweep-<YYYYmmdd-HHMMSS>/
      sweep.yaml      the config (path, content, resolved), the grid, seeds, fixed overrides, command, version
      results.csv     one row per finished run: swept values, seed, status, final and best metrics, seconds,
                      the worker that trained it
      <name>/         one ordinary run directory per point and seed, e.g. activation=relu,lr=0.25,seed=3

`plan` expands and validates every point before anything is written; `create` makes the directory;
`run` groups the runs into stacks where that pays (nncli/stack_plan.py), hands them to an executor
(nncli/executors.py) and writes each run directory and results.csv as the results come back. `open_plan`
reads a sweep directory back to finish it (`--resume`): finished runs (completed, early stopped, diverged)
are kept; interrupted runs continue from their checkpoint; missing, killed and failed ones train again
from their start (same seed, so the same result). Never prints.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml

from . import __version__, aggregate, atomic, checkpoint, runs, stack_plan
from .config import apply_overrides, validate
from .errors import ConfigError, RunDirError
from .grid import SEED, Grid, Point, build_grid, expand
from .npyfiles import read_npz
from .readers import parse_yaml, read_yaml_mapping
from .resuming import resume_history
from .runs import RunDir
from .tasks import Started, Task

SWEEP_FILE, RESULTS = "sweep.yaml", "results.csv"
RESULTS_EVERY = 1.0  # seconds: results.csv is rewritten at most this often while runs finish, and at the end
FINISHED = aggregate.FINISHED  # kept by a resume


@dataclass
class Plan:
    """A validated sweep: the config file (None for a mapping), its content, the grid and every run."""

    config: str | None
    base: dict[str, Any]
    grid: Grid
    points: list[Point]
    command: list[str]

    @property
    def keys(self) -> list[str]:
        """The swept config keys (the seed not included)."""
        return list(self.grid.params)

    @property
    def stem(self) -> str:
        return Path(self.config).stem if self.config else "run"

    def train_command(self, point: Point) -> list[str]:
        """The `nncli train` command line that makes the same run as this point."""
        pairs = list(self.grid.fixed.items()) + list(point.values.items())
        return (["nncli", "train", self.config or "CONFIG"] + [f"{k}={_yaml_text(v)}" for k, v in pairs]
                + ["--seed", str(point.seed)])


def _yaml_text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)  # JSON is YAML


def plan(config: str | Path | Mapping[str, Any], params: Iterable[str] | Mapping[str, list] = (),
         overrides: Iterable[str] | Mapping[str, Any] | None = None, *, grid: str | Path | None = None,
         seeds: int | None = None, random: int | None = None, sample_seed: int = 0,
         command: list[str] | None = None) -> Plan:
    """Expand and validate a sweep (ConfigError, exit 2, before anything is written)."""
    if isinstance(config, (str, Path)):
        base, path = read_yaml_mapping(config), str(Path(config).resolve())
    else:
        base, path = dict(config), None
    g = build_grid(params, overrides, grid, seeds, random, sample_seed)
    return Plan(path, base, g, expand(base, g), list(command or sys.argv))


def create(p: Plan, runs_dir: str | Path | None = "runs", out: str | Path | None = None) -> RunDir:
    """Make the sweep directory (`out`, or `<runs_dir>/<stem>-sweep-<time>`) and write sweep.yaml."""
    sweep = runs.create(f"{p.stem}-sweep", runs_dir=Path(runs_dir or "runs"), out=Path(out) if out else None)
    try:
        resolved = validate(apply_overrides(p.base, p.grid.fixed)).model_dump(mode="json")
    except ConfigError:  # the points complete the config (e.g. a key missing from the file is swept)
        resolved = None
    doc = {"config": p.config, "base": p.base, "resolved": resolved, **p.grid.to_dict(), "runs": len(p.points),
           "command": p.command, "nncli_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    _write(sweep, SWEEP_FILE, yaml.safe_dump(doc, sort_keys=False, default_flow_style=None))
    return sweep


def open_plan(path: str | Path) -> tuple[Plan, RunDir]:
    """Read a sweep directory's sweep.yaml back (the same points, names and configs as when it began)."""
    path = Path(path)
    source = path / SWEEP_FILE
    if not source.is_file():
        raise RunDirError(f"not a sweep directory: it has no {SWEEP_FILE} (sweeps are made by `nncli sweep`)",
                          where=str(path))
    doc = parse_yaml(source.read_text(encoding="utf-8"), str(source))
    if not isinstance(doc, dict) or not isinstance(doc.get("base"), dict):
        raise RunDirError(f"{SWEEP_FILE} is damaged: it has no 'base' config mapping", where=str(source))
    g = Grid.from_dict(doc)
    return Plan(doc.get("config"), doc["base"], g, expand(doc["base"], g), list(doc.get("command") or [])), RunDir(path)


def _write(sweep: RunDir, name: str, text: str) -> None:
    try:
        atomic.write_bytes(sweep.file(name), text.encode("utf-8"))
    except OSError as e:
        raise RunDirError(f"cannot write {name}: {e.strerror or e}", where=str(sweep.path)) from None


# -- results --------------------------------------------------------------------------------------
def result_row(point: Point, status: str, summary: dict[str, Any], rec: dict[str, Any],
               seconds: float | None, message: str = "", worker: str = "") -> dict[str, Any]:
    """One row of results.csv (and of the returned table), with the run's aggregation record `rec`."""
    best = rec["best"] or {}
    return {"run": point.name, **point.values, SEED: point.seed, "status": status, "epochs": rec["epochs"],
            **{k: v for k, v in rec["final"].items()}, "best_monitor": best.get("monitor"),
            "best_epoch": best.get("epoch"), "best_value": best.get("value"), "solved_at": rec["solved_at"],
            "seconds": summary.get("wall_seconds", seconds), "worker": worker,
            "message": message or summary.get("message") or "",
            "_record": rec, "_values": point.values}


def write_results(sweep: RunDir, rows: list[dict[str, Any]]) -> None:
    """results.csv, rewritten atomically: the finished runs in the sweep's order."""
    columns = list(dict.fromkeys(k for r in rows for k in r if not k.startswith("_")))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(r.get(k)) for k in columns})
    _write(sweep, RESULTS, buf.getvalue())


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return v if isinstance(v, (str, int)) else json.dumps(v)


def _existing(point: Point, sweep: RunDir) -> dict[str, Any] | None:
    """The results row of a finished run already in the sweep directory (a resume), else None."""
    path = sweep.file(point.name)
    if not (path / runs.SUMMARY).is_file():
        return None
    try:
        summary = RunDir(path).read_summary()
        rows = RunDir(path).read_metrics()[1] if summary.get("status") in FINISHED else []
    except RunDirError:
        return None
    if summary.get("status") not in FINISHED or not (path / runs.WEIGHTS).is_file():
        return None
    return result_row(point, summary["status"], summary, aggregate.record(summary, rows), None)


def _resume(point: Point, sweep: RunDir) -> dict[str, Any] | None:
    """What an interrupted run in the sweep directory needs to continue (see tasks.Task.resume): its
    checkpoint's and snapshots' arrays and its summary's resumes with this one; None when it has no
    readable checkpoint (it trains again from its start)."""
    run = RunDir(sweep.file(point.name))
    if not run.file(runs.CHECKPOINT).is_file():
        return None
    try:
        summary = run.read_summary()
        if summary.get("status") != "interrupted":
            return None
        arrays = read_npz(run.file(runs.CHECKPOINT), RunDirError)
        epoch, _, step = checkpoint.position(arrays, run.file(runs.CHECKPOINT))
        snaps = read_npz(run.file(runs.SNAPSHOTS), RunDirError) if run.file(runs.SNAPSHOTS).is_file() else None
    except RunDirError:
        return None
    return {"checkpoint": arrays, "snapshots": snaps, "history": resume_history(summary, epoch, step)}


def _commit(sweep: RunDir, rows: dict[int, dict[str, Any]]) -> None:
    """Make the run directories written so far durable (one sync), then rewrite results.csv."""
    atomic.sync_filesystem(sweep.path)
    write_results(sweep, [rows[i] for i in sorted(rows)])


@dataclass
class SweepResult:
    """What a sweep did: its directory, the results rows (finished runs, in the sweep's order), the swept
    keys, how many runs it has, and whether it was interrupted."""

    path: Path
    rows: list[dict[str, Any]]
    keys: list[str]
    total: int
    interrupted: bool = False
    kept: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "failed"]

    def groups(self, keys: list[str] | None = None) -> list[dict[str, Any]]:
        """The runs aggregated over seeds (see nncli.aggregate.group), by the swept keys by default."""
        keys = self.keys if keys is None else keys
        return aggregate.group([(r["_values"] | {SEED: r[SEED]}, r["_record"]) for r in self.rows], keys)

    def table(self) -> list[dict[str, Any]]:
        """results.csv's rows."""
        return [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.rows]


class SweepEvents:
    """What a sweep tells its caller (the CLI's progress view); override what you need."""

    def on_sweep_start(self, total: int, kept: int, workers: int) -> None:
        """Before the first run: runs in the sweep, finished runs kept from before, units at a time."""

    def on_stacks(self, notes: list[str]) -> None:
        """How the runs were grouped into stacks (stack_plan.plan's lines), before the first run."""

    def on_run_start(self, point: Point) -> None:
        """A run began on a worker (local executors only)."""

    def on_run_end(self, point: Point, row: dict[str, Any]) -> None:
        """A run ended; `row` is its results row."""


def run(p: Plan, sweep: RunDir, executor, events: SweepEvents | None = None,
        should_stop: Callable[[], bool] | None = None, stack: str = "auto",
        stack_budget_mb: float = stack_plan.BUDGET_MB) -> SweepResult:
    """Train every run of the plan not finished yet in `sweep` with `executor` (entered already), stacked
    as `stack` says (stack_plan.MODES), writing each run directory and results.csv as the results come
    back."""
    events = events or SweepEvents()
    should_stop = should_stop or (lambda: False)
    rows: dict[int, dict[str, Any]] = {}
    todo = []
    for point in p.points:
        row = _existing(point, sweep)
        if row is None:
            todo.append(point)
        else:
            rows[point.index] = row
    kept = len(rows)
    events.on_sweep_start(len(p.points), kept, executor.workers)
    local = getattr(executor, "shared_filesystem", False)  # its workers write the run directories themselves
    tasks = [Task(pt.index, pt.name, pt.config, p.train_command(pt), _resume(pt, sweep),
                  str(sweep.file(pt.name)) if local else None) for pt in todo]
    units, notes = stack_plan.plan(tasks, stack, stack_budget_mb, executor.workers)
    if notes:
        events.on_stacks(notes)
    committed, unsaved = -math.inf, False
    try:
        with contextlib.closing(executor.run(units, should_stop)) as messages:
            for message in messages:
                point = p.points[message.index]
                if isinstance(message, Started):
                    events.on_run_start(point)
                    continue
                if message.status == "skipped":
                    continue
                if message.files is not None:  # trained where the sweep directory is not: write it here
                    runs.replace(sweep.file(point.name), message.files)
                if message.summary is not None:
                    row = result_row(point, message.status, message.summary, message.record, message.seconds,
                                     message.message, message.worker)
                else:
                    row = result_row(point, message.status, {}, aggregate.record({"status": message.status}, []),
                                     message.seconds, message.message, message.worker)
                rows[point.index], unsaved = row, True
                if time.monotonic() - committed >= RESULTS_EVERY:
                    _commit(sweep, rows)
                    committed, unsaved = time.monotonic(), False
                events.on_run_end(point, row)
    finally:
        if unsaved or not sweep.file(RESULTS).is_file():
            _commit(sweep, rows)
    return SweepResult(sweep.path, [rows[i] for i in sorted(rows)], p.keys, len(p.points),
                       interrupted=should_stop(), kept=kept)


def swept_keys(path: str | Path) -> list[str] | None:
    """The swept keys of a sweep directory (from its sweep.yaml), None for any other directory."""
    source = Path(path) / SWEEP_FILE
    if not source.is_file():
        return None
    doc = parse_yaml(source.read_text(encoding="utf-8"), str(source))
    return list((doc.get("params") or {}) if isinstance(doc, dict) else {})
