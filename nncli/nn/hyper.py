"""Hyper-parameters of one network (numbers) or of a stack of K networks (arrays (K, 1, 1), one value per
member, broadcast over each member's arrays), and the few operations the engine does on them."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def nonzero(value) -> bool:
    """Whether a hyper-parameter is not zero (for a stack: not zero for some member)."""
    return bool(value.any()) if isinstance(value, np.ndarray) else bool(value)


def cast(value, dtype: np.dtype):
    """A hyper-parameter in the training dtype: a number as a numpy scalar, an array as an array."""
    return dtype.type(value) if not isinstance(value, np.ndarray) else value.astype(dtype, copy=False)


def per_member(values: list[float]) -> np.ndarray:
    """One value per member of a stack, as an array (K, 1, 1) of float64 (what Python floats are)."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 1, 1)


class Distinct:
    """`apply(fn)` evaluates a function of Python floats at each member's value of a hyper-parameter
    (array (K, 1, 1)), once per distinct value: the same float arithmetic (Python's ** for instance) as a
    single network's, at the cost of a few calls rather than K."""

    def __init__(self, values: np.ndarray):
        self.shape = values.shape
        self.unique, self.inverse = np.unique(values.reshape(-1), return_inverse=True)
        self.unique = self.unique.tolist()

    def apply(self, fn: Callable[[float], Any]) -> np.ndarray:
        return np.array([fn(u) for u in self.unique], dtype=np.float64)[self.inverse].reshape(self.shape)


class MemberValues:
    """A number per member of a stack (weight decay): `value` is a float when the members share it (then
    the arithmetic is a single network's), else an array (K, 1, 1)."""

    def __init__(self, values: list[float]):
        self.values = np.asarray(values, dtype=np.float64)
        self._set()

    def _set(self) -> None:
        v = self.values
        self.value = float(v[0]) if (v == v[0]).all() else per_member(v)

    def keep(self, keep: np.ndarray) -> None:
        """Only the members where `keep` is True (the others left the stack)."""
        self.values = self.values[keep]
        self._set()


class ScheduleRates:
    """Each member's learning rate at an epoch, from its learning-rate schedule: computed once per
    distinct schedule (name, options, base rate, epochs), so K members with three rates cost three calls."""

    def __init__(self, schedules: list):
        keys = [(type(s), s.base_lr, s.epochs, tuple(sorted(s.options.model_dump().items()))) for s in schedules]
        distinct = list(dict.fromkeys(keys))
        self.schedules = [schedules[keys.index(key)] for key in distinct]
        self.index = np.array([distinct.index(key) for key in keys])

    def at(self, epoch: int):
        """A float when every member has the same rate, else an array (K, 1, 1)."""
        rates = [s.lr(epoch) for s in self.schedules]
        if len(rates) == 1:
            return rates[0]
        return per_member(np.asarray(rates)[self.index])

    def keep(self, keep: np.ndarray) -> None:
        """Only the members where `keep` is True (the others left the stack)."""
        self.index = self.index[keep]
