"""A stack of a sweep's runs trained in one process (`nncli sweep --stack`): each member is prepared as
`nncli train` prepares it (one that cannot be is a failed run, the others go on), the members train
together (nncli/stacking.py), and each gets the files of its own run directory, written in memory as
`runner.in_memory` writes them: config.yaml, snapshots.npz, checkpoint.npz (interrupted, or with
train.checkpoint_every), metrics.csv, weights.npz and summary.json. A member's `seconds` and
`train_seconds` are its share of the stack's time (the stack's time over the members training in it).
"""

from __future__ import annotations

import time
from typing import Callable

from . import runs, snapshots
from .config import validate
from .errors import NncliError
from .events import Events
from .runner import Prepared, from_checkpoint, prepare, write_result
from .runs import MemoryRun
from .stacking import StackTrainer
from .summary import summary
from .tasks import Outcome, Stack, Task, failed, trained
from .trainer import State


class _Member:
    """A prepared member: its task, run, training state to continue from (None: from the start), its
    snapshot record so far and its summary's "resumed" history."""

    def __init__(self, task: Task):
        self.task = task
        cfg = validate(task.config)
        resume = task.resume
        self.state: State | None = None
        self.history: list | None = None
        record = None
        if resume is None:
            self.p: Prepared = prepare(cfg)
        else:
            self.p, self.state = from_checkpoint(cfg, resume, task.name)
            self.history = resume.get("history")
            if resume.get("snapshots") is not None:
                record = snapshots.from_arrays(resume["snapshots"], self.p.net, f"{task.name}/{runs.SNAPSHOTS}")
                record = record.until(self.state.epoch)
        k = cfg.train.snapshots
        self.recorder = None
        if k:
            self.recorder = snapshots.Recorder(self.p.net, snapshots.schedule(k, cfg.train.epochs), Events(), record)
            if self.state is None:
                self.recorder.record.take(0, self.p.net)


def execute_stack(stack: Stack, should_stop: Callable[[], bool] | None = None, worker: str = "") -> list[Outcome]:
    """Train a stack's runs together in memory; each run's Outcome, in the stack's order."""
    started = time.perf_counter()
    outcomes: dict[int, Outcome] = {}
    members: list[_Member] = []
    for task in stack.tasks:
        try:
            members.append(_Member(task))
        except NncliError as e:
            outcomes[task.index] = failed(task, e.text(), worker)[0]
        except MemoryError:
            outcomes[task.index] = failed(task, "out of memory", worker)[0]
    if members:
        try:
            outcomes.update(_train(members, should_stop or (lambda: False), worker, started))
        except MemoryError:
            return failed(stack, "out of memory while training the stack", worker)
        except Exception as e:  # a bug: reported with each run of the stack, the other stacks go on
            return failed(stack, f"internal error ({type(e).__name__}: {e})", worker)
    return [outcomes[t.index] for t in stack.tasks]


def _train(members: list[_Member], should_stop: Callable[[], bool], worker: str, started: float) -> dict[int, Outcome]:
    first = members[0].p.cfg
    due = snapshots.schedule(first.train.snapshots, first.train.epochs) if first.train.snapshots else []
    trainer = StackTrainer([m.p for m in members], [m.state for m in members], due)
    results = trainer.fit(should_stop)
    share = (time.perf_counter() - started) / len(members)
    out = {}
    for k, (m, result) in enumerate(zip(members, results)):
        if m.recorder is not None:
            for epoch, params in trainer.member_snapshots(k):
                m.recorder.record.take(epoch, _Params(m.p.net.parameter_names(), params))
        memory = MemoryRun(m.task.name)
        memory.write_config(m.p.cfg.dump())
        write_result(m.p, memory, result, m.recorder)
        s = summary(m.p, result, share, m.task.command)
        if m.history is not None:
            s["resumed"] = m.history
        memory.write_summary(s)
        try:
            out[m.task.index] = trained(m.task, memory, share, worker)
        except NncliError as e:  # its run directory could not be written (a full disk)
            out[m.task.index] = failed(m.task, e.text(), worker, share)[0]
    return out


class _Params:
    """What `snapshots.Record.take` reads of a network: its parameters (here a member's, from the stack)."""

    def __init__(self, names: list[str], params):
        self.names, self.params = names, params

    def parameters(self):
        return self.params
