"""Losses. Y (outputs), Z (output pre-activations) and T (targets) have shape (N, units).

Every loss is the mean over the batch of a per-sample error E(y_i, t_i):
  binary_crossentropy      E = -sum_k [t_k log y_k + (1 - t_k) log(1 - y_k)]
  categorical_crossentropy E = -sum_k t_k log y_k
  mse                      E = 1/2 sum_k (y_k - t_k)^2   (half the squared error; Hessian X^T X / N)
`gradient(y, t)` is dL/dY = dE/dy / N. Sigmoid + binary cross-entropy and softmax + categorical
cross-entropy also have a fused form computed from the logits Z: a value with no log(0) and the exact
gradient dL/dZ of that value: (Y - T) / N for binary cross-entropy (for any real targets), and
(Y * rowsum(T) - T) / N for categorical cross-entropy, which is (Y - T) / N when every target row sums to 1
(one-hot rows) and stays exact for multi-hot or unnormalised rows.

A stack of K networks (nncli/stacking.py) passes Y, Z, T of shape (K, N, units) (T may stay (N, units)
when the members share their targets): N is then the second-to-last axis, `value` and `fused_value` give
an array (K,) of each member's loss, summed in the same order as the member's own loss.

Targets outside a loss's domain (`target_range`: probabilities in [0, 1] for binary cross-entropy, non-negative
weights for categorical cross-entropy) make the loss unbounded below; `check_targets` finds the first such row
so that a run refuses them before training.
"""

from __future__ import annotations

import numpy as np

from ..registry import Registry
from .activations import ACTIVATIONS

LOSSES: Registry[type["Loss"]] = Registry("loss")


def batch_sum(e: np.ndarray):
    """The sum of all values of e (N, units), or of each member's values of a stack e (K, N, units):
    a numpy scalar, or an array (K,). A member's sum is computed as e.sum() of its own array would be."""
    if e.ndim == 2:
        return e.sum()
    return e.reshape(len(e), -1).sum(axis=1)


def batch_dot(d: np.ndarray):
    """sum of d * d over (N, units) as np.vdot computes it (BLAS dot), or each member's of a stack
    (K, N, units): matmul of (1, M) by (M, 1) per member calls the same dot."""
    if d.ndim == 2:
        return np.vdot(d, d)
    flat = np.ascontiguousarray(d).reshape(len(d), 1, -1)
    return np.matmul(flat, flat.transpose(0, 2, 1)).reshape(len(d))


def per_network(value):
    """A loss value: a Python float for one network, a float64 array (K,) for a stack (its members' values
    as floats, whatever the training dtype)."""
    return float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log(sigmoid(z)) = -log(1 + exp(-z)) = -logaddexp(0, -z), exact for every z."""
    return -np.logaddexp(0, -z)


class Loss:
    name: str = ""
    #: the output activation with which this loss has a fused, stable value and gradient (or None)
    fused_activation: str | None = None
    #: targets are classes (one-hot rows or 0/1): a run trained with it classifies
    classification: bool = False
    #: the targets this loss is defined for (outside, it has no minimum), and how to say it
    target_range: tuple[float, float] = (-np.inf, np.inf)
    target_domain: str = "finite targets"
    #: half the squared error: with a linear layer its Hessian is X^T X / N (the weight-decay lab's analysis)
    quadratic: bool = False

    def value(self, y: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fused_value(self, z: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def fused_delta(self, y: np.ndarray, t: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/dZ for the fused pair: (Y - T) / N (into `out` when given)."""
        out = np.subtract(y, t, out=out)
        return np.multiply(out, y.dtype.type(1.0 / y.shape[-2]), out=out)

    def check_output(self, activation: str, units: int) -> str | None:
        """A message if this loss does not fit an output layer of `units` `activation` units, else None."""
        return None

    def check_targets(self, T: np.ndarray) -> str | None:
        """A message naming the first row of T (N, units) with a target outside `target_range` (or not
        finite), else None."""
        lo, hi = self.target_range
        bad = ~np.isfinite(T)
        if lo > -np.inf:
            bad |= T < lo
        if hi < np.inf:
            bad |= T > hi
        if not bad.any():
            return None
        row, col = (int(i) for i in np.argwhere(bad)[0])
        column = f" (column {col})" if T.shape[1] > 1 else ""
        return (f"row {row} has the target {float(T[row, col]):g}{column}, outside the domain of {self.name}: "
                f"it needs {self.target_domain}")


@LOSSES.register("binary_crossentropy", "bce")
class BinaryCrossentropy(Loss):
    fused_activation = "sigmoid"
    classification = True
    target_range = (0.0, 1.0)
    target_domain = "targets in [0, 1] (probabilities of yes/no outcomes, such as class labels 0 and 1)"

    def value(self, y, t):
        with np.errstate(divide="ignore", invalid="ignore"):
            e = -(np.where(t == 0, 0, t * np.log(y)) + np.where(t == 1, 0, (1 - t) * np.log1p(-y)))
        return per_network(batch_sum(e) / y.shape[-2])  # 0 log 0 = 0: a saturated, right output costs 0, not NaN

    def gradient(self, y, t):
        return (y - t) / (y * (1 - y)) / y.shape[-2]

    def fused_value(self, z, t):
        # -[t log s(z) + (1 - t) log s(-z)], with log s(z) = -logaddexp(0, -z)
        e = -(t * _log_sigmoid(z) + (1 - t) * _log_sigmoid(-z))
        return per_network(batch_sum(e) / z.shape[-2])

    def check_output(self, activation, units):
        if activation != "sigmoid":
            return (f"binary_crossentropy needs sigmoid outputs (probabilities of independent yes/no "
                    f"targets), but the output layer uses {activation}; use activation: sigmoid, or "
                    f"loss: categorical_crossentropy with softmax for one-of-K classes")
        return None


@LOSSES.register("categorical_crossentropy", "cce")
class CategoricalCrossentropy(Loss):
    fused_activation = "softmax"
    classification = True
    target_range = (0.0, np.inf)
    target_domain = "non-negative targets (one-hot rows, probabilities or class weights)"

    def value(self, y, t):
        with np.errstate(divide="ignore", invalid="ignore"):
            e = -(t * np.log(y))
        e = np.where(t == 0, 0, e)  # 0 log 0 = 0
        return per_network(batch_sum(e) / y.shape[-2])

    def gradient(self, y, t):
        with np.errstate(divide="ignore", invalid="ignore"):
            g = -t / y
        return np.where(t == 0, 0, g) / y.shape[-2]

    def fused_delta(self, y, t, out=None):
        """dL/dZ = (Y * rowsum(T) - T) / N: the exact gradient of the value for any target rows; for
        one-hot rows (rowsum 1, what nncli's classification targets are) bit for bit (Y - T) / N."""
        out = np.multiply(y, t.sum(axis=-1, keepdims=True), out=out)
        np.subtract(out, t, out=out)
        return np.multiply(out, y.dtype.type(1.0 / y.shape[-2]), out=out)

    def fused_value(self, z, t):
        # log softmax(z)_k = z_k - logsumexp(z)
        zm = z - z.max(axis=-1, keepdims=True)
        log_p = zm - np.log(np.exp(zm).sum(axis=-1, keepdims=True))
        return per_network(-batch_sum(t * log_p) / z.shape[-2])

    def check_output(self, activation, units):
        if activation != "softmax":
            return (f"categorical_crossentropy needs a softmax output layer, but it uses {activation}; "
                    f"use activation: softmax (or binary_crossentropy with one sigmoid unit for two classes)")
        if units < 2:
            return ("categorical_crossentropy needs at least 2 softmax output units (one per class), "
                    f"but the output layer has {units}; for two classes use 2 units, or 1 sigmoid unit "
                    "with binary_crossentropy")
        return None


@LOSSES.register("mse", "mean_squared_error")
class MeanSquaredError(Loss):
    quadratic = True

    def value(self, y, t):
        d = y - t
        return per_network(0.5 * batch_dot(d) / y.shape[-2])

    def gradient(self, y, t):
        return (y - t) * y.dtype.type(1.0 / y.shape[-2])

    def check_output(self, activation, units):
        if ACTIVATIONS.get(activation).normalised_rows and units < 2:
            return f"a {activation} output layer needs at least 2 units"
        return None
