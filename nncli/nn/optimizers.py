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
        self._scratch: dict[tuple[int, int], np.ndarray] = {}  # not state: temporaries, reused

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        raise NotImplementedError

    def _slot(self, key: str, params: list[np.ndarray]) -> list[np.ndarray]:
        if key not in self.slots:
            self.slots[key] = [np.zeros_like(p) for p in params]
        return self.slots[key]

    def _temp(self, i: int, p: np.ndarray, k: int = 0) -> np.ndarray:
        """Scratch array k for parameter i (p's shape and dtype), reused across steps: an update
        allocates nothing."""
        key = (i, k)
        a = self._scratch.get(key)
        if a is None or a.shape != p.shape or a.dtype != p.dtype:
            a = self._scratch[key] = np.empty_like(p)
        return a

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
            for i, (p, g) in enumerate(zip(params, grads)):
                p -= np.multiply(g, p.dtype.type(lr), out=self._temp(i, p))
            return
        for i, (p, g, v) in enumerate(zip(params, grads, self._slot("velocity", params))):
            dt = p.dtype.type
            v *= dt(mu)
            v += g
            step = self._temp(i, p)
            if self.options.nesterov:  # lr (g + mu v)
                np.add(g, np.multiply(v, dt(mu), out=step), out=step)
                step *= dt(lr)
            else:
                np.multiply(v, dt(lr), out=step)
            p -= step


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
        for i, (p, g, m, v) in enumerate(zip(params, grads, self._slot("m", params), self._slot("v", params))):
            dt = p.dtype.type
            t, u = self._temp(i, p, 0), self._temp(i, p, 1)
            m *= dt(b1)
            m += np.multiply(g, dt(1 - b1), out=t)
            v *= dt(b2)
            np.multiply(g, g, out=t)
            v += np.multiply(t, dt(1 - b2), out=t)
            # (lr / c1) m / (sqrt(v / c2) + eps), in that order of operations
            np.multiply(v, dt(1 / c2), out=t)
            np.sqrt(t, out=t)
            t += dt(eps)
            np.multiply(m, dt(lr / c1), out=u)
            p -= np.divide(u, t, out=u)
