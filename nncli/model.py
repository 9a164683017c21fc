"""A config's network: building it, loading saved weights into it, and describing it.

`build_network(cfg, n_in, rng)` makes the dense layers of `model.layers` with the config's initializer
(or `model.init_from`'s saved weights); `load_weights_into` copies a weights.npz into a network after
checking every name, shape and value; `architecture` and `signature` describe it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .errors import ConfigError, RunDirError
from .nn.activations import ACTIVATIONS
from .nn.initializers import INITIALIZERS
from .nn.network import Dense, Network
from .npyfiles import read_npz

WEIGHTS = "weights.npz"  # the weights file of a run directory


def architecture(sizes: list[int], activations: list[str]) -> str:
    """`2 -> [2 tanh] -> [1 sigmoid]`."""
    return " -> ".join([str(sizes[0])] + [f"[{u} {a}]" for u, a in zip(sizes[1:], activations)])


def config_sizes(cfg: Config) -> list[int]:
    """[n_0, n_1, ..., n_L] of a config whose model.input is known."""
    return [cfg.model.input] + [layer.units for layer in cfg.model.layers]


def parameter_count(sizes: list[int]) -> int:
    """Weights and biases of dense layers of these sizes: sum of (n_{l-1} + 1) n_l."""
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


def signature(cfg: Config) -> dict[str, Any]:
    """What the weights' layout depends on: model.input, model.layers and dtype."""
    return {"input": cfg.model.input, "dtype": cfg.dtype,
            "layers": [{"units": layer.units, "activation": layer.activation} for layer in cfg.model.layers]}


def build_network(cfg: Config, n_in: int, rng: np.random.Generator | None, warm_start: bool = True,
                  init=None) -> Network:
    """Dense layers of the config's sizes and activations, initialised from `rng` with the config's
    initializer (or `init`), or from `init_from` unless `warm_start` is False (a resumed run takes its
    weights from its checkpoint instead)."""
    dtype = np.dtype(cfg.dtype)
    init = init or INITIALIZERS.get(cfg.model.init.name)(**cfg.model.init.options)
    layers, fan_in = [], n_in
    for i, spec in enumerate(cfg.model.layers):
        with np.errstate(over="ignore", invalid="ignore"):  # a value beyond the dtype's range: said below
            W = init(rng, fan_in, spec.units, dtype)
        if not np.isfinite(W).all():
            raise ConfigError(f"gives layer {i} weights beyond the range of {dtype} (NaN or infinite); use "
                              f"a smaller scale or dtype: float64", where="model.init")
        layers.append(Dense(W, np.zeros(spec.units, dtype=dtype), ACTIVATIONS.get(spec.activation)()))
        fan_in = spec.units
    net = Network(layers)
    if cfg.model.init_from and warm_start:
        load_weights_into(net, cfg.model.init_from, where="model.init_from")
    return net


def empty_network(cfg: Config) -> Network:
    """The config's network with zero weights (to load saved weights into); needs model.input."""
    return build_network(cfg, cfg.model.input, None, warm_start=False, init=INITIALIZERS.get("zeros")())


def load_weights_into(net: Network, path: str | Path, where: str) -> None:
    """Copy W1, b1, ... from a weights.npz (or a run directory's) into `net`, checking every shape.
    ConfigError naming `where` (a config path) for anything that does not fit."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS
    if not path.exists():
        raise ConfigError(f"{path} does not exist; give a weights.npz file or a run directory", where=where)
    try:
        arrays = read_npz(path, RunDirError)
    except RunDirError as e:
        raise ConfigError(str(e), where=where) from None
    expected = {name: p.shape for name, p in net.state().items()}
    missing = [k for k in expected if k not in arrays]
    extra = [k for k in arrays if k not in expected]
    if missing or extra:
        raise ConfigError(f"{path} has arrays {sorted(arrays)} but this network needs {list(expected)}",
                          where=where)
    for name, p in net.state().items():
        a = arrays[name]
        if a.shape != p.shape:
            raise ConfigError(f"{name} in {path} has shape {a.shape}, but this network's {name} has shape "
                              f"{p.shape}; the layer sizes must match", where=where)
        if a.dtype.kind not in "fiu" or not np.isfinite(a).all():
            raise ConfigError(f"{name} in {path} is not an array of finite real numbers ({a.dtype})", where=where)
        p[...] = a
