"""Optimizers: `step(params, grads, lr)` updates every parameter array in place.

The gradients already contain weight decay (lambda W, see network.py), so every optimizer follows the same
L2 convention. `lr` is passed at each step so that a schedule can change it; the optimizer's state
(`state()` / `load_state()`) is what a checkpoint saves for an exact resume.

`Optimizer.stacked(options)` makes one optimizer for a stack of K networks (parameters with a leading
stack axis): each numeric option and `lr` are then arrays (K, 1, 1) of the members' values, and a step
does each member's update with the arithmetic of its own optimizer.
"""

from __future__ import annotations

import numpy as np
from types import SimpleNamespace
from typing import Any, Callable

from pydantic import Field

from ..options import Options
from ..registry import Registry
from .hyper import Distinct, cast, nonzero, per_member

OPTIMIZERS: Registry[type["Optimizer"]] = Registry("optimizer")


class Optimizer:
    name: str = ""
    Options = Options
    #: state slots whose values are never negative (a checkpoint holding negative ones is damaged)
    non_negative_slots: tuple[str, ...] = ()

    def __init__(self, **options):
        self.options = self.Options(**options)
        self.t = 0  # number of steps taken
        self.slots: dict[str, list[np.ndarray]] = {}
        self._scratch_for: list[np.ndarray] = []  # the parameter arrays _scratch was made for
        self._scratch: list[list[np.ndarray]] = [[]]
        self._distinct: dict[str, Distinct] = {}

    @classmethod
    def stacked(cls, options: list[dict[str, Any]]) -> "Optimizer":
        """One optimizer for a stack of len(options) networks: each member's options are validated as for
        a single network; numeric ones become arrays (K, 1, 1), the others (nesterov) must be equal."""
        models = [cls.Options(**o) for o in options]
        opt = cls(**options[0])
        values: dict[str, Any] = {}
        for name in cls.Options.model_fields:
            column = [getattr(m, name) for m in models]
            if isinstance(column[0], bool) or not isinstance(column[0], (int, float)):
                if any(v != column[0] for v in column):
                    raise ValueError(f"the members of a stack must share optimizer.{name}")
                values[name] = column[0]
            else:
                values[name] = per_member(column)
                opt._distinct[name] = Distinct(values[name])
        opt.options = SimpleNamespace(**values)
        return opt

    def keep(self, keep: np.ndarray) -> None:
        """A stack's optimizer once some members have left it: only those where `keep` is True stay."""
        self.slots = {key: [a[keep] for a in arrays] for key, arrays in self.slots.items()}
        for name in self._distinct:
            values = getattr(self.options, name)[keep]
            setattr(self.options, name, values)
            self._distinct[name] = Distinct(values)
        self._scratch_for = []

    def _each(self, name: str, fn: Callable[[float], float]):
        """fn(option `name`): a number, or for a stack each member's (computed once per distinct value)."""
        distinct = self._distinct.get(name)
        return fn(getattr(self.options, name)) if distinct is None else distinct.apply(fn)

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        raise NotImplementedError

    def slot_names(self) -> tuple[str, ...]:
        """The state slots its steps keep with these options (each an array per parameter, zero at first)."""
        return ()

    def _slot(self, key: str, params: list[np.ndarray]) -> list[np.ndarray]:
        if key not in self.slots:
            self.slots[key] = [np.zeros_like(p) for p in params]
        return self.slots[key]

    def _temps(self, params: list[np.ndarray], k: int) -> list[list[np.ndarray]]:
        """k scratch arrays per parameter (its shape and dtype), made for these parameter arrays once and
        reused by every step: an update allocates nothing. Not state (a checkpoint does not hold them)."""
        made = self._scratch_for
        if (len(made) != len(params) or not self._scratch or len(self._scratch[0]) < k
                or any(a is not p for a, p in zip(made, params))):
            self._scratch_for = list(params)
            self._scratch = [[np.empty_like(p) for _ in range(k)] for p in params]
        return self._scratch

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

    def slot_names(self):
        return ("velocity",) if self.options.momentum else ()

    def step(self, params, grads, lr):
        self.t += 1
        mu = self.options.momentum
        dt = params[0].dtype if params else np.dtype(float)
        lr_, mu_ = cast(lr, dt), cast(mu, dt)
        if not nonzero(mu):
            for p, g, (step,) in zip(params, grads, self._temps(params, 1)):
                p -= np.multiply(g, lr_, out=step)
            return
        nesterov = self.options.nesterov
        for p, g, v, (step,) in zip(params, grads, self._slot("velocity", params), self._temps(params, 1)):
            v *= mu_
            v += g
            if nesterov:  # lr (g + mu v)
                np.add(g, np.multiply(v, mu_, out=step), out=step)
                step *= lr_
            else:
                np.multiply(v, lr_, out=step)
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
    non_negative_slots = ("v",)  # moving averages of squared gradients

    def slot_names(self):
        return ("m", "v")

    def step(self, params, grads, lr):
        self.t += 1
        t = self.t
        b1, b2, eps = self.options.beta1, self.options.beta2, self.options.eps
        c1 = self._each("beta1", lambda b: 1 - b ** t)
        c2 = self._each("beta2", lambda b: 1 - b ** t)
        dt = params[0].dtype if params else np.dtype(float)
        b1_, one_b1, b2_, one_b2 = cast(b1, dt), cast(1 - b1, dt), cast(b2, dt), cast(1 - b2, dt)
        inv_c2, eps_, lr_c1 = cast(1 / c2, dt), cast(eps, dt), cast(lr / c1, dt)
        temps = self._temps(params, 2)
        for p, g, m, v, (t, u) in zip(params, grads, self._slot("m", params), self._slot("v", params), temps):
            m *= b1_
            m += np.multiply(g, one_b1, out=t)
            v *= b2_
            np.multiply(g, g, out=t)
            v += np.multiply(t, one_b2, out=t)
            # (lr / c1) m / (sqrt(v / c2) + eps), in that order of operations
            np.multiply(v, inv_c2, out=t)
            np.sqrt(t, out=t)
            t += eps_
            np.multiply(m, lr_c1, out=u)
            p -= np.divide(u, t, out=u)
