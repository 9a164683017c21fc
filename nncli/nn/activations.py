"""Activation functions. Each acts element-wise (softmax row-wise) on a batch Z of shape (N, units).

A stack of K networks trained together (nncli/stacking.py) passes arrays (K, N, units); every method works
on the last axis, so one class serves both.

An activation defines `forward(z, out=None)`, A = phi(Z) (written into `out` when given; `out` may be `z`
itself), and its derivative in one of two ways:
- `backward(z, a, grad_a)`: dL/dZ given dL/dA, taken at Z (the general form);
- or `backward_at_output(a, grad_a, out=None)`: dL/dZ from A = phi(Z) alone, for a phi' that is a function
  of phi (relu: A > 0 exactly where Z > 0; sigmoid: A(1 - A); tanh: 1 - A^2; softmax: A * (G - rowsum(G A))).
  It is the exact derivative at Z whenever A is this activation's forward(Z), and `out` may be `grad_a`.
  The base class's `backward` then recomputes A = forward(Z) and calls it, so it never trusts a caller's
  `a`; and the training loop, which computed A itself, overwrites a hidden layer's Z with A and applies
  the derivative in place (`derivative_from_output`). Every built-in activation takes this second way.
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
    #: phi(z) = z: a layer of it is linear (the weight-decay lab's eigen-analysis needs one)
    identity: bool = False

    @classmethod
    def centre_and_scale(cls) -> tuple[float, float] | None:
        """(midpoint, half-width) of a bounded output range (tanh: 0 and 1; sigmoid: 0.5 and 0.5), else None."""
        lo, hi = cls.output_range
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return None
        return (lo + hi) / 2, (hi - lo) / 2

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def backward_at_output(self, a: np.ndarray, grad_a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """dL/dz at z; `a` is ignored (phi(z) is recomputed), so a wrong `a` cannot give a wrong derivative."""
        return self.backward_at_output(self.forward(z), grad_a)

    @property
    def derivative_from_output(self) -> bool:
        """True when the derivative is backward_at_output (this class does not override backward)."""
        return type(self).backward is Activation.backward


@ACTIVATIONS.register("linear", "identity")
class Linear(Activation):
    """phi(z) = z; phi'(z) = 1."""

    onnx_op = "Identity"
    identity = True

    def forward(self, z, out=None):
        if out is None or out is z:
            return z
        np.copyto(out, z)
        return out

    def backward_at_output(self, a, grad_a, out=None):
        if out is None or out is grad_a:
            return grad_a
        np.copyto(out, grad_a)
        return out


@ACTIVATIONS.register("relu")
class ReLU(Activation):
    """phi(z) = max(z, 0); phi'(z) = 1 for z > 0, else 0 (0 at the kink). a > 0 exactly where z > 0."""

    kinks = (0.0,)
    output_range = (0.0, np.inf)
    onnx_op = "Relu"

    def forward(self, z, out=None):
        return np.maximum(z, 0, out=out)

    def backward_at_output(self, a, grad_a, out=None):
        return np.multiply(grad_a, a > 0, out=out)


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(Activation):
    """phi(z) = z for z > 0, alpha z otherwise (alpha = 0.01); phi'(z) = 1 or alpha. a > 0 exactly
    where z > 0."""

    alpha = 0.01
    kinks = (0.0,)
    onnx_op = "LeakyRelu"
    onnx_attributes = {"alpha": alpha}

    def forward(self, z, out=None):
        negative = ~(z > 0)
        if out is None:
            out = z.copy()
        elif out is not z:
            np.copyto(out, z)
        return np.multiply(out, z.dtype.type(self.alpha), out=out, where=negative)

    def backward_at_output(self, a, grad_a, out=None):
        return np.multiply(grad_a, np.where(a > 0, 1, self.alpha).astype(a.dtype, copy=False), out=out)


@ACTIVATIONS.register("sigmoid", "logistic")
class Sigmoid(Activation):
    """phi(z) = 1 / (1 + exp(-z)), computed without overflow; phi'(z) = phi(z) (1 - phi(z))."""

    output_range = (0.0, 1.0)
    onnx_op = "Sigmoid"

    def forward(self, z, out=None):
        # exp of a non-positive number only: e = exp(-|z|); sigma = 1/(1+e) for z >= 0, e/(1+e) otherwise
        e = np.exp(-np.abs(z))
        numerator = np.where(z >= 0, 1, e)
        return np.divide(numerator, np.add(1, e, out=e), out=out)

    def backward_at_output(self, a, grad_a, out=None):
        out = np.multiply(grad_a, a, out=out)
        return np.multiply(out, 1 - a, out=out)


@ACTIVATIONS.register("tanh")
class Tanh(Activation):
    """phi(z) = tanh(z); phi'(z) = 1 - tanh(z)^2."""

    output_range = (-1.0, 1.0)
    onnx_op = "Tanh"

    def forward(self, z, out=None):
        return np.tanh(z, out=out)

    def backward_at_output(self, a, grad_a, out=None):
        d = a * a
        np.subtract(1, d, out=d)
        return np.multiply(grad_a, d, out=out)


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

    def forward(self, z, out=None):
        m = z.max(axis=-1, keepdims=True)
        e = np.subtract(z, m, out=out)
        np.exp(e, out=e)
        return np.divide(e, e.sum(axis=-1, keepdims=True), out=e)

    def backward_at_output(self, a, grad_a, out=None):
        s = (grad_a * a).sum(axis=-1, keepdims=True)
        out = np.subtract(grad_a, s, out=out)
        return np.multiply(a, out, out=out)
