"""A stack of dense layers, with batched forward and back-propagation (docs/backprop.md derives it).

A batch X has shape (N, n_0), one sample per row. Layer l has W_l of shape (n_{l-1}, n_l) and b_l of
shape (n_l,):  Z_l = Y_{l-1} W_l + b_l,  Y_l = phi_l(Z_l),  Y_0 = X.
The loss is L = (1/N) sum_i E(y_i, t_i) + (lambda/2) sum_l ||W_l||^2 (biases are not decayed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import ACTIVATIONS, Activation
from .losses import Loss


@dataclass
class Dense:
    """One fully connected layer: W (fan_in, units), b (units,), and its activation."""

    W: np.ndarray
    b: np.ndarray
    activation: Activation

    @property
    def units(self) -> int:
        return self.W.shape[1]


class Network:
    """Dense layers in order. Parameters are views of the layers' arrays, updated in place."""

    def __init__(self, layers: list[Dense]):
        self.layers = layers

    @classmethod
    def from_arrays(cls, weights: list[tuple[np.ndarray, np.ndarray]], activations: list[str]) -> "Network":
        return cls([Dense(W, b, ACTIVATIONS.get(a)()) for (W, b), a in zip(weights, activations)])

    # -- parameters ---------------------------------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        """[n_0, n_1, ..., n_L]: input size then the units of every layer."""
        return [self.layers[0].W.shape[0]] + [layer.units for layer in self.layers]

    @property
    def activation_names(self) -> list[str]:
        return [layer.activation.name for layer in self.layers]

    def parameters(self) -> list[np.ndarray]:
        """[W1, b1, W2, b2, ...]: the arrays themselves (optimizers update them in place)."""
        return [p for layer in self.layers for p in (layer.W, layer.b)]

    def parameter_names(self) -> list[str]:
        return [f"{kind}{i}" for i in range(1, len(self.layers) + 1) for kind in ("W", "b")]

    def parameter_count(self) -> int:
        return sum(p.size for p in self.parameters())

    def state(self) -> dict[str, np.ndarray]:
        """{"W1": ..., "b1": ..., ...}, the layout of weights.npz."""
        return dict(zip(self.parameter_names(), self.parameters()))

    def copy(self, dtype=None) -> "Network":
        return Network([Dense(l.W.astype(dtype or l.W.dtype, copy=True), l.b.astype(dtype or l.b.dtype, copy=True),
                              l.activation) for l in self.layers])

    # -- forward and backward -----------------------------------------------------------------
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Y_L for a batch X (N, n_0); shape (N, n_L)."""
        Y = X
        for layer in self.layers:
            Y = layer.activation.forward(Y @ layer.W + layer.b)
        return Y

    def forward_all(self, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Every layer's pre-activation and output: Zs = [Z_1..Z_L], Ys = [Y_0 = X, Y_1..Y_L]."""
        Zs, Ys = [], [X]
        for layer in self.layers:
            Z = Ys[-1] @ layer.W + layer.b
            Zs.append(Z)
            Ys.append(layer.activation.forward(Z))
        return Zs, Ys

    def loss_value(self, X: np.ndarray, T: np.ndarray, loss: Loss, weight_decay: float = 0.0) -> float:
        """L(X, T) without gradients (the fused, stable value where the output layer allows it)."""
        return self.loss_and_preactivations(X, T, loss, weight_decay)[0]

    def loss_and_preactivations(self, X: np.ndarray, T: np.ndarray, loss: Loss,
                                weight_decay: float = 0.0) -> tuple[float, list[np.ndarray]]:
        """L(X, T) and the pre-activations [Z_1..Z_L] of the same forward pass (gradcheck's kink test)."""
        Zs, Ys = self.forward_all(X)
        return self.data_loss(Zs[-1], Ys[-1], T, loss) + self.decay_value(weight_decay), Zs

    def loss_and_gradients(self, X: np.ndarray, T: np.ndarray, loss: Loss,
                           weight_decay: float = 0.0) -> tuple[float, list[np.ndarray]]:
        """L and [dL/dW1, dL/db1, ...] for one batch (see `backprop`)."""
        value, grads, _ = self.backprop(X, T, loss, weight_decay)
        return value, grads

    def backprop(self, X: np.ndarray, T: np.ndarray, loss: Loss,
                 weight_decay: float = 0.0) -> tuple[float, list[np.ndarray], np.ndarray]:
        """L, [dL/dW1, dL/db1, ...] and the outputs Y_L for one batch, by back-propagation.

        Delta_L = dL/dZ_L: Loss.fused_delta for the fused pairs, else phi_L'(Z_L) applied to dL/dY_L.
        dL/dW_l = Y_{l-1}^T Delta_l + lambda W_l,  dL/db_l = sum over rows of Delta_l,
        Delta_{l-1} = (Delta_l W_l^T) * phi'_{l-1}(Z_{l-1})  (as an activation's backward).
        """
        Zs, Ys = self.forward_all(X)
        value = self.data_loss(Zs[-1], Ys[-1], T, loss) + self.decay_value(weight_decay)
        delta = self.output_delta(Zs[-1], Ys[-1], T, loss)
        grads: list[np.ndarray] = [None] * (2 * len(self.layers))  # type: ignore[list-item]
        for l in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[l]
            gW = Ys[l].T @ delta
            if weight_decay:
                gW += layer.W.dtype.type(weight_decay) * layer.W
            grads[2 * l] = gW
            grads[2 * l + 1] = delta.sum(axis=0)
            if l > 0:
                below = self.layers[l - 1]
                delta = below.activation.backward(Zs[l - 1], Ys[l], delta @ layer.W.T)
        return value, grads, Ys[-1]

    def output_delta(self, Z: np.ndarray, Y: np.ndarray, T: np.ndarray, loss: Loss) -> np.ndarray:
        """dL/dZ_L of the data term."""
        if self.is_fused(loss):
            return loss.fused_delta(Y, T)
        return self.layers[-1].activation.backward(Z, Y, loss.gradient(Y, T))

    def is_fused(self, loss: Loss) -> bool:
        return loss.fused_activation is not None and loss.fused_activation == self.layers[-1].activation.name

    def data_loss(self, Z: np.ndarray, Y: np.ndarray, T: np.ndarray, loss: Loss) -> float:
        """(1/N) sum_i E(y_i, t_i) from the output layer's Z and Y (fused value where it applies)."""
        return loss.fused_value(Z, T) if self.is_fused(loss) else loss.value(Y, T)

    def decay_value(self, weight_decay: float) -> float:
        """(lambda/2) sum_l ||W_l||^2."""
        if not weight_decay:
            return 0.0
        return 0.5 * weight_decay * float(sum(np.vdot(l.W, l.W) for l in self.layers))
