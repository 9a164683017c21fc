"""The training loop. It never prints: it calls `events` (batch end, epoch end) that the CLI renders.

One epoch: a seeded permutation of the training rows (unless full batch), batches gathered into one reused
buffer, optional Gaussian input noise, back-propagation, an optimizer step, all in arrays allocated once per
fit (nothing is allocated per batch). At the end of the epoch the validation metrics are computed (the test
metrics at the end, or every train.test_every epochs), divergence and early stopping are checked.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .config import FULL_BATCH, Config
from .errors import ConfigError
from .nn.losses import Loss
from .nn.network import Network
from .nn.optimizers import Optimizer
from .nn.schedules import Schedule
from .data.splits import Split, TrainData
from .events import Events
from .metrics import EVAL_CHUNK, accuracy_count, evaluate, higher_is_better
from .nn.noise import GaussianNoise

@dataclass
class State:
    """Everything needed to continue training exactly where it stopped (what a checkpoint holds)."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    batch: int = 0  # batches done in the current, unfinished epoch
    perm: np.ndarray | None = None  # the current epoch's order of rows
    loss_sum: float = 0.0  # sum over the current epoch's batches of loss * batch size
    correct: int = 0  # correctly classified training samples so far this epoch
    seen: int = 0  # training samples seen so far this epoch
    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None  # {"epoch", "monitor", "value"}
    best_weights: list[np.ndarray] | None = None
    bad_epochs: int = 0  # epochs without improvement, for early stopping
    seconds: float = 0.0  # training time so far


@dataclass
class Result:
    status: str  # completed | early_stopped | diverged | interrupted
    state: State
    message: str = ""
    diverged_at: dict[str, int] | None = None


def all_finite(arrays: list[np.ndarray]) -> bool:
    """No NaN or infinity in any array. One sum per array (NaN and inf propagate through it) is much
    cheaper than np.isfinite(a).all(); a sum overflowing means weights near 1e308 (float64) or 1e38
    (float32), which is divergence too."""
    return all(math.isfinite(a.sum()) for a in arrays)


def members_finite(arrays: list[np.ndarray]) -> np.ndarray:
    """For a stack of networks (arrays (K, ...)): which members have every array finite, as all_finite
    decides for one network (each array's sum). Usually answered for all members at once: when no value
    is NaN or infinite and the largest magnitude times a member's count of values stays below the largest
    float, no member's sum can overflow."""
    if all(_surely_finite(a) for a in arrays):
        return np.ones(len(arrays[0]), bool)
    ok = np.ones(len(arrays[0]), bool)
    for a in arrays:
        ok &= np.isfinite(a.reshape(len(a), -1).sum(axis=1))
    return ok


def _surely_finite(a: np.ndarray) -> bool:
    lo, hi = float(a.min()), float(a.max())
    return math.isfinite(lo) and math.isfinite(hi) and max(-lo, hi) * (a.size // len(a)) < np.finfo(a.dtype).max


def batch_rows(cfg: Config, n: int) -> int:
    """Rows of a training batch for `n` training samples: train.batch_size, at most n (full: n)."""
    bs = cfg.train.batch_size
    return n if bs == FULL_BATCH else min(int(bs), n)


def early_stop_message(monitor: str, patience: int, best: dict[str, Any] | None) -> str:
    """What a run that early stopping ended says."""
    return f"no improvement of {monitor} for {patience} epochs; best epoch {best['epoch'] if best else 'none'}"


def divergence_message(epoch: int, step: int, what: str, lr: float) -> str:
    """What a run that diverged says, with what to try instead."""
    return (f"training diverged at epoch {epoch}, step {step}: {what}. Try a smaller learning rate "
            f"(optimizer.lr={lr:g} -> {lr / 10:g}), a smaller init scale, or gradient-friendlier settings "
            f"(weight_decay, batch_size)")


class Trainer:
    """Trains `net` in place with the config's loss, optimizer, schedule and train settings."""

    def __init__(self, net: Network, cfg: Config, loss: Loss, optimizer: Optimizer, schedule: Schedule,
                 rng: np.random.Generator):
        self.net = net
        self.cfg = cfg
        self.loss = loss
        self.optimizer = optimizer
        self.schedule = schedule
        self.rng = rng
        self.dtype = np.dtype(cfg.dtype)

    def batch_size(self, n: int) -> int:
        return batch_rows(self.cfg, n)

    def monitor(self, data: TrainData) -> str:
        es = self.cfg.train.early_stopping
        if es is not None:
            where = "train.early_stopping.monitor"
            if es.monitor.startswith("val_") and data.val is None:
                raise ConfigError(f"early stopping monitors {es.monitor}, which needs a validation set: set "
                                  f"train.validation_split (for example 0.1)", where=where)
            if es.monitor.startswith("test_") and data.test is None:
                raise ConfigError(f"early stopping monitors {es.monitor}, but the data has no test set; monitor "
                                  f"val_loss (with train.validation_split) or loss", where=where)
            if es.monitor.endswith("accuracy") and data.train.y is None:
                raise ConfigError(f"early stopping monitors {es.monitor}, but a regression has no accuracy; "
                                  f"monitor a loss", where=where)
            return es.monitor
        return "val_loss" if data.val is not None else "loss"

    def fit(self, data: TrainData, events: Events | None = None, state: State | None = None,
            should_stop: Callable[[], bool] = lambda: False,
            on_checkpoint: Callable[[State], None] | None = None) -> Result:
        """Train until cfg.train.epochs, early stopping, divergence or `should_stop()` (checked after
        every batch). `state` continues an earlier, interrupted fit exactly.

        Divergence is detected explicitly (a non-finite loss or gradient before each step, a non-finite
        weight after each epoch), so numpy's overflow/invalid-value warnings are silenced while training."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._fit(data, events, state, should_stop, on_checkpoint)

    def _fit(self, data: TrainData, events: Events | None, state: State | None,
             should_stop: Callable[[], bool], on_checkpoint: Callable[[State], None] | None) -> Result:
        """The epoch loop; the batches are `_epoch`'s, the end-of-epoch row `_epoch_row`'s."""
        events = Events.of(events)
        state = state or State()
        tc = self.cfg.train
        monitor = self.monitor(data)
        loop = _Loop(self, data)
        es = tc.early_stopping
        if es is not None and state.bad_epochs >= es.patience:  # a checkpoint written as it stopped
            return self._stopped_early(state, monitor)
        if should_stop() and state.epoch < tc.epochs:
            return Result("interrupted", state)
        while state.epoch < tc.epochs:
            epoch = state.epoch + 1
            lr = self.schedule.lr(epoch)
            started = time.perf_counter()
            if state.batch == 0:
                state.perm = self.rng.permutation(loop.n) if (tc.shuffle and not loop.full) else None
                state.loss_sum, state.correct, state.seen = 0.0, 0, 0
            for kept, p in zip(loop.snapshot, loop.params):
                np.copyto(kept, p)
            failed = self._epoch(loop, state, epoch, lr, events, should_stop)
            if failed is not None:
                return failed
            if state.batch < loop.batches:  # stopped inside the epoch
                state.seconds += time.perf_counter() - started
                return Result("interrupted", state)
            if not all_finite(loop.params):
                return self._diverged(state, loop.snapshot, epoch, "a weight became NaN or infinite",
                                      step=state.step)
            state.seconds += time.perf_counter() - started
            row, stop = self._epoch_row(state, epoch, lr, data, monitor, loop)
            state.rows.append(row)
            state.epoch, state.batch = epoch, 0
            events.on_epoch(row)
            if on_checkpoint is not None and tc.checkpoint_every and epoch % tc.checkpoint_every == 0:
                on_checkpoint(state)
            if stop:
                return self._stopped_early(state, monitor)
            if should_stop() and state.epoch < tc.epochs:
                return Result("interrupted", state)
        return Result("completed", state)

    def _epoch(self, loop: "_Loop", state: State, epoch: int, lr: float, events: Events,
               should_stop: Callable[[], bool]) -> Result | None:
        """The batches of one epoch from state.batch on: back-propagation, divergence check, optimizer
        step. Returns a Result if training diverged; stops early (state.batch < batches) if asked to."""
        wd = self.cfg.weight_decay
        while state.batch < loop.batches:
            Xb, Tb, yb = loop.batch(state)
            value, grads, Y = self.net.backprop(Xb, Tb, self.loss, wd, work=loop.work)
            if not math.isfinite(value):
                return self._diverged(state, loop.snapshot, epoch, f"the loss became {value}")
            # A NaN or inf in any layer's Delta reaches every lower layer's Delta, and so the bias
            # gradients (column sums of Delta): checking those is cheap. A weight that overflows on
            # its own is caught after the epoch, going back to the weights at its start.
            if not all_finite(grads[1::2]):
                return self._diverged(state, loop.snapshot, epoch, "a gradient became NaN or infinite")
            self.optimizer.step(loop.params, grads, lr)
            m = len(Xb)
            state.step += 1
            state.batch += 1
            state.loss_sum += float(value) * m  # a Python float: exact in a checkpoint's JSON
            state.seen += m
            if yb is not None:
                state.correct += accuracy_count(Y, yb)
            events.on_batch(epoch, state.batch, loop.batches)
            if should_stop() and state.batch < loop.batches:
                return None
        return None

    def _stopped_early(self, state: State, monitor: str) -> Result:
        es = self.cfg.train.early_stopping
        if es.restore_best and state.best_weights is not None:
            for p, b in zip(self.net.parameters(), state.best_weights):
                p[...] = b
        return Result("early_stopped", state, early_stop_message(monitor, es.patience, state.best))

    def _epoch_row(self, state: State, epoch: int, lr: float, data: TrainData, monitor: str,
                   loop: "_Loop") -> tuple[dict[str, Any], bool]:
        """The epoch's metrics row, and whether early stopping ends training now (which also tracks the
        best epoch). The validation set is evaluated every epoch; the test set in the last epoch (the
        planned last, or the one early stopping ends), every train.test_every epochs, and every epoch
        when early stopping monitors a test metric."""
        row: dict[str, Any] = {"epoch": epoch, "step": state.step, "loss": float(state.loss_sum / state.seen)}
        if data.train.y is not None:
            row["accuracy"] = state.correct / state.seen
        loop.evaluate_into(row, "val", data.val)
        every = self.cfg.train.test_every
        if epoch >= self.cfg.train.epochs or monitor.startswith("test_") or (every and epoch % every == 0):
            loop.evaluate_into(row, "test", data.test)
        stop = self._early_stopping(state, row, monitor)
        if stop:
            loop.evaluate_into(row, "test", data.test)
        row["lr"] = float(lr)
        row["seconds"] = round(state.seconds, 6)
        return row, stop

    def _early_stopping(self, state: State, row: dict[str, Any], monitor: str) -> bool:
        """Track the best epoch (always) and say whether early stopping should end training now."""
        value = row.get(monitor)
        es = self.cfg.train.early_stopping
        if value is None or not math.isfinite(value):
            return False
        min_delta = es.min_delta if es else 0.0
        better = state.best is None or (
            value < state.best["value"] - min_delta if not higher_is_better(monitor)
            else value > state.best["value"] + min_delta)
        if better:
            state.best = {"epoch": row["epoch"], "monitor": monitor, "value": value}
            state.bad_epochs = 0
            if es is not None and es.restore_best:
                state.best_weights = [p.copy() for p in self.net.parameters()]
            return False
        state.bad_epochs += 1
        return es is not None and state.bad_epochs >= es.patience

    def _diverged(self, state: State, snapshot: list[np.ndarray], epoch: int, what: str,
                  step: int | None = None) -> Result:
        """Stop at once; keep the last finite weights (from the start of this epoch if needed).
        `step` is the step found at fault (default: the one about to be taken)."""
        step = state.step + 1 if step is None else step
        params = self.net.parameters()
        if not all_finite(params):
            for p, s in zip(params, snapshot):
                p[...] = s
        message = divergence_message(epoch, step, what, self.cfg.optimizer.lr)
        return Result("diverged", state, message, {"epoch": epoch, "step": step})


class _Loop:
    """What one fit reuses for every batch and epoch: the training arrays, the batch arrays the rows are
    gathered into (and noise added to), the network's workspaces for training and evaluation, and the
    copy of the weights at the start of the epoch (for divergence)."""

    def __init__(self, trainer: Trainer, data: TrainData):
        tc = trainer.cfg.train
        self.X, self.T, self.y = data.train.X, data.train.T, data.train.y
        self.n = len(self.X)
        self.bs = trainer.batch_size(self.n)
        self.batches = math.ceil(self.n / self.bs)
        self.full = self.bs == self.n
        self.net = trainer.net
        self.params = trainer.net.parameters()
        self.snapshot = [np.empty_like(p) for p in self.params]
        self.work = trainer.net.workspace(self.bs)
        self.eval_work = None
        self.eval_rows = min(EVAL_CHUNK, max(len(data.val or ()), len(data.test or ())))
        self.noise = (GaussianNoise(tc.input_noise, trainer.rng, self.bs, self.X.shape[1], self.X.dtype)
                      if tc.input_noise else None)
        self.Xbuf = np.empty((self.bs, self.X.shape[1]), dtype=self.X.dtype)
        self.Tbuf = np.empty((self.bs, self.T.shape[1]), dtype=self.T.dtype)
        self.ybuf = np.empty(self.bs, dtype=self.y.dtype) if self.y is not None else None
        self.loss = trainer.loss

    def batch(self, state: State) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The rows of batch `state.batch` of the epoch (in state.perm's order): X (with fresh noise, on a
        copy), T and the labels y. Contiguous rows without noise are views, nothing is copied."""
        X, T, y = self.X, self.T, self.y
        lo = state.batch * self.bs
        hi = min(lo + self.bs, self.n)
        m = hi - lo
        if state.perm is None and self.noise is None:
            return X[lo:hi], T[lo:hi], (y[lo:hi] if y is not None else None)
        Xb, Tb = self.Xbuf[:m], self.Tbuf[:m]
        yb = self.ybuf[:m] if y is not None else None
        if state.perm is None:
            np.copyto(Xb, X[lo:hi])
            np.copyto(Tb, T[lo:hi])
            if yb is not None:
                np.copyto(yb, y[lo:hi])
        else:
            idx = state.perm[lo:hi]
            # mode="clip": the indices are valid, and the default mode="raise" buffers `out`,
            # which makes the gather about 3x slower
            np.take(X, idx, axis=0, out=Xb, mode="clip")
            np.take(T, idx, axis=0, out=Tb, mode="clip")
            if yb is not None:
                np.take(y, idx, out=yb, mode="clip")
        if self.noise is not None:
            # fresh Gaussian input noise for every batch (acts like weight decay sigma^2)
            self.noise.add_to(Xb)
        return Xb, Tb, yb

    def evaluate_into(self, row: dict[str, Any], name: str, split: Split | None) -> None:
        """Add `<name>_loss` (and `<name>_accuracy`) of the current weights on `split` to `row`."""
        if split is None or f"{name}_loss" in row:
            return
        if self.eval_work is None:
            self.eval_work = self.net.workspace(self.eval_rows)
        for k, v in evaluate(self.net, split, self.loss, work=self.eval_work).items():
            row[f"{name}_{k}"] = float(v)
