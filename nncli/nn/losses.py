"""Losses. Y (outputs), Z (output pre-activations) and T (targets) have shape (N, units).

Every loss is the mean over the batch of a per-sample error E(y_i, t_i):
  binary_crossentropy      E = -sum_k [t_k log y_k + (1 - t_k) log(1 - y_k)]
  categorical_crossentropy E = -sum_k t_k log y_k
  mse                      E = 1/2 sum_k (y_k - t_k)^2   (half the squared error; Hessian X^T X / N)
`gradient(y, t)` is dL/dY = dE/dy / N. Sigmoid + binary cross-entropy and softmax + categorical
cross-entropy also have a fused form computed from the logits Z: a value with no log(0) and the exact
gradient dL/dZ = (Y - T) / N (for softmax (Y rowsum(T) - T) / N, the same for targets whose rows sum to 1).
"""

from __future__ import annotations

import numpy as np

from ..registry import Registry

LOSSES: Registry[type["Loss"]] = Registry("loss")


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log(sigmoid(z)) = -log(1 + exp(-z)) = -logaddexp(0, -z), exact for every z."""
    return -np.logaddexp(0, -z)


class Loss:
    name: str = ""
    #: the output activation with which this loss has a fused, stable value and gradient (or None)
    fused_activation: str | None = None

    def value(self, y: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fused_value(self, z: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def fused_delta(self, y: np.ndarray, t: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/dZ for the fused pair: (Y - T) / N (into `out` when given)."""
        out = np.subtract(y, t, out=out)
        return np.multiply(out, y.dtype.type(1.0 / y.shape[0]), out=out)

    def check_output(self, activation: str, units: int) -> str | None:
        """A message if this loss does not fit an output layer of `units` `activation` units, else None."""
        return None


@LOSSES.register("binary_crossentropy", "bce")
class BinaryCrossentropy(Loss):
    fused_activation = "sigmoid"

    def value(self, y, t):
        with np.errstate(divide="ignore", invalid="ignore"):
            e = -(np.where(t == 0, 0, t * np.log(y)) + np.where(t == 1, 0, (1 - t) * np.log1p(-y)))
        return float(e.sum() / y.shape[0])  # 0 log 0 = 0: a saturated, right output costs 0, not NaN

    def gradient(self, y, t):
        return (y - t) / (y * (1 - y)) / y.shape[0]

    def fused_value(self, z, t):
        # -[t log s(z) + (1 - t) log s(-z)], with log s(z) = -logaddexp(0, -z)
        e = -(t * _log_sigmoid(z) + (1 - t) * _log_sigmoid(-z))
        return float(e.sum() / z.shape[0])

    def check_output(self, activation, units):
        if activation != "sigmoid":
            return (f"binary_crossentropy needs sigmoid outputs (probabilities of independent yes/no "
                    f"targets), but the output layer uses {activation}; use activation: sigmoid, or "
                    f"loss: categorical_crossentropy with softmax for one-of-K classes")
        return None


@LOSSES.register("categorical_crossentropy", "cce")
class CategoricalCrossentropy(Loss):
    fused_activation = "softmax"

    def value(self, y, t):
        with np.errstate(divide="ignore", invalid="ignore"):
            e = -(t * np.log(y))
        e = np.where(t == 0, 0, e)  # 0 log 0 = 0
        return float(e.sum() / y.shape[0])

    def gradient(self, y, t):
        with np.errstate(divide="ignore", invalid="ignore"):
            g = -t / y
        return np.where(t == 0, 0, g) / y.shape[0]

    def fused_delta(self, y, t, out=None):
        """dL/dZ = (Y * rowsum(T) - T) / N: the exact gradient of the value for any target rows; for
        one-hot rows (rowsum 1, what nncli's classification targets are) bit for bit (Y - T) / N."""
        out = np.multiply(y, t.sum(axis=1, keepdims=True), out=out)
        np.subtract(out, t, out=out)
        return np.multiply(out, y.dtype.type(1.0 / y.shape[0]), out=out)

    def fused_value(self, z, t):
        # log softmax(z)_k = z_k - logsumexp(z)
        zm = z - z.max(axis=1, keepdims=True)
        log_p = zm - np.log(np.exp(zm).sum(axis=1, keepdims=True))
        return float(-(t * log_p).sum() / z.shape[0])

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
    def value(self, y, t):
        d = y - t
        return float(0.5 * np.vdot(d, d) / y.shape[0])

    def gradient(self, y, t):
        return (y - t) * y.dtype.type(1.0 / y.shape[0])

    def check_output(self, activation, units):
        if activation == "softmax" and units < 2:
            return "a softmax output layer needs at least 2 units"
        return None
