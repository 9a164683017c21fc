"""Training a stack of networks together: K prepared runs of the same shapes (`nncli sweep --stack`)
trained as one computation, each member's parameters along a leading stack axis.

Each member does exactly what its own `Trainer.fit` would do, in the same order of arithmetic: its own
initial weights, learning rate (schedule), optimizer options, weight decay, row order for mini-batches
and input noise (both drawn from its own generator), divergence check, best epoch and early stopping.
The stack's matrix products call the same BLAS routine on each member's matrices as a single network's,
so a member's weights and metrics are bit for bit those of `nncli train` with the same config (with the
same BLAS thread count). A member that diverges or stops early leaves the stack at that moment with its
own result, and the others go on.

`StackTrainer(members, states).fit(should_stop)` returns each member's `trainer.Result` and leaves each
member's own network, optimizer and generator as its own training would have (so the runner writes its
files, checkpoint included, as for any run). Metrics rows are kept as columns (`history.Columns`).
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from .history import StackHistory
from .metrics import EVAL_CHUNK, accuracy_count, higher_is_better
from .nn.hyper import MemberValues, ScheduleRates
from .nn.network import Dense, Network
from .runner import Prepared
from .stack_data import Batches, split_of
from .trainer import Result, State, divergence_message, early_stop_message, members_finite


class StackTrainer:
    """Trains `members` (runner.Prepared of networks with the same layer sizes, activations, loss, dtype,
    data shapes and train settings) together. `states`: each member's checkpoint State to continue from
    (all at the same position), or None."""

    def __init__(self, members: list[Prepared], states: list[State | None] | None = None,
                 snapshot_epochs: list[int] = ()):
        self.members = members
        self.due = set(snapshot_epochs)
        self.snapshots: list[tuple[int, np.ndarray, list[np.ndarray]]] = []  # (epoch, ids, parameters)
        self.first = members[0]
        self.cfg = self.first.cfg
        self.loss = self.first.loss
        states = states or [None] * len(members)
        self.states = [s or State() for s in states]
        self.ids = np.arange(len(members))  # the members still training, by their place in `members`
        self.results: list[Result | None] = [None] * len(members)
        layers = self.first.net.layers
        self.net = Network([Dense(np.stack([m.net.layers[l].W for m in members]),
                                  np.stack([m.net.layers[l].b for m in members])[:, None, :], layer.activation)
                            for l, layer in enumerate(layers)])
        self.optimizer = type(self.first.trainer.optimizer).stacked([m.cfg.optimizer.options for m in members])
        self._load_optimizer_state()
        self.lrs = ScheduleRates([m.trainer.schedule for m in members])
        self.decay = MemberValues([m.cfg.weight_decay for m in members])
        self.train = split_of(members, "train")
        self.val, self.test = split_of(members, "val"), split_of(members, "test")
        n = len(self.train)
        self.bs = self.first.trainer.batch_size(n)
        self.batches = math.ceil(n / self.bs)
        self.full = self.bs == n
        self.loader = Batches(self.train, self.bs, [m.cfg.train.input_noise for m in members],
                              [m.trainer.rng for m in members])
        self.monitor = self.first.trainer.monitor(self.first.data)
        self.history = StackHistory(len(members), self.cfg.train.epochs, self.first.data, self.states)
        self._sums_from_states()
        # evaluation in chunks of as many rows as Trainer's (metrics.evaluate steps by the workspace's rows)
        self.eval_rows = min(EVAL_CHUNK, max(len(self.val or ()), len(self.test or ())))
        self.work = self.net.workspace(self.bs)  # the training batches' arrays
        self.eval_work = None  # made on first use
        self.snapshot = [np.empty_like(p) for p in self.net.parameters()]  # the weights at the epoch's start

    # -- set-up -----------------------------------------------------------------------------------
    def _load_optimizer_state(self) -> None:
        """A resumed stack's optimizer: the members' step count and moments. A member without a slot the
        stack keeps (SGD without momentum, where others have it) gets zeros, as the slot starts."""
        opts = [m.trainer.optimizer for m in self.members]
        self.optimizer.t = opts[0].t
        params = self.net.parameters()
        for key in dict.fromkeys(k for o in opts for k in o.slots):
            self.optimizer.slots[key] = [
                np.stack([o.slots[key][i] if key in o.slots else np.zeros_like(mine)
                          for o, mine in zip(opts, (m.net.parameters()[i] for m in self.members))]).reshape(p.shape)
                for i, p in enumerate(params)]

    def _sums_from_states(self) -> None:
        st = self.states
        self.epoch, self.step, self.batch = st[0].epoch, st[0].step, st[0].batch
        self.perms = np.stack([s.perm for s in st]) if st[0].perm is not None else None
        self.loss_sum = np.array([s.loss_sum for s in st], dtype=np.float64)
        self.correct = np.array([s.correct for s in st], dtype=np.int64)
        self.seen = np.array([s.seen for s in st], dtype=np.int64)
        self.seconds = np.array([s.seconds for s in st], dtype=np.float64)
        self.bad = np.array([s.bad_epochs for s in st], dtype=np.int64)
        self.best_value = np.array([s.best["value"] if s.best else np.nan for s in st], dtype=np.float64)
        self.best_epoch = np.array([s.best["epoch"] if s.best else -1 for s in st], dtype=np.int64)
        es = self.cfg.train.early_stopping
        self.best_weights = None
        if es is not None and es.restore_best:
            self.best_weights = [p.copy() for p in self.net.parameters()]
            for k, s in enumerate(st):
                if s.best_weights is not None:
                    for b, w in zip(self.best_weights, s.best_weights):
                        b[k] = w.reshape(b[k].shape)

    # -- training ---------------------------------------------------------------------------------
    def fit(self, should_stop: Callable[[], bool] = lambda: False) -> list[Result]:
        """Train every member until its end (epochs, early stopping, divergence) or `should_stop()`
        (asked after every batch: every member still training ends "interrupted", at the same batch)."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            self._fit(should_stop)
        return self.results

    def _fit(self, should_stop: Callable[[], bool]) -> None:
        tc = self.cfg.train
        es = tc.early_stopping
        if es is not None:  # checkpoints written as early stopping ended them
            self._stop_early(self.bad >= es.patience)
        if len(self.ids) and should_stop() and self.epoch < tc.epochs:
            return self._interrupt()
        while len(self.ids) and self.epoch < tc.epochs:
            epoch = self.epoch + 1
            started = time.perf_counter()
            if self.batch == 0:
                self.perms = (np.stack([self.members[i].trainer.rng.permutation(len(self.train)) for i in self.ids])
                              if tc.shuffle and not self.full else None)
                self.loss_sum[:], self.correct[:], self.seen[:] = 0.0, 0, 0
            for kept, p in zip(self.snapshot, self.net.parameters()):
                np.copyto(kept, p)
            self._epoch(epoch, should_stop)
            if not len(self.ids):
                return
            if self.batch < self.batches:  # stopped inside the epoch
                self.seconds += (time.perf_counter() - started) / len(self.ids)
                return self._interrupt()
            bad = ~members_finite(self.net.parameters())
            if bad.any():
                self._diverge(bad, epoch, "a weight became NaN or infinite", self.step)
                if not len(self.ids):
                    return
            self.seconds += (time.perf_counter() - started) / len(self.ids)
            stop = self._epoch_end(epoch)
            if epoch in self.due:
                self.snapshots.append((epoch, self.ids.copy(), [p.copy() for p in self.net.parameters()]))
            self.epoch, self.batch = epoch, 0
            self._stop_early(stop)
            if len(self.ids) and should_stop() and self.epoch < tc.epochs:
                return self._interrupt()
        self._finish(np.ones(len(self.ids), bool), "completed")

    def _epoch(self, epoch: int, should_stop: Callable[[], bool]) -> None:
        """The batches of one epoch from self.batch on, as Trainer._epoch does for each member."""
        n = len(self.train)
        lr = self.lrs.at(epoch)
        while self.batch < self.batches:
            lo = self.batch * self.bs
            hi = min(lo + self.bs, n)
            X, T, y = self.loader.batch(lo, hi, self.perms)
            value, grads, Y = self.net.backprop(X, T, self.loss, self.decay.value, work=self.work)
            loss_bad = ~np.isfinite(value)
            grad_bad = ~loss_bad & ~members_finite(grads[1::2])
            if loss_bad.any() or grad_bad.any():
                self._diverge(loss_bad, epoch, lambda k: f"the loss became {float(value[k])}", self.step + 1)
                self._diverge(grad_bad[~loss_bad], epoch, "a gradient became NaN or infinite", self.step + 1)
                if not len(self.ids):
                    return
                ok = ~(loss_bad | grad_bad)
                value, grads, Y = value[ok], [g[ok] for g in grads], Y[ok]
                y = y[ok] if y is not None and y.ndim == 2 else y
                lr = self.lrs.at(epoch)
            self.optimizer.step(self.net.parameters(), grads, lr)
            m = hi - lo
            self.step += 1
            self.batch += 1
            self.loss_sum += value * m
            self.seen += m
            if y is not None:
                self.correct += accuracy_count(Y, y)
            if should_stop() and self.batch < self.batches:
                return

    def _epoch_end(self, epoch: int) -> np.ndarray:
        """Record each member's metrics row (validation every epoch, test as Trainer._epoch_row says) and
        track its best epoch; returns which members early stopping ends now."""
        tc = self.cfg.train
        row = {"loss": self.loss_sum / self.seen}
        if self.train.y is not None:
            row["accuracy"] = self.correct / self.seen
        self._evaluate_into(row, "val", self.val)
        every = tc.test_every
        if epoch >= tc.epochs or self.monitor.startswith("test_") or (every and epoch % every == 0):
            self._evaluate_into(row, "test", self.test)
        stop = self._track_best(row, epoch)
        if stop.any() and self.test is not None and "test_loss" not in row:
            tested: dict[str, np.ndarray] = {}
            self._evaluate_into(tested, "test", self.test)
            for name, values in tested.items():  # only the members that stop now get test metrics
                row[name] = (values, stop)
        row["lr"] = np.broadcast_to(np.asarray(self.lrs.at(epoch), dtype=np.float64).reshape(-1), (len(self.ids),))
        row["seconds"] = np.round(self.seconds, 6)
        self.history.record(epoch, self.step, self.ids, row)
        return stop

    def _evaluate_into(self, row: dict, name: str, split) -> None:
        """`<name>_loss` (and `<name>_accuracy`) of each member on its split, as metrics.evaluate computes
        them: chunks of up to EVAL_CHUNK rows, the loss summed as loss * rows per chunk."""
        if split is None or f"{name}_loss" in row:
            return
        n, rows = len(split), self.eval_rows
        if self.eval_work is None:
            self.eval_work = self.net.workspace(rows)
        total, correct = np.zeros(len(self.ids)), np.zeros(len(self.ids), np.int64)
        for start in range(0, n, rows):
            X, T, y = split.chunk(start, start + rows)
            Z, Y = self.net.forward_into(np.asarray(X, dtype=self.eval_work.dtype), self.eval_work)
            total += self.net.data_loss(Z, Y, T, self.loss) * X.shape[-2]
            if y is not None:
                correct += accuracy_count(Y, y)
        row[f"{name}_loss"] = total / n
        if split.y is not None:
            row[f"{name}_accuracy"] = correct / n

    def _track_best(self, row: dict, epoch: int) -> np.ndarray:
        """Trainer._early_stopping for every member at once: best epoch (always), best weights (with
        restore_best), epochs without improvement; which members stop now."""
        es = self.cfg.train.early_stopping
        value = row.get(self.monitor)
        if value is None:
            return np.zeros(len(self.ids), bool)
        min_delta = es.min_delta if es else 0.0
        finite = np.isfinite(value)
        has = self.best_epoch >= 0
        if higher_is_better(self.monitor):
            improved = value > self.best_value + min_delta
        else:
            improved = value < self.best_value - min_delta
        better = finite & (~has | improved)
        self.best_value[better], self.best_epoch[better], self.bad[better] = value[better], epoch, 0
        if self.best_weights is not None and better.any():
            for b, p in zip(self.best_weights, self.net.parameters()):
                b[better] = p[better]
        worse = finite & ~better
        self.bad[worse] += 1
        return worse & (self.bad >= es.patience) if es is not None else np.zeros(len(self.ids), bool)

    # -- members leaving the stack ------------------------------------------------------------------
    def _diverge(self, which: np.ndarray, epoch: int, what, step: int) -> None:
        """Members that diverged: back to the epoch's start where a weight is not finite, then out."""
        if not which.any():
            return
        params = self.net.parameters()
        broken = which & ~members_finite(params)
        for p, s in zip(params, self.snapshot):
            p[broken] = s[broken]
        for pos in np.flatnonzero(which):
            k = self.ids[pos]
            message = divergence_message(epoch, step, what(pos) if callable(what) else what,
                                         self.members[k].cfg.optimizer.lr)
            self.results[k] = Result("diverged", None, message, {"epoch": epoch, "step": step})
        self._leave(which)

    def _stop_early(self, which: np.ndarray) -> None:
        if not which.any():
            return
        es = self.cfg.train.early_stopping
        if es.restore_best and self.best_weights is not None:
            has = which & (self.best_epoch >= 0)
            for p, b in zip(self.net.parameters(), self.best_weights):
                p[has] = b[has]
        for pos in np.flatnonzero(which):
            best = {"epoch": int(self.best_epoch[pos])} if self.best_epoch[pos] >= 0 else None
            self.results[self.ids[pos]] = Result("early_stopped", None,
                                                 early_stop_message(self.monitor, es.patience, best))
        self._leave(which)

    def _interrupt(self) -> None:
        self._finish(np.ones(len(self.ids), bool), "interrupted")

    def _finish(self, which: np.ndarray, status: str) -> None:
        for pos in np.flatnonzero(which):
            self.results[self.ids[pos]] = Result(status, None)
        self._leave(which)

    def _leave(self, which: np.ndarray) -> None:
        """Hand the members in `which` their weights, optimizer state and training State back, and take
        them out of the stack."""
        params = self.net.parameters()
        slots = self.optimizer.slots
        for pos in np.flatnonzero(which):
            k = self.ids[pos]
            member = self.members[k]
            for mine, p in zip(member.net.parameters(), params):
                mine[...] = p[pos].reshape(mine.shape)
            opt = member.trainer.optimizer
            opt.t = self.optimizer.t
            opt.slots = {key: [a[pos].reshape(mine.shape).copy() for a, mine in zip(arrays, member.net.parameters())]
                         for key, arrays in slots.items() if key in opt.slot_names()}  # the slots of its own
            self.results[k].state = self._state(pos, k)
        keep = ~which
        self.ids = self.ids[keep]
        if not len(self.ids):
            return
        self.net = Network([Dense(l.W[keep], l.b[keep], l.activation) for l in self.net.layers])
        self.optimizer.keep(keep)
        self.lrs.keep(keep)
        self.decay.keep(keep)
        for split in (self.train, self.val, self.test):
            if split is not None:
                split.keep(keep)
        self.loader.keep(np.flatnonzero(keep))
        for name in ("perms", "loss_sum", "correct", "seen", "seconds", "bad", "best_value", "best_epoch"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value[keep])
        self.snapshot = [s[keep] for s in self.snapshot]
        if self.best_weights is not None:
            self.best_weights = [b[keep] for b in self.best_weights]
        self.work, self.eval_work = self.net.workspace(self.bs), None

    def _state(self, pos: int, k: int) -> State:
        """Member k's training State at this moment (what its own Trainer would hold)."""
        best = None
        if self.best_epoch[pos] >= 0:
            best = {"epoch": int(self.best_epoch[pos]), "monitor": self.monitor, "value": float(self.best_value[pos])}
        best_weights = None
        if self.best_weights is not None and best is not None:
            best_weights = [b[pos].reshape(p.shape).copy() for b, p in zip(self.best_weights, self.members[k].net.parameters())]
        return State(epoch=self.epoch, step=self.step, batch=self.batch,
                     perm=None if self.perms is None else self.perms[pos].copy(),
                     loss_sum=float(self.loss_sum[pos]), correct=int(self.correct[pos]), seen=int(self.seen[pos]),
                     rows=self.history.rows(k), best=best, best_weights=best_weights,
                     bad_epochs=int(self.bad[pos]), seconds=float(self.seconds[pos]))

    def member_snapshots(self, k: int) -> list[tuple[int, list[np.ndarray]]]:
        """Member k's snapshots taken in the stack: (epoch, its parameters), in the shapes of its network."""
        shapes = [p.shape for p in self.members[k].net.parameters()]
        out = []
        for epoch, ids, params in self.snapshots:
            pos = np.flatnonzero(ids == k)
            if len(pos):
                out.append((epoch, [p[pos[0]].reshape(shape) for p, shape in zip(params, shapes)]))
        return out
