"""Weight initializers: `init(rng, fan_in, fan_out, dtype)` returns W of shape (fan_in, fan_out).
Biases always start at 0. All randomness comes from the run's numpy Generator."""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from ..options import Options
from ..registry import Registry

INITIALIZERS: Registry[type["Initializer"]] = Registry("initializer")


class Initializer:
    name: str = ""
    Options = Options

    def __init__(self, **options):
        self.options = options

    def __call__(self, rng: np.random.Generator, fan_in: int, fan_out: int, dtype) -> np.ndarray:
        return self.sample(rng, fan_in, fan_out).astype(dtype, copy=False)

    def sample(self, rng, fan_in, fan_out) -> np.ndarray:
        raise NotImplementedError


def _clipped_normal(rng, sd, shape):
    """Normal(0, sd^2) values clipped to [-2 sd, 2 sd] (the lab's R code clips rather than resamples)."""
    return np.clip(rng.normal(0.0, sd, size=shape), -2 * sd, 2 * sd)


@INITIALIZERS.register("glorot_normal")
class GlorotNormal(Initializer):
    """The lab's initializer: N(0, sd^2) with sd = sqrt(2 / (fan_in + fan_out)), clipped at +-2 sd."""

    def sample(self, rng, fan_in, fan_out):
        return _clipped_normal(rng, math.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))


@INITIALIZERS.register("glorot_uniform")
class GlorotUniform(Initializer):
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""

    def sample(self, rng, fan_in, fan_out):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))


@INITIALIZERS.register("he_normal")
class HeNormal(Initializer):
    """N(0, sd^2) with sd = sqrt(2 / fan_in), clipped at +-2 sd (He et al., 2015; for ReLU layers)."""

    def sample(self, rng, fan_in, fan_out):
        return _clipped_normal(rng, math.sqrt(2.0 / fan_in), (fan_in, fan_out))


@INITIALIZERS.register("he_uniform")
class HeUniform(Initializer):
    """U(-l, l) with l = sqrt(6 / fan_in)."""

    def sample(self, rng, fan_in, fan_out):
        limit = math.sqrt(6.0 / fan_in)
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))


@INITIALIZERS.register("lecun_normal")
class LecunNormal(Initializer):
    """N(0, sd^2) with sd = sqrt(1 / fan_in), clipped at +-2 sd."""

    def sample(self, rng, fan_in, fan_out):
        return _clipped_normal(rng, math.sqrt(1.0 / fan_in), (fan_in, fan_out))


class NormalOptions(Options):
    std: float = Field(0.01, gt=0)


@INITIALIZERS.register("normal")
class Normal(Initializer):
    """N(0, std^2), not clipped (`init: {name: normal, std: 0.1}`)."""

    Options = NormalOptions

    def sample(self, rng, fan_in, fan_out):
        return rng.normal(0.0, self.options.get("std", 0.01), size=(fan_in, fan_out))


class UniformOptions(Options):
    limit: float = Field(0.05, gt=0)


@INITIALIZERS.register("uniform")
class Uniform(Initializer):
    """U(-limit, limit) (`init: {name: uniform, limit: 0.5}`)."""

    Options = UniformOptions

    def sample(self, rng, fan_in, fan_out):
        limit = self.options.get("limit", 0.05)
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))


@INITIALIZERS.register("zeros")
class Zeros(Initializer):
    """All zeros: every hidden unit stays identical (shows why symmetry must be broken)."""

    def sample(self, rng, fan_in, fan_out):
        return np.zeros((fan_in, fan_out))
