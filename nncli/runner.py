"""One training run from a validated config: its data, network and trainer, the run directory's files.

`run_data(cfg)` is the one place a run's data is loaded and split: training, `nncli evaluate`,
`nncli inspect` and the shrinkage analysis all call it, so they see the same rows. `prepare(cfg)` does
everything that can fail on bad input (data, shapes, init_from, memory) before a run directory exists;
`start(...)` creates the run directory and writes its first files (initial weights.npz, config.yaml, an
empty metrics.csv, summary.json with status "running"), so a run killed at any later moment can be read
back; `execute(...)` trains, writes checkpoint.npz every `train.checkpoint_every` epochs and on interrupt,
and finally metrics.csv, weights.npz and summary.json. A run kept in memory (`runs.MemoryRun`) goes
through the same steps without touching the disk.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import checkpoint, runs, snapshots, tensorboard
from .config import FULL_BATCH, Config
from .data import datasets
from .data.splits import Split, TrainData, split_validation, targets
from .errors import ConfigError, DataError, RunDirError, argument
from .metrics import EVAL_CHUNK, metric_columns
from .model import build_network
from .nn.losses import LOSSES, Loss
from .nn.network import Network
from .nn.optimizers import OPTIMIZERS
from .nn.schedules import SCHEDULES
from .runs import MemoryRun, RunDir
from .summary import summary
from .events import Events, EventsList, Start
from .trainer import Result, State, Trainer


def rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent streams spawned from the one seeded Generator: changing the data does not change
    the initial weights, and vice versa."""
    data, init, train = np.random.default_rng(seed).spawn(3)
    return {"data": data, "init": init, "train": train}


def run_data(cfg: Config, trainable: bool = True) -> TrainData:
    """The data a run with this config trains, validates and tests on, exactly as training splits it: the
    dataset loaded with the run's data stream, target matrices for the output layer (checked against the
    loss's domain: DataError naming the file and the first bad row), the seeded (class-stratified)
    validation split, and at least 2 training samples (of 2 classes, for classification) unless not
    `trainable` (other data to evaluate on). `TrainData.dataset` describes the dataset (its X, y hold the
    training rows only, so the unsplit arrays are freed)."""
    stream = rngs(cfg.seed)["data"]
    ds = datasets.load(cfg.data, stream, cfg.dtype)
    loss = LOSSES.get(cfg.loss)()
    labels = ds.task == "classification"
    T = _targets(ds, ds.y, cfg, loss, "train")
    X, y = ds.X, ds.y
    val = None
    if cfg.train.validation_split > 0:
        tr, va = split_validation(X, y, cfg.train.validation_split, stream, stratify=labels)
        val = Split(X[va], T[va], y[va] if labels else None)
        X, y, T = X[tr], y[tr], T[tr]
        ds.X, ds.y = X, y  # hold the training set once
    train = Split(X, T, y if labels else None)
    if trainable:
        _check_trainable(ds, train)
    test = None
    if ds.X_test is not None:
        test = Split(ds.X_test, _targets(ds, ds.y_test, cfg, loss, "test"), ds.y_test if labels else None)
    return TrainData(train, val, test, dataset=ds)


def _targets(ds: datasets.Dataset, y: np.ndarray, cfg: Config, loss: Loss, part: str) -> np.ndarray:
    """The target matrix of one part of the data, refused when it lies outside the loss's domain."""
    last = len(cfg.model.layers) - 1
    T = targets(ds, y, cfg.model.layers[-1].units, cfg.dtype, f"model.layers.{last}.units")
    problem = loss.check_targets(T)
    if problem:
        raise DataError(f"{problem}; fix the targets or choose another loss", where=f"{ds.source} ({part} set)")
    return T


def _check_trainable(ds: datasets.Dataset, train: Split) -> None:
    """DataError for a training set of one sample, or a classification training set of one class:
    either trains without a word into something meaningless."""
    where = f"{ds.source} (train set)"
    if len(train) < 2:
        raise DataError(f"the training set has {len(train)} sample; training needs at least 2", where=where)
    if train.y is not None:
        present = np.unique(train.y)
        if len(present) < 2:
            name = ds.class_names[int(present[0])] if ds.class_names else str(int(present[0]))
            raise DataError(f"every training sample is of class {name!r}; a classifier needs samples of at "
                            f"least 2 classes", where=where)


def check_size(cfg: Config, n_in: int, n_train: int) -> None:
    """ConfigError when training cannot fit in this machine's memory: the weights with their gradients
    and up to two optimizer moments (4 copies), plus Z, Y and the back-propagated delta of every layer
    for the largest batch (a training batch, or EVAL_CHUNK rows when evaluating)."""
    count, fan_in = 0, n_in
    for spec in cfg.model.layers:
        count += (fan_in + 1) * spec.units
        fan_in = spec.units
    bs = cfg.train.batch_size
    rows = max(min(n_train, EVAL_CHUNK), n_train if bs == FULL_BATCH else min(int(bs), n_train))
    units = n_in + sum(spec.units for spec in cfg.model.layers)
    need = (4 * count + 3 * rows * units) * np.dtype(cfg.dtype).itemsize
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ConfigError(f"training this network ({count:,} parameters, batches of {rows:,} rows) needs about "
                          f"{need / 2 ** 30:,.1f} GiB of memory; this machine has {have / 2 ** 30:,.1f} GiB. "
                          f"Use fewer units or a smaller train.batch_size", where="model.layers")


@dataclass
class Prepared:
    """A run ready to train: its config (model.input filled in), data, network, loss and trainer."""

    cfg: Config
    data: TrainData
    net: Network
    loss: Loss
    trainer: Trainer
    warnings: list[str] = field(default_factory=list)  # said once (e.g. batch size > data)
    notes: list[str] = field(default_factory=list)  # what loading decided, said once (a CSV's header)

    @property
    def dataset(self) -> datasets.Dataset:
        return self.data.dataset


def prepare(cfg: Config, warm_start: bool = True) -> Prepared:
    """Load the data, split it, build the network and the trainer. Raises NncliError on bad input.
    `warm_start=False` skips `model.init_from` (a resumed run's weights come from its checkpoint)."""
    data = run_data(cfg)
    n_in = data.dataset.n_features
    if cfg.model.input is not None and cfg.model.input != n_in:
        raise ConfigError(f"is {cfg.model.input}, but the {data.dataset.name} data has {n_in} features per "
                          f"sample; set model.input: {n_in} or leave it out to infer it", where="model.input")
    cfg.model.input = n_in
    check_size(cfg, n_in, len(data.train))
    net = build_network(cfg, n_in, rngs(cfg.seed)["init"], warm_start=warm_start)
    if cfg.train.snapshots is None:  # recorded in config.yaml as resolved
        cfg.train.snapshots = snapshots.default_count(n_in, net.parameter_count(), cfg.train.epochs)
    loss = LOSSES.get(cfg.loss)()
    optimizer = OPTIMIZERS.get(cfg.optimizer.name)(**cfg.optimizer.options)
    sched = cfg.optimizer.schedule
    schedule = SCHEDULES.get(sched.name)(cfg.optimizer.lr, cfg.train.epochs, **sched.options)
    trainer = Trainer(net, cfg, loss, optimizer, schedule, rngs(cfg.seed)["train"])
    trainer.monitor(data)  # a config error (monitor without validation set) before any run dir exists
    if cfg.train.tensorboard:  # tensorboardX installed, log directory writable: before any run dir exists
        tensorboard.check_log_dir(Path(cfg.train.tensorboard))
    warnings = []
    bs = cfg.train.batch_size
    if isinstance(bs, int) and bs > len(data.train):
        warnings.append(f"train.batch_size={bs} is larger than the {len(data.train)} training samples: every "
                        f"step uses the full batch of {len(data.train)}")
    return Prepared(cfg, data, net, loss, trainer, warnings, list(data.dataset.notes))


def start(p: Prepared, stem: str, runs_dir: Path | None = None, out: Path | None = None,
          command: list[str] | None = None) -> RunDir:
    """Create the run directory and write its first files: weights.npz (the initial weights, first, so that
    config.yaml never exists without them), config.yaml, metrics.csv (header only) and summary.json with
    status "running". Checks that the directory is writable and has room for the run's files: if not,
    RunDirError (exit 2) before training, and the new directory is removed again."""
    run = runs.create(stem, runs_dir=runs_dir, out=out)
    try:
        need = 8 * p.net.parameter_count() * np.dtype(p.cfg.dtype).itemsize + 2 ** 20
        free = shutil.disk_usage(run.path).free
        if free < need:
            raise RunDirError(f"only {free / 2 ** 20:.1f} MiB free, but this run's weights and checkpoints need "
                              f"about {need / 2 ** 20:.1f} MiB; free some space or choose another "
                              f"{argument('runs_dir')}", where=str(run.path))
        write_first_files(p, run, command)
    except BaseException:
        run.discard()
        raise
    return run


def write_first_files(p: Prepared, run: RunDir | MemoryRun, command: list[str] | None = None) -> None:
    """Initial weights.npz, config.yaml, the header of metrics.csv and summary.json (status "running")."""
    run.write_weights(p.net.state())
    run.write_config(p.cfg.dump())
    run.write_metrics([], metric_columns(p.data))
    run.write_summary(summary(p, Result("running", State()), 0.0, command or sys.argv, final=False))


def in_memory(p: Prepared, events: Events | None = None, command: list[str] | None = None,
              should_stop: Callable[[], bool] = lambda: False, name: str = "run", state: State | None = None,
              history: list[dict[str, Any]] | None = None,
              snapshots: dict[str, np.ndarray] | None = None) -> tuple[MemoryRun, dict[str, Any]]:
    """Train without touching the disk: the run's files in a MemoryRun (`MemoryRun.save` writes them out
    later, as a sweep's client does), and the summary. `name` is what its run directory would be called.
    An interrupted run continues from `state` (`from_checkpoint`), with its summary's `history` of resumes
    and the arrays of its snapshots.npz."""
    memory = MemoryRun(name)
    if state is None:
        write_first_files(p, memory, command)
    else:
        memory.snapshots = snapshots
    return memory, execute(p, memory, events, command=command, should_stop=should_stop, state=state, history=history)


def from_checkpoint(cfg: Config, resume: dict[str, Any], name: str) -> tuple[Prepared, State]:
    """A run prepared to continue from its checkpoint's arrays (`resume["checkpoint"]`, read by a sweep's
    client from the run directory `name`): weights, optimizer state and generator loaded, and the State."""
    p = prepare(cfg, warm_start=False)
    where = f"{name}/{runs.CHECKPOINT}"
    reader = checkpoint.from_arrays(resume["checkpoint"], where, cfg, f"{name}/{runs.CONFIG}")
    state, _ = checkpoint.load(reader, p.trainer, len(p.data.train), where)
    return p, state


def execute(p: Prepared, run: RunDir | MemoryRun, events: Events | None = None,
            command: list[str] | None = None, should_stop: Callable[[], bool] = lambda: False,
            state: State | None = None, history: list[dict[str, Any]] | None = None,
            notes: list[str] | None = None) -> dict[str, Any]:
    """Train (from `state`, a resumed run's checkpoint, if given) and write the run's files.

    Every `train.checkpoint_every` epochs: checkpoint.npz, weights.npz, metrics.csv and summary.json
    (status "running"), in that order, each atomically. When `should_stop()` turns true (the CLI's signal
    handlers), the current batch finishes and checkpoint.npz is written. At the end: checkpoint.npz when
    completed with checkpoint_every (so train.epochs can be raised later), then metrics.csv, weights.npz
    and summary.json. Returns the summary; its "status" says how training ended. `history` (earlier
    resumes) is kept in summary.json under "resumed"; `notes` go to `events.on_start`. With
    train.snapshots, snapshots.npz is written before every checkpoint and at the end (a resumed run keeps
    the snapshots its directory holds up to the checkpoint's epoch)."""
    started = time.perf_counter()
    command = command or sys.argv
    events = Events.of(events)
    columns = metric_columns(p.data)
    every = p.cfg.train.checkpoint_every
    extra = {"resumed": history} if history else {}
    n = len(p.data.train)
    recorder = snapshot_recorder(p, run, events, state)
    events = recorder or events

    def progress(st: State) -> None:
        if recorder and len(recorder.record):
            run.write_snapshots(recorder.record.arrays())
        run.write_checkpoint(checkpoint.arrays(p.trainer, st, n))
        run.write_weights(p.net.state())
        run.write_metrics(st.rows, columns)
        run.write_summary({**summary(p, Result("running", st), time.perf_counter() - started, command,
                                     final=False), **extra})

    run.write_config(p.cfg.dump())  # a resume with overrides records the config it really uses
    board = live_tensorboard(p, run)
    if board is not None:
        events = EventsList(events, board)
    events.on_start(Start(run.path, p.cfg.train.epochs, (state.epoch if state else 0) + 1, p.warnings,
                          [*p.notes, *(notes or [])]))
    result: Result | None = None
    try:
        result = p.trainer.fit(p.data, events, state=state, should_stop=should_stop,
                               on_checkpoint=progress if every else None)
        write_result(p, run, result, recorder)
    except Exception as e:  # recorded as "failed" (a bug too), then raised: never a run left "running"
        _record_failure(p, run, result, state, e, started, command)
        raise
    finally:
        if board is not None:
            board.close()
    s = {**summary(p, result, time.perf_counter() - started, command), **extra}
    run.write_summary(s)
    return s


def write_result(p: Prepared, run: RunDir | MemoryRun, result: Result, recorder: snapshots.Recorder | None) -> None:
    """The files of a run that has trained, but its summary.json: snapshots.npz (with the last snapshot),
    checkpoint.npz when interrupted or completed with train.checkpoint_every (any earlier one removed
    otherwise: an early-stopped or diverged run cannot be continued), then metrics.csv and weights.npz."""
    _finish_snapshots(p, run, recorder, result)
    every = p.cfg.train.checkpoint_every
    if result.status == "interrupted" or (result.status == "completed" and every):
        run.write_checkpoint(checkpoint.arrays(p.trainer, result.state, len(p.data.train)))
    else:  # nothing to continue from: an interrupt's or a periodic checkpoint of a completed, early-stopped
        run.remove_checkpoint()  # or diverged run is stale (a stack of runs writes none along the way)
    run.write_metrics(result.state.rows, metric_columns(p.data))
    run.write_weights(p.net.state())


def _finish_snapshots(p: Prepared, run: RunDir | MemoryRun, recorder: snapshots.Recorder | None,
                      result: Result) -> None:
    """The last snapshot (the restored best weights after early stopping) and snapshots.npz."""
    if recorder:
        es = p.cfg.train.early_stopping
        recorder.finish(result, es is not None and es.restore_best and result.state.best_weights is not None)
        if len(recorder.record):
            run.write_snapshots(recorder.record.arrays())


def live_tensorboard(p: Prepared, run: RunDir | MemoryRun) -> tensorboard.LiveEvents | None:
    """The TensorBoard writer of a run with `train.tensorboard` set (events in <dir>/<run name>/), else None."""
    tc = p.cfg.train
    if not tc.tensorboard:
        return None
    name = run.path.name if run.path is not None else run.name
    return tensorboard.LiveEvents(Path(tc.tensorboard) / name, p.net, tc.tensorboard_histograms)


def snapshot_recorder(p: Prepared, run: RunDir | MemoryRun, events: Events,
                      state: State | None) -> snapshots.Recorder | None:
    """The snapshot recorder of a run with train.snapshots (None without). A new run's record starts with
    epoch 0; a resumed run's (`state` from its checkpoint) with the snapshots its directory holds up to the
    checkpoint's epoch, so that the file ends as that of an uninterrupted run."""
    k = p.cfg.train.snapshots
    if not k:
        return None
    record = None
    if state is not None:
        try:
            if run.path is not None:
                record = snapshots.read(run.file(runs.SNAPSHOTS), p.net)
            elif run.snapshots is not None:  # a sweep's run continued in memory
                record = snapshots.from_arrays(run.snapshots, p.net, f"{run.name}/{runs.SNAPSHOTS}")
        except RunDirError as e:
            raise RunDirError(f"{e}; delete it to resume without the snapshots taken so far") from None
        record = record.until(state.epoch) if record is not None else None
    recorder = snapshots.Recorder(p.net, snapshots.schedule(k, p.cfg.train.epochs), events, record)
    if state is None:
        recorder.record.take(0, p.net)
    return recorder


def _record_failure(p: Prepared, run: RunDir | MemoryRun, result: Result | None, state: State | None,
                    error: Exception, started: float, command: list[str]) -> None:
    """Best effort: summary.json with status "failed" and the error (the disk may be full, too)."""
    st = result.state if result is not None else (state or State())
    try:
        run.write_summary(summary(p, Result("failed", st, str(error) or type(error).__name__),
                                  time.perf_counter() - started, command, final=False))
    except Exception:
        pass
