"""What a sweep hands its executors and what comes back: a `Task` is one run to train, a `Stack` several
runs trained together in one process (nncli/stacking.py); an executor yields `Started` when a run begins
and its `Outcome` when it ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import aggregate, runs
from .runs import MemoryRun


@dataclass
class Task:
    """One run to train: its place in the sweep, directory name, resolved config (seed included) and the
    `nncli train` command line that makes the same run (recorded in its summary.json). `resume`: what an
    interrupted run needs to continue (its checkpoint's and snapshots' arrays, and the "resumed" history
    of its summary.json), or None to train from the start."""

    index: int
    name: str
    config: dict[str, Any]
    command: list[str]
    resume: dict[str, Any] | None = None
    out: str | None = None  # the run directory to write, when the worker shares the client's filesystem


@dataclass
class Stack:
    """Runs that train together as one stack, in one process; `label` says what they share, for people."""

    tasks: list[Task]
    label: str = ""

    @property
    def index(self) -> int:
        return self.tasks[0].index


@dataclass
class Started:
    index: int
    worker: str


@dataclass
class Outcome:
    """How a run ended: `status` from its summary (completed, early_stopped, diverged, interrupted), or
    "failed" (an error: `message`), or "skipped" (stopped before it began). A run that trained has its
    `summary` (as summary.json holds it) and its aggregation `record` (aggregate.record); its files are
    in its task's `out` directory (written by the worker), or in `files` as bytes for the client to
    write (a worker on another machine)."""

    index: int
    status: str
    summary: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    message: str = ""
    seconds: float = 0.0
    worker: str = ""
    files: dict[str, bytes] | None = None


def trained(task: Task, memory: MemoryRun, seconds: float, worker: str) -> Outcome:
    """The Outcome of a run trained in memory: its files written into `task.out` (where the worker shares
    the client's filesystem; no fsync, the client syncs them together), or carried back as bytes."""
    files = memory.files()
    if task.out is not None:
        runs.replace(Path(task.out), files)
        files = None
    s = memory.summary
    return Outcome(task.index, s["status"], s, aggregate.record(s, memory.rows), s.get("message") or "", seconds,
                   worker, files)


def members(unit: Task | Stack) -> list[Task]:
    """The runs of a unit of work: the task itself, or a stack's tasks."""
    return unit.tasks if isinstance(unit, Stack) else [unit]


def failed(unit: Task | Stack, message: str, worker: str = "", seconds: float = 0.0) -> list[Outcome]:
    """Every run of `unit` failed with `message` (a worker lost, an error before training)."""
    return [Outcome(t.index, "failed", message=message, seconds=seconds, worker=worker) for t in members(unit)]
