"""The data of a stack of networks trained together (nncli/stacking.py): each member's splits, held once
when every member has the same rows (a 2-D array the stack's matrix products broadcast over), else
stacked (K, N, d); and the batches of an epoch, gathered in each member's own order of rows with each
member's own input noise, into arrays allocated once.
"""

from __future__ import annotations

import numpy as np

from .data.splits import Split
from .nn.noise import GaussianNoise


def _same(arrays: list[np.ndarray | None]) -> bool:
    first = arrays[0]
    return all(a is first or (a is not None and first is not None and a.shape == first.shape
                              and a.dtype == first.dtype and np.array_equal(a, first)) for a in arrays[1:])


def _stacked(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    """One array for all members: the shared one, or the members' stacked on a new first axis."""
    if arrays[0] is None:
        return None
    return arrays[0] if _same(arrays) else np.stack(arrays)


class StackSplit:
    """One split (train, val or test) of every member: X (N, d) or (K, N, d), T (N, u) or (K, N, u), y (N,)
    or (K, N) or None (each shared by the members, or stacked)."""

    def __init__(self, splits: list[Split]):
        self.X = _stacked([s.X for s in splits])
        self.T = _stacked([s.T for s in splits])
        self.y = _stacked([s.y for s in splits])
        self.n = len(splits[0])

    def __len__(self) -> int:
        return self.n

    def keep(self, rows: np.ndarray) -> None:
        """Keep the members at positions `rows` (after some left the stack)."""
        self.X, self.T = _rows(self.X, rows, 3), _rows(self.T, rows, 3)
        self.y = _rows(self.y, rows, 2)

    def chunk(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Rows lo..hi of every member (views)."""
        return (self.X[..., lo:hi, :], self.T[..., lo:hi, :],
                None if self.y is None else self.y[..., lo:hi])


def _rows(a: np.ndarray | None, rows: np.ndarray, stacked_ndim: int) -> np.ndarray | None:
    return a[rows] if a is not None and a.ndim == stacked_ndim else a


def split_of(members, name: str) -> StackSplit | None:
    """The members' `name` split (train, val, test) as one StackSplit, None when they have none."""
    splits = [m.data.get(name) for m in members]
    return None if splits[0] is None else StackSplit(splits)


class Batches:
    """The batches of the members' epochs: batch `b` of each member is rows perms[k][b*bs:(b+1)*bs] of its
    training split (or rows b*bs.. in order when `perms` is None), with fresh Gaussian input noise from
    its own generator when it trains with noise. Copies go into buffers allocated once; unshuffled rows
    without noise are views."""

    def __init__(self, train: StackSplit, bs: int, noise: list[float], rngs: list[np.random.Generator]):
        self.train, self.bs = train, bs
        K = len(rngs)
        d, u = train.X.shape[-1], train.T.shape[-1]
        self.X = np.empty(K * bs * d, train.X.dtype)
        self.T = np.empty(K * bs * u, train.T.dtype)
        self.y = np.empty(K * bs, train.y.dtype) if train.y is not None else None
        self.noise = [GaussianNoise(sd, rng, bs, d, train.X.dtype) if sd else None for sd, rng in zip(noise, rngs)]
        self.noisy = any(z is not None for z in self.noise)

    def keep(self, rows: np.ndarray) -> None:
        self.noise = [self.noise[i] for i in rows]
        self.noisy = any(z is not None for z in self.noise)

    def batch(self, lo: int, hi: int, perms: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Rows lo..hi of every member's epoch order: X (K, m, d) (or (m, d) when shared, in order and
        without noise), T likewise, labels y."""
        tr = self.train
        if perms is None and not self.noisy:
            return tr.chunk(lo, hi)
        K, m = len(self.noise), hi - lo
        X = self.X[:K * m * tr.X.shape[-1]].reshape(K, m, -1)
        T = self.T[:K * m * tr.T.shape[-1]].reshape(K, m, -1)
        y = self.y[:K * m].reshape(K, m) if self.y is not None else None
        if perms is None:  # in order, with noise: the inputs are copied, the targets are views
            Xc, T, y = tr.chunk(lo, hi)
            X[...] = Xc
        else:
            index = perms[:, lo:hi]
            _gather(tr.X, index, X)
            _gather(tr.T, index, T)
            if y is not None:
                _gather(tr.y, index, y)
        for k, z in enumerate(self.noise):
            if z is not None:
                z.add_to(X[k])  # each member's own noise stream, as in its own run
        return X, T, y


def _gather(source: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    """out[k] = source[index[k]] (source shared, (N, ...)) or source[k][index[k]] (stacked, (K, N, ...))."""
    if source.ndim == out.ndim:  # stacked: member k's row i is row k * N + i of the flattened array
        K, n = source.shape[:2]
        source = source.reshape(K * n, *source.shape[2:])
        index = index + (np.arange(K) * n)[:, None]
    # mode="clip": the indices are valid, and the default mode="raise" buffers `out` (3x slower)
    np.take(source, index, axis=0, out=out, mode="clip")
