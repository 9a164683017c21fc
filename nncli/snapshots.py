"""Snapshots of the weights during training (`train.snapshots: K`), for `nncli inspect --section evolution`.

`schedule(K, E)` spreads K epochs log-evenly over 0..E, epoch 0 (the initial weights) and the last epoch
included, so the fast early changes are seen as well as the slow late ones. A `Recorder` passes training
events on and copies the network's parameters at the end of each of those epochs. The record is the run
directory's snapshots.npz (plain arrays, read back with allow_pickle=False):

    epochs        int64 (S,)                the epoch of each snapshot, increasing (0: before training)
    W1, b1, ...   (S, *shape of W1), ...    the parameters at those epochs, in the network's dtype

written (atomically) with every checkpoint, before it, and at the end of training. A resumed run starts
from the record in its directory, cut at its checkpoint's epoch, so the file ends exactly as it would have
without the interruption.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RunDirError
from .nn.network import Network
from .npyfiles import read_npz
from .events import Events
from .trainer import Result

AUTO = 20  # snapshots when the config leaves train.snapshots out: 2-D inputs and small networks
AUTO_MAX_PARAMETERS = 10_000


def default_count(n_inputs: int, parameters: int, epochs: int) -> int:
    """train.snapshots when the config leaves it out: AUTO (at most `epochs`) for 2-D inputs and networks
    of at most AUTO_MAX_PARAMETERS parameters, where they cost well under 2% of training time
    (benchmarks/snapshots.py); 0 (none) otherwise."""
    if n_inputs != 2 or parameters > AUTO_MAX_PARAMETERS or epochs < 2:
        return 0
    return min(AUTO, epochs)


def schedule(k: int, epochs: int) -> list[int]:
    """`k` distinct epochs of 0..`epochs`, log-spaced, 0 and `epochs` included (2 <= k <= epochs + 1)."""
    if k < 2:
        return [epochs][:k]
    if k == 2:
        return [0, epochs]
    out = [0]
    for v in np.geomspace(1, epochs, k - 1):
        out.append(max(int(round(v)), out[-1] + 1))
    return [min(e, epochs - (k - 1 - j)) if j else 0 for j, e in enumerate(out)]


class Record:
    """Snapshots: `epochs` (increasing) and, per parameter of the network (W1, b1, ...), one array per
    snapshot."""

    def __init__(self, names: list[str], epochs: list[int] | None = None,
                 params: list[list[np.ndarray]] | None = None):
        self.names = names
        self.epochs = list(epochs or [])
        self.params = params if params is not None else [[] for _ in names]

    def __len__(self) -> int:
        return len(self.epochs)

    def take(self, epoch: int, net: Network) -> None:
        """Add copies of `net`'s parameters as the snapshot of `epoch` (kept in order; once per epoch)."""
        if epoch in self.epochs:
            return
        k = bisect.bisect(self.epochs, epoch)
        self.epochs.insert(k, epoch)
        for column, p in zip(self.params, net.parameters()):
            column.insert(k, p.copy())

    def until(self, epoch: int) -> "Record":
        """The snapshots of epochs up to `epoch`."""
        k = bisect.bisect(self.epochs, epoch)
        return Record(self.names, self.epochs[:k], [column[:k] for column in self.params])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of snapshots.npz."""
        out = {"epochs": np.array(self.epochs, dtype=np.int64)}
        out.update({name: np.stack(column) for name, column in zip(self.names, self.params)})
        return out

    def network(self, i: int, like: Network) -> Network:
        """A copy of `like` holding the parameters of snapshot i."""
        net = like.copy()
        for p, column in zip(net.parameters(), self.params):
            p[...] = column[i]
        return net


def from_arrays(arrays: dict[str, np.ndarray], like: Network, where: str) -> Record:
    """The Record in snapshots.npz's arrays, checked against the network `like` (names, shapes, dtypes,
    finite values, increasing epochs); RunDirError naming `where` otherwise."""
    names = like.parameter_names()
    unexpected = sorted(set(arrays) - {"epochs", *names})
    missing = [k for k in ["epochs", *names] if k not in arrays]
    if unexpected or missing:
        raise RunDirError(f"snapshots.npz has arrays {sorted(arrays)}, but this run's network needs epochs, "
                          f"{', '.join(names)}", where=where)
    epochs = arrays["epochs"]
    if (epochs.ndim != 1 or epochs.dtype.kind not in "iu" or (epochs < 0).any()
            or (np.diff(epochs) <= 0).any()):
        raise RunDirError("snapshots.npz: 'epochs' must be increasing non-negative integers", where=where)
    params = []
    for name, p in zip(names, like.parameters()):
        a = arrays[name]
        if a.shape != (len(epochs), *p.shape) or a.dtype != p.dtype or not np.isfinite(a).all():
            raise RunDirError(f"snapshots.npz: {name!r} must hold {len(epochs)} finite {p.dtype} arrays of shape "
                              f"{p.shape}, got {a.dtype} {a.shape}", where=where)
        params.append(list(a))
    return Record(names, [int(e) for e in epochs], params)


def read(path: Path, like: Network) -> Record | None:
    """The record in a run directory's snapshots.npz (None when there is none), checked (see from_arrays)."""
    path = Path(path)
    if not path.exists():
        return None
    return from_arrays(read_npz(path, RunDirError), like, str(path))


class Recorder(Events):
    """Passes training events on to `inner` and takes a snapshot at the end of every epoch in `due`.
    on_start and on_batch are `inner`'s own methods, so a batch costs nothing extra."""

    def __init__(self, net: Network, due: list[int], inner: Events, record: Record | None = None):
        self.net = net
        self.due = set(due)
        self.record = record if record is not None else Record(net.parameter_names())
        self.on_start = inner.on_start
        self.on_batch = inner.on_batch
        self.inner_on_epoch = inner.on_epoch

    def on_epoch(self, row: dict[str, Any]) -> None:
        if row["epoch"] in self.due:
            self.record.take(row["epoch"], self.net)
        self.inner_on_epoch(row)

    def finish(self, result: Result, restored_best: bool) -> None:
        """After early stopping, the final weights too: those of the best epoch when they were restored."""
        st = result.state
        if result.status == "early_stopped":
            epoch = st.best["epoch"] if restored_best and st.best else st.epoch
            self.record.take(int(epoch), self.net)
