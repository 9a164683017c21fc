"""Optimizers: `step(params, grads, lr)` updates every parameter array in place.

The gradients already contain weight decay (lambda W, see network.py), so every optimizer follows the same
L2 convention. `lr` is passed at each step so that a schedule can change it; the optimizer's state
(`state()` / `load_state()`) is what a checkpoint saves for an exact resume.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..options import Options
from ..registry import Registry

OPTIMIZERS: Registry[type["Optimizer"]] = Registry("optimizer")


class Optimizer:
    name: str = ""
    Options = Options

    def __init__(self, **options):
        self.options = self.Options(**options)
        self.t = 0  # number of steps taken
        self.slots: dict[str, list[np.ndarray]] = {}

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        raise NotImplementedError

    def _slot(self, key: str, params: list[np.ndarray]) -> list[np.ndarray]:
        if key not in self.slots:
            self.slots[key] = [np.zeros_like(p) for p in params]
        return self.slots[key]

    def state(self) -> dict[str, np.ndarray]:
        """Arrays to checkpoint: {"t": step count, "<slot>.<i>": moment arrays}."""
        out = {"t": np.array(self.t, dtype=np.int64)}
        for key, arrays in self.slots.items():
            out.update({f"{key}.{i}": a for i, a in enumerate(arrays)})
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        slots: dict[str, dict[int, np.ndarray]] = {}
        for name, array in state.items():
            if name != "t":
                key, index = name.rsplit(".", 1)
                slots.setdefault(key, {})[int(index)] = np.array(array)
        self.slots = {k: [v[i] for i in sorted(v)] for k, v in slots.items()}


class SGDOptions(Options):
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """Gradient descent. Without momentum: W <- W - lr g (the lab's step).
    With momentum mu: v <- mu v + g, W <- W - lr v; with nesterov: W <- W - lr (g + mu v)."""

    Options = SGDOptions

    def step(self, params, grads, lr):
        self.t += 1
        mu = self.options.momentum
        if mu == 0:
            for p, g in zip(params, grads):
                p -= p.dtype.type(lr) * g
            return
        for p, g, v in zip(params, grads, self._slot("velocity", params)):
            v *= v.dtype.type(mu)
            v += g
            if self.options.nesterov:
                p -= p.dtype.type(lr) * (g + v.dtype.type(mu) * v)
            else:
                p -= p.dtype.type(lr) * v


class AdamOptions(Options):
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    eps: float = Field(1e-8, gt=0)


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), t counting from 1:
    m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
    W <- W - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)."""

    Options = AdamOptions

    def step(self, params, grads, lr):
        self.t += 1
        b1, b2, eps = self.options.beta1, self.options.beta2, self.options.eps
        c1 = 1 - b1 ** self.t
        c2 = 1 - b2 ** self.t
        for p, g, m, v in zip(params, grads, self._slot("m", params), self._slot("v", params)):
            dt = p.dtype.type
            m *= dt(b1)
            m += dt(1 - b1) * g
            v *= dt(b2)
            v += dt(1 - b2) * (g * g)
            p -= dt(lr / c1) * m / (np.sqrt(v * dt(1 / c2)) + dt(eps))
