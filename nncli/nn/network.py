"""A stack of dense layers, with batched forward and back-propagation (docs/backprop.md derives it).

A batch X has shape (N, n_0), one sample per row. Layer l has W_l of shape (n_{l-1}, n_l) and b_l of
shape (n_l,):  Z_l = Y_{l-1} W_l + b_l,  Y_l = phi_l(Z_l),  Y_0 = X.
The loss is L = (1/N) sum_i E(y_i, t_i) + (lambda/2) sum_l ||W_l||^2 (biases are not decayed).

A stack of K networks of the same sizes and activations (nncli/stacking.py) is a Network whose arrays have
a leading stack axis: W_l (K, n_{l-1}, n_l), b_l (K, 1, n_l), batches (K, N, n_0) (or (N, n_0) shared by
all), and lambda a number or an array (K, 1, 1). The same code computes every member's forward and
backward pass with np.matmul over the stack, which calls the same BLAS routine on each member's matrices
as on a single network's, so a member's numbers are bit for bit those of the network trained alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import ACTIVATIONS, Activation
from .hyper import cast, nonzero
from .losses import Loss, batch_dot


@dataclass
class Dense:
    """One fully connected layer: W (fan_in, units), b (units,), and its activation (in a stack:
    W (K, fan_in, units), b (K, 1, units))."""

    W: np.ndarray
    b: np.ndarray
    activation: Activation

    @property
    def units(self) -> int:
        return self.W.shape[-1]


class Network:
    """Dense layers in order. Parameters are views of the layers' arrays, updated in place."""

    def __init__(self, layers: list[Dense]):
        self.layers = layers

    @classmethod
    def from_arrays(cls, weights: list[tuple[np.ndarray, np.ndarray]], activations: list[str]) -> "Network":
        return cls([Dense(W, b, ACTIVATIONS.get(a)()) for (W, b), a in zip(weights, activations)])

    # -- parameters ---------------------------------------------------------------------------
    @property
    def stack(self) -> int | None:
        """K, the number of networks of a stack; None for a single network."""
        W = self.layers[0].W
        return W.shape[0] if W.ndim == 3 else None

    @property
    def sizes(self) -> list[int]:
        """[n_0, n_1, ..., n_L]: input size then the units of every layer."""
        return [self.layers[0].W.shape[-2]] + [layer.units for layer in self.layers]

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
    def workspace(self, rows: int) -> "Workspace":
        """Reusable arrays for passes over batches of up to `rows` rows (see Workspace)."""
        last = len(self.layers) - 1
        in_place = [l < last and layer.activation.derivative_from_output for l, layer in enumerate(self.layers)]
        return Workspace(self.sizes, rows, self.layers[0].W.dtype, in_place, self.stack)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Y_L for a batch X (N, n_0); shape (N, n_L). New arrays (see forward_into for reused ones)."""
        Y = X
        for layer in self.layers:
            Z = affine(Y, layer)
            Y = layer.activation.forward(Z, out=Z)
        return Y

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The outputs Y_L (N, n_L) for inputs X (N, n_0): `forward` (Run.predict does the same in chunks)."""
        return self.forward(X)

    def forward_all(self, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Every layer's pre-activation and output: Zs = [Z_1..Z_L], Ys = [Y_0 = X, Y_1..Y_L]."""
        Zs, Ys = [], [X]
        for layer in self.layers:
            Z = affine(Ys[-1], layer)
            Zs.append(Z)
            Ys.append(layer.activation.forward(Z))
        return Zs, Ys

    def forward_into(self, X: np.ndarray, work: "Workspace") -> tuple[np.ndarray, np.ndarray]:
        """Z_L and Y_L (N, n_L) for a batch X of N <= work.rows rows, computed in the workspace's arrays
        (views, valid until its next use): no allocation. Where the workspace says so, a hidden layer's
        Z_l is overwritten by Y_l."""
        n = X.shape[-2]
        if n > work.rows:
            raise ValueError(f"a batch of {n} rows does not fit a workspace of {work.rows} rows")
        Y = X
        for l, layer in enumerate(self.layers):
            Z = affine(Y, layer, out=work.Z[l][..., :n, :])
            Y = layer.activation.forward(Z, out=work.Y[l][..., :n, :])
        return Z, Y

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
        """L and [dL/dW1, dL/db1, ...] for one batch (see `backprop`), in new arrays."""
        value, grads, _ = self.backprop(X, T, loss, weight_decay)
        return value, grads

    def backprop(self, X: np.ndarray, T: np.ndarray, loss: Loss, weight_decay: float = 0.0,
                 work: "Workspace | None" = None) -> tuple[float, list[np.ndarray], np.ndarray]:
        """L, [dL/dW1, dL/db1, ...] and the outputs Y_L for one batch, by back-propagation.

        Delta_L = dL/dZ_L: Loss.fused_delta for the fused pairs, else phi_L'(Z_L) applied to dL/dY_L.
        dL/dW_l = Y_{l-1}^T Delta_l + lambda W_l,  dL/db_l = sum over rows of Delta_l,
        Delta_{l-1} = (Delta_l W_l^T) * phi'_{l-1}(Z_{l-1})  (an activation's backward_at_output).
        With `work` (the training loop's), everything is computed in its arrays and the gradients and
        Y_L returned are views of them, valid until its next use; without, in a fresh workspace.
        """
        n = X.shape[-2]
        work = work if work is not None else self.workspace(n)
        Z, Y = self.forward_into(X, work)
        value = self.data_loss(Z, Y, T, loss) + self.decay_value(weight_decay)
        D, gW, gb = work.gradient_arrays()
        delta = self.output_delta(Z, Y, T, loss, out=D[-1][..., :n, :])
        decay = cast(weight_decay, self.layers[0].W.dtype) if nonzero(weight_decay) else None
        for l in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[l]
            below = X if l == 0 else work.Y[l - 1][..., :n, :]  # Y_{l-1}
            np.matmul(_transposed(below), delta, out=gW[l])
            if decay is not None:
                term = np.multiply(layer.W, decay, out=work.decay_array(l))
                # a stack's members without decay add nothing (not 0 * W, which is NaN for an infinite W)
                np.add(gW[l], term, out=gW[l], where=True if decay.ndim == 0 else decay != 0)
            column_sums(delta, gb[l])
            if l > 0:
                grad = np.matmul(delta, _transposed(layer.W), out=D[l - 1][..., :n, :])  # dL/dY_{l-1}
                delta = through(self.layers[l - 1].activation, work.Z[l - 1][..., :n, :], below, grad)
        return value, [g for pair in zip(gW, gb) for g in pair], Y

    def output_delta(self, Z: np.ndarray, Y: np.ndarray, T: np.ndarray, loss: Loss,
                     out: np.ndarray | None = None) -> np.ndarray:
        """dL/dZ_L of the data term (Y must be the output activation of Z); the fused delta into `out`."""
        if self.is_fused(loss):
            return loss.fused_delta(Y, T, out=out)
        return through(self.layers[-1].activation, Z, Y, loss.gradient(Y, T))

    def is_fused(self, loss: Loss) -> bool:
        return loss.fused_activation is not None and loss.fused_activation == self.layers[-1].activation.name

    def data_loss(self, Z: np.ndarray, Y: np.ndarray, T: np.ndarray, loss: Loss) -> float:
        """(1/N) sum_i E(y_i, t_i) from the output layer's Z and Y (fused value where it applies)."""
        return loss.fused_value(Z, T) if self.is_fused(loss) else loss.value(Y, T)

    def decay_value(self, weight_decay):
        """(lambda/2) sum_l ||W_l||^2 (a stack: each member's, with lambda a number or an array (K, 1, 1))."""
        if not nonzero(weight_decay):
            return 0.0
        if self.stack is None:
            return 0.5 * weight_decay * float(sum(np.vdot(l.W, l.W) for l in self.layers))
        squares = sum(batch_dot(l.W) for l in self.layers)
        decay = np.reshape(weight_decay, -1)
        return np.where(decay == 0, 0.0, 0.5 * decay * squares)  # no decay: 0, even for infinite weights


def _transposed(a: np.ndarray) -> np.ndarray:
    """a.T of a matrix, each member's transpose of a stack (..., m, n) -> (..., n, m)."""
    return a.T if a.ndim == 2 else a.swapaxes(-1, -2)


SMALL_BATCH = 16  # rows up to which a stack's column sums add row by row


def column_sums(delta: np.ndarray, out: np.ndarray) -> np.ndarray:
    """dL/db = the sum of delta's rows, np.sum(delta, axis=-2) into `out` ((n,), or (K, 1, n) for a stack).

    numpy sums the rows of a matrix with more than one column by adding them in order to 0, and it
    reduces a stack's middle axis slowly (an inner loop per row of each member); so a stack of small
    batches with several columns adds its rows the same way in a loop over at most SMALL_BATCH rows: the
    same numbers, several times faster."""
    if delta.ndim == 2 or delta.shape[-1] == 1 or delta.shape[-2] > SMALL_BATCH:
        return np.sum(delta, axis=-2, out=out, keepdims=delta.ndim == 3)
    acc = out[..., 0, :]
    acc[...] = 0
    for r in range(delta.shape[-2]):
        acc += delta[..., r, :]
    return out


def affine(Y: np.ndarray, layer: Dense, out: np.ndarray | None = None) -> np.ndarray:
    """Z = Y W + b for one layer (into `out` when given): one matrix product, the bias added in place."""
    Z = np.matmul(Y, layer.W, out=out)
    return np.add(Z, layer.b, out=Z)


def through(activation: Activation, Z: np.ndarray, Y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dL/dZ from dL/dY = `grad` for Y = phi(Z): in place from Y where the activation's derivative is
    backward_at_output (then Z may already hold Y), else its backward at Z (a new array)."""
    if activation.derivative_from_output:
        return activation.backward_at_output(Y, grad, out=grad)
    return activation.backward(Z, Y, grad)


class Workspace:
    """The arrays of forward and backward passes over batches of up to `rows` rows, allocated once and
    reused by every batch (a smaller batch uses views of their first rows), so that training allocates
    nothing per batch:

      Z[l], Y[l]  (rows, n_l)  pre-activation and output of layer l; one array where in_place[l] (hidden
                               layers whose derivative comes from the output: Z_l is overwritten by Y_l)
      D[l]        (rows, n_l)  Delta_l;  gW[l], gb[l]: the gradients;  decay[l]: lambda W_l
    D, gW and gb are made by the first backward pass and decay by the first with weight decay, so a
    workspace used only for evaluation holds Z and Y alone."""

    def __init__(self, sizes: list[int], rows: int, dtype, in_place: list[bool], stack: int | None = None):
        self.sizes, self.rows, self.dtype = list(sizes), int(rows), np.dtype(dtype)
        self.lead = () if stack is None else (int(stack),)  # the stack axis of every array, if any
        self.Z = [np.empty((*self.lead, self.rows, n), self.dtype) for n in self.sizes[1:]]
        self.Y = [Z if same else np.empty_like(Z) for Z, same in zip(self.Z, in_place)]
        self._gradients: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] | None = None
        self._decay: list[np.ndarray | None] = [None] * (len(self.sizes) - 1)

    def gradient_arrays(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """(D, gW, gb), made on first use."""
        if self._gradients is None:
            shapes = list(zip(self.sizes[:-1], self.sizes[1:]))
            bias = (1,) if self.lead else ()  # a stack's b_l is (K, 1, n_l)
            self._gradients = ([np.empty((*self.lead, self.rows, n), self.dtype) for n in self.sizes[1:]],
                               [np.empty((*self.lead, *s), self.dtype) for s in shapes],
                               [np.empty((*self.lead, *bias, n), self.dtype) for _, n in shapes])
        return self._gradients

    def decay_array(self, l: int) -> np.ndarray:
        """An array of W_l's shape for lambda W_l, made on first use."""
        if self._decay[l] is None:
            self._decay[l] = np.empty((*self.lead, self.sizes[l], self.sizes[l + 1]), self.dtype)
        return self._decay[l]
