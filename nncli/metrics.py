"""What a metric is: the columns of metrics.csv, which direction is better, and computing loss and
accuracy of a network on a split (in chunks, so memory stays bounded). Never prints."""

from __future__ import annotations

from typing import Any

import numpy as np

from .nn.losses import Loss
from .nn.network import Network, Workspace

EVAL_CHUNK = 1024  # rows per forward pass when evaluating: bounds memory, still large matrix products

#: metrics that early stopping can watch
MONITORS = ["loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "accuracy"]


def higher_is_better(metric: str) -> bool:
    """Accuracies (`accuracy`, `val_accuracy`, `final.test_accuracy`, ...) grow; losses and times shrink."""
    return str(metric).endswith("accuracy")


def predicted_classes(Y: np.ndarray) -> np.ndarray:
    """The class each row of outputs Y (N, units) predicts: argmax, or output > 0.5 for one sigmoid unit
    (a stack's Y (K, N, units): each member's, (K, N))."""
    return (Y[..., 0] > 0.5).astype(np.int64) if Y.shape[-1] == 1 else Y.argmax(axis=-1)


def accuracy_count(Y: np.ndarray, y: np.ndarray):
    """How many rows of Y predict their label y: an int, or for a stack's Y (K, N, units) each member's
    count, an array (K,)."""
    hits = np.count_nonzero(predicted_classes(Y) == y, axis=-1)
    return int(hits) if Y.ndim == 2 else hits


def outputs(net: Network, X: np.ndarray) -> np.ndarray:
    """The network's outputs Y_L (N, units), computed EVAL_CHUNK rows at a time."""
    if not len(X):
        return np.zeros((0, net.sizes[-1]), dtype=net.layers[0].W.dtype)
    return np.concatenate([net.forward(X[i:i + EVAL_CHUNK]) for i in range(0, len(X), EVAL_CHUNK)])


def evaluate(net: Network, split, loss: Loss, work: Workspace | None = None) -> dict[str, float]:
    """Data loss (no weight decay term) and, for classification, accuracy of `net` on a Split (X, T and
    y), in the network's dtype, in chunks of `work.rows` rows computed in the arrays of `work` (a
    Workspace, reused across calls; by default a new one of min(EVAL_CHUNK, len(split)) rows)."""
    n = len(split)
    work = work if work is not None else net.workspace(min(EVAL_CHUNK, n))
    step = max(work.rows, 1)
    total, correct = 0.0, 0
    for start in range(0, n, step):
        X = np.asarray(split.X[start:start + step], dtype=work.dtype)  # a copy only for another dtype
        Z, Y = net.forward_into(X, work)
        total += net.data_loss(Z, Y, split.T[start:start + step], loss) * len(X)
        if split.y is not None:
            correct += accuracy_count(Y, split.y[start:start + step])
    out = {"loss": total / n}
    if split.y is not None:
        out["accuracy"] = correct / n
    return out


def metric_columns(data) -> list[str]:
    """Columns of metrics.csv for a TrainData: epoch, step, loss, [accuracy], val_*, test_*, lr, seconds."""
    cols = ["epoch", "step", "loss"]
    if data.train.y is not None:
        cols.append("accuracy")
    for name, split in (("val", data.val), ("test", data.test)):
        if split is not None:
            cols.append(f"{name}_loss")
            if split.y is not None:
                cols.append(f"{name}_accuracy")
    return cols + ["lr", "seconds"]


def final_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics row without its bookkeeping columns (epoch, step, lr, seconds)."""
    return {k: v for k, v in row.items() if k not in ("epoch", "step", "lr", "seconds")}
