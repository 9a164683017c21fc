"""From a loaded Dataset to what a run trains on: target matrices, the seeded validation split, and the
Split / TrainData containers. `nncli.runner.run_data` is the one place that combines them for a run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .datasets import Dataset


@dataclass
class Split:
    """Features X (N, d), targets T (N, units), and class labels y (N,) for classification (else None)."""

    X: np.ndarray
    T: np.ndarray
    y: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.X)


@dataclass
class TrainData:
    """The splits of one run: train, and the validation and test sets when it has them; `dataset`
    describes where they came from (name, task, classes, source)."""

    train: Split
    val: Split | None = None
    test: Split | None = None
    dataset: Dataset | None = None

    def get(self, name: str) -> Split | None:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def targets(ds: Dataset, y: np.ndarray, units: int, dtype, where: str = "model.layers") -> np.ndarray:
    """The target matrix T (N, units) the loss compares with the network's outputs.

    Classification: one sigmoid unit gets y as 0/1; K output units get one-hot rows (K = n_classes).
    Regression: y itself, with k = units columns. `where` names the output layer's units in messages.
    """
    if ds.task == "classification":
        if units == 1:
            if ds.n_classes != 2:
                raise ConfigError(f"one output unit can only separate 2 classes, but {ds.name} has "
                                  f"{ds.n_classes}; use {ds.n_classes} softmax units with "
                                  f"categorical_crossentropy", where=where)
            return y.astype(dtype)[:, None]
        if units != ds.n_classes:
            raise ConfigError(f"the output layer has {units} units but {ds.name} has {ds.n_classes} classes; "
                              f"use units: {ds.n_classes}", where=where)
        T = np.zeros((len(y), units), dtype=dtype)
        T[np.arange(len(y)), y] = 1
        return T
    if y.shape[1] != units:
        raise ConfigError(f"the output layer has {units} units but the targets of {ds.name} have "
                          f"{y.shape[1]} columns; use units: {y.shape[1]} (or give the data "
                          f"{units} target columns)", where=where)
    return y.astype(dtype, copy=False)


def split_validation(X: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator,
                     stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) of a seeded, shuffled split; stratified by class for classification:
    each class gives round(fraction * its count) samples (at least one when it has two or more)."""
    n = len(X)
    if not stratify:
        perm = rng.permutation(n)
        n_val = max(1, int(round(fraction * n)))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    val = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        rng.shuffle(members)
        k = int(round(fraction * len(members)))
        if k == 0 and len(members) >= 2:
            k = 1
        val.append(members[:k])
    val_idx = np.sort(np.concatenate(val)) if val else np.array([], dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[val_idx] = False
    if not mask.any() or not len(val_idx):
        raise ConfigError(f"validation_split={fraction} leaves no training or no validation samples "
                          f"out of {n}", where="train.validation_split")
    return np.flatnonzero(mask), val_idx
