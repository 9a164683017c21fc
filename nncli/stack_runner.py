"""A stack of a sweep's runs trained in one process (`nncli sweep --stack`): each member is prepared as
`nncli train` prepares it (one that cannot be is a failed run, the others go on), members whose data have
the same sizes train together (nncli/stacking.py; a seeded subset or split can give others other sizes),
and each gets the files of its own run directory, written in memory as `runner.in_memory` writes them:
config.yaml, snapshots.npz, checkpoint.npz (interrupted, or completed with train.checkpoint_every),
metrics.csv, weights.npz and summary.json. A member's `seconds` and `train_seconds` are its share of the
stack's time (the stack's time over the members training in it).
"""

from __future__ import annotations

import time
from typing import Callable

from .config import validate
from .errors import NncliError
from .events import Events
from .runner import Prepared, from_checkpoint, prepare, snapshot_recorder, write_result
from .runs import MemoryRun
from .stacking import StackTrainer
from .summary import summary
from .tasks import Outcome, Stack, Task, failed, trained
from .trainer import State


class _Member:
    """A prepared member: its task, its run in memory, the training state it continues from (None: from
    the start), its snapshot recorder and its summary's "resumed" history."""

    def __init__(self, task: Task):
        self.task = task
        cfg = validate(task.config)
        resume = task.resume
        self.memory = MemoryRun(task.name)
        self.state: State | None = None
        self.history: list | None = None
        if resume is None:
            self.p: Prepared = prepare(cfg)
        else:
            self.p, self.state = from_checkpoint(cfg, resume, task.name)
            self.history = resume.get("history")
            self.memory.snapshots = resume.get("snapshots")
        self.recorder = snapshot_recorder(self.p, self.memory, Events(), self.state)

    @property
    def sizes(self) -> tuple[int, ...]:
        """The sizes of its training, validation and test sets: members of one stack share them."""
        return tuple(len(s) if s is not None else -1 for s in (self.p.data.train, self.p.data.val, self.p.data.test))


def execute_stack(stack: Stack, should_stop: Callable[[], bool] | None = None, worker: str = "") -> list[Outcome]:
    """Train a stack's runs together in memory; each run's Outcome, in the stack's order."""
    started = time.perf_counter()
    outcomes: dict[int, Outcome] = {}
    groups: dict[tuple[int, ...], list[_Member]] = {}
    for task in stack.tasks:
        try:
            member = _Member(task)
        except NncliError as e:
            outcomes[task.index] = failed(task, e.text(), worker)[0]
        except MemoryError:
            outcomes[task.index] = failed(task, "out of memory", worker)[0]
        else:
            groups.setdefault(member.sizes, []).append(member)
    for members in groups.values():
        try:
            _train(members, should_stop or (lambda: False), worker, started, outcomes)
        except MemoryError:
            message = "out of memory while training the stack"
        except Exception as e:  # a bug: reported with each run of the stack not written yet, the others go on
            message = f"internal error ({type(e).__name__}: {e})"
        else:
            continue
        for m in members:
            outcomes.setdefault(m.task.index, failed(m.task, message, worker)[0])
    return [outcomes[t.index] for t in stack.tasks]


def _train(members: list[_Member], should_stop: Callable[[], bool], worker: str, started: float,
           outcomes: dict[int, Outcome]) -> None:
    """Train members of the same sizes as one stack, and put each one's Outcome into `outcomes`."""
    due = sorted(members[0].recorder.due) if members[0].recorder is not None else []
    trainer = StackTrainer([m.p for m in members], [m.state for m in members], due)
    results = trainer.fit(should_stop)
    share = (time.perf_counter() - started) / len(members)
    for k, (m, result) in enumerate(zip(members, results)):
        if m.recorder is not None:
            for epoch, params in trainer.member_snapshots(k):
                m.recorder.record.take(epoch, _Params(params))
        m.memory.write_config(m.p.cfg.dump())
        write_result(m.p, m.memory, result, m.recorder)
        s = summary(m.p, result, share, m.task.command)
        if m.history is not None:
            s["resumed"] = m.history
        m.memory.write_summary(s)
        try:
            outcomes[m.task.index] = trained(m.task, m.memory, share, worker)
        except NncliError as e:  # its run directory could not be written (a full disk)
            outcomes[m.task.index] = failed(m.task, e.text(), worker, share)[0]


class _Params:
    """What `snapshots.Record.take` reads of a network: its parameters (here a member's, from the stack)."""

    def __init__(self, params):
        self.params = params

    def parameters(self):
        return self.params
