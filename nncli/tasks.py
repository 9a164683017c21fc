"""What a sweep hands its executors and what comes back: a `Task` is one run to train, a `Stack` several
runs trained together in one process (nncli/stacking.py); an executor yields `Started` when a run begins
and its `Outcome` when it ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .runs import MemoryRun


@dataclass
class Task:
    """One run to train: its place in the sweep, directory name, resolved config (seed included) and the
    `nncli train` command line that makes the same run (recorded in its summary.json). `resume`: what an
    interrupted run of a stack needs to continue (its checkpoint's and snapshots' arrays, and the
    "resumed" history of its summary.json), or None to train from the start."""

    index: int
    name: str
    config: dict[str, Any]
    command: list[str]
    resume: dict[str, Any] | None = None


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
    "failed" (an error: `message`, no `memory`), or "skipped" (stopped before it began). `memory` holds
    the run's summary and metrics rows, `files` its run directory's files rendered as bytes (by the
    worker, so the client only writes them)."""

    index: int
    status: str
    memory: MemoryRun | None
    message: str = ""
    seconds: float = 0.0
    worker: str = ""
    files: dict[str, bytes] | None = None


def members(unit: Task | Stack) -> list[Task]:
    """The runs of a unit of work: the task itself, or a stack's tasks."""
    return unit.tasks if isinstance(unit, Stack) else [unit]


def failed(unit: Task | Stack, message: str, worker: str = "", seconds: float = 0.0) -> list[Outcome]:
    """Every run of `unit` failed with `message` (a worker lost, an error before training)."""
    return [Outcome(t.index, "failed", None, message, seconds, worker) for t in members(unit)]


