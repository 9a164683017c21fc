"""Learning-rate schedules, evaluated once per epoch: `lr(epoch)`, epochs counted from 1.

Every schedule takes an optional linear warm-up of `warmup` epochs: epoch e <= warmup uses
base_lr * e / (warmup + 1); after it, the schedule runs with its epochs counted from the end of warm-up.
"""

from __future__ import annotations

import math

from pydantic import Field

from ..options import Options
from ..registry import Registry

SCHEDULES: Registry[type["Schedule"]] = Registry("schedule")


class ScheduleOptions(Options):
    warmup: int = Field(0, ge=0, strict=True)


class Schedule:
    name: str = ""
    Options = ScheduleOptions

    def __init__(self, base_lr: float, epochs: int, **options):
        self.base_lr = base_lr
        self.epochs = epochs
        self.options = self.Options(**options)

    def lr(self, epoch: int) -> float:
        w = self.options.warmup
        if epoch <= w:
            return self.base_lr * epoch / (w + 1)
        return self.after_warmup(epoch - w, max(self.epochs - w, 1))

    def after_warmup(self, e: int, total: int) -> float:
        """The rate at epoch e (1..total) of the schedule proper."""
        raise NotImplementedError


@SCHEDULES.register("constant")
class Constant(Schedule):
    """lr = base_lr."""

    def after_warmup(self, e, total):
        return self.base_lr


class StepOptions(ScheduleOptions):
    step_size: int = Field(10, ge=1, strict=True)
    gamma: float = Field(0.1, gt=0, le=1)


@SCHEDULES.register("step")
class Step(Schedule):
    """lr = base_lr * gamma^floor((e - 1) / step_size): multiplied by gamma every step_size epochs."""

    Options = StepOptions

    def after_warmup(self, e, total):
        return self.base_lr * self.options.gamma ** ((e - 1) // self.options.step_size)


class ExponentialOptions(ScheduleOptions):
    gamma: float = Field(0.95, gt=0, le=1)


@SCHEDULES.register("exponential")
class Exponential(Schedule):
    """lr = base_lr * gamma^(e - 1)."""

    Options = ExponentialOptions

    def after_warmup(self, e, total):
        return self.base_lr * self.options.gamma ** (e - 1)


class CosineOptions(ScheduleOptions):
    min_lr: float = Field(0.0, ge=0)


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    """lr = min_lr + (base_lr - min_lr) (1 + cos(pi (e - 1) / total)) / 2: from base_lr towards min_lr."""

    Options = CosineOptions

    def after_warmup(self, e, total):
        lo = self.options.min_lr
        return lo + (self.base_lr - lo) * 0.5 * (1 + math.cos(math.pi * (e - 1) / total))
