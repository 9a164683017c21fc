"""Activation functions. Each acts element-wise (softmax row-wise) on a batch Z of shape (N, units).

`forward(z)` returns A = phi(Z). `backward(z, a, grad_a)` returns dL/dZ given dL/dA; derivatives are taken
at Z (A is passed only where it gives the exact derivative more cheaply, e.g. tanh' = 1 - A^2).
"""

from __future__ import annotations

import numpy as np

from ..registry import Registry

ACTIVATIONS: Registry[type["Activation"]] = Registry("activation")


class Activation:
    name: str = ""
    #: points where the derivative is not defined (gradcheck keeps pre-activations away from them)
    kinks: tuple[float, ...] = ()
    #: range of the output, used to check that a loss fits the output layer and to centre drawings
    output_range: tuple[float, float] = (-np.inf, np.inf)
    #: outputs are rows of probabilities summing to 1 (softmax): a layer needs at least 2 units, and the
    #: unit that is "on" is the one with the largest output
    normalised_rows: bool = False
    #: the ONNX operator computing phi, and its attributes (`nncli export`); None: it has none, so a
    #: network using it cannot be exported
    onnx_op: str | None = None
    onnx_attributes: dict[str, float | int] = {}

    @classmethod
    def centre_and_scale(cls) -> tuple[float, float] | None:
        """(midpoint, half-width) of a bounded output range (tanh: 0 and 1; sigmoid: 0.5 and 0.5), else None."""
        lo, hi = cls.output_range
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return None
        return (lo + hi) / 2, (hi - lo) / 2

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@ACTIVATIONS.register("linear", "identity")
class Linear(Activation):
    """phi(z) = z; phi'(z) = 1."""

    onnx_op = "Identity"

    def forward(self, z):
        return z

    def backward(self, z, a, grad_a):
        return grad_a


@ACTIVATIONS.register("relu")
class ReLU(Activation):
    """phi(z) = max(z, 0); phi'(z) = 1 for z > 0, else 0 (0 at the kink)."""

    kinks = (0.0,)
    output_range = (0.0, np.inf)
    onnx_op = "Relu"

    def forward(self, z):
        return np.maximum(z, 0)

    def backward(self, z, a, grad_a):
        return grad_a * (z > 0)


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(Activation):
    """phi(z) = z for z > 0, alpha z otherwise (alpha = 0.01); phi'(z) = 1 or alpha."""

    alpha = 0.01
    kinks = (0.0,)
    onnx_op = "LeakyRelu"
    onnx_attributes = {"alpha": alpha}

    def forward(self, z):
        return np.where(z > 0, z, z * z.dtype.type(self.alpha))

    def backward(self, z, a, grad_a):
        return grad_a * np.where(z > 0, 1, self.alpha).astype(z.dtype, copy=False)


@ACTIVATIONS.register("sigmoid", "logistic")
class Sigmoid(Activation):
    """phi(z) = 1 / (1 + exp(-z)), computed without overflow; phi'(z) = phi(z) (1 - phi(z))."""

    output_range = (0.0, 1.0)
    onnx_op = "Sigmoid"

    def forward(self, z):
        # exp of a non-positive number only: e = exp(-|z|); sigma = 1/(1+e) for z >= 0, e/(1+e) otherwise
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1, e) / (1 + e)

    def backward(self, z, a, grad_a):
        s = self.forward(z)  # at z, not from the caller's a (which may be rounded or a different array)
        return grad_a * s * (1 - s)


@ACTIVATIONS.register("tanh")
class Tanh(Activation):
    """phi(z) = tanh(z); phi'(z) = 1 - tanh(z)^2."""

    output_range = (-1.0, 1.0)
    onnx_op = "Tanh"

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, grad_a):
        t = np.tanh(z)
        return grad_a * (1 - t * t)


@ACTIVATIONS.register("softmax")
class Softmax(Activation):
    """Row-wise softmax: a_k = exp(z_k - max z) / sum_j exp(z_j - max z).

    Its Jacobian is diag(a) - a a^T, so the vector-Jacobian product is
    dL/dz = a * (g - sum_k g_k a_k) with g = dL/da, computed for the whole batch at once.
    """

    output_range = (0.0, 1.0)
    normalised_rows = True
    onnx_op = "Softmax"
    onnx_attributes = {"axis": 1}  # rows: the same meaning in every opset (before 13, axis 1 of a 2-D input)

    def forward(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def backward(self, z, a, grad_a):
        s = self.forward(z)
        return s * (grad_a - (grad_a * s).sum(axis=1, keepdims=True))
