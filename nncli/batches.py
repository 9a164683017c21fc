"""The batch that gradcheck and trace work on: the network a config builds and a few seeded rows of its
training data (or, when the data cannot be loaded and it is asked for, random inputs with targets that
fit the output layer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config
from .errors import ConfigError, DataError, argument
from .model import build_network
from .nn.activations import Activation
from .nn.losses import LOSSES, Loss
from .nn.network import Network
from .runner import rngs, run_data


# -- targets for random data ----------------------------------------------------------------------
def random_targets(activation: Activation, n: int, units: int, rng: np.random.Generator) -> np.ndarray:
    """Targets (n, units) in the range of an output activation, for any registered loss:
    one-hot rows when its outputs are normalised rows (softmax), 0/1 when its range is [0, 1] (sigmoid),
    uniform inside another bounded range (tanh), standard normal otherwise (linear, relu)."""
    lo, hi = activation.output_range
    if units > 1 and activation.normalised_rows:
        return np.eye(units)[rng.integers(0, units, n)]
    if (lo, hi) == (0.0, 1.0):
        return rng.integers(0, 2, (n, units)).astype(np.float64)
    if np.isfinite(lo) and np.isfinite(hi):
        return rng.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo), (n, units))
    return rng.normal(size=(n, units))


# -- a config's network and a batch ---------------------------------------------------------------
@dataclass
class Batch:
    """The network a config builds (the one `nncli train` starts from: same seed and init, or the weights
    of model.init_from), its loss, and one batch: X (N, n_0) and T (N, n_L), `rows` their indices in the
    training split (None: random inputs), `data` a description for people."""

    net: Network
    loss: Loss
    X: np.ndarray
    T: np.ndarray
    rows: np.ndarray | None
    data: str


def config_batch(cfg: Config, samples: int, rng: np.random.Generator, *, random_data: bool = False,
                 exact: str | None = None) -> Batch:
    """The config's network and `samples` seeded random rows of its training data (drawn from `rng`,
    in their order in the data; all of them when the data has fewer, unless `exact` names the parameter
    that asked for `samples`: then more rows than the data has is a ConfigError). If the data cannot be
    loaded, the DataError is the answer, unless `random_data` asks for standard-normal inputs of the
    config's input size (model.input) and targets that fit the output layer."""
    try:
        d = run_data(cfg)
    except DataError as e:
        if not random_data:
            raise
        return _random_batch(cfg, samples, rng, reason=str(e))
    n_in, n = d.dataset.n_features, len(d.train.X)
    if cfg.model.input is not None and cfg.model.input != n_in:
        raise ConfigError(f"is {cfg.model.input}, but the {d.dataset.name} data has {n_in} features per "
                          f"sample", where="model.input")
    if exact and samples > n:
        raise ConfigError(f"asks for {samples} rows, but the training data of {d.dataset.name} has {n}; use at "
                          f"most {n}", where=argument(exact))
    net, loss = build_network(cfg, n_in, rngs(cfg.seed)["init"]), LOSSES.get(cfg.loss)()
    rows = np.sort(rng.choice(n, size=min(samples, n), replace=False))
    return Batch(net, loss, d.train.X[rows], d.train.T[rows], rows,
                 f"{len(rows)} of the {n} training rows of {d.dataset.name}")


def _random_batch(cfg: Config, samples: int, rng: np.random.Generator, reason: str) -> Batch:
    """The config's network with random standard-normal inputs and targets fitting its output layer."""
    n_in = cfg.model.input
    if n_in is None:
        raise ConfigError(f"the data cannot be loaded ({reason}), and without it the input size is unknown; "
                          f"set it, e.g. model.input=784, to use {argument('random_data')}", where="model.input")
    net = build_network(cfg, n_in, rngs(cfg.seed)["init"])
    loss = LOSSES.get(cfg.loss, where="loss")()
    X = rng.normal(size=(samples, n_in))
    T = random_targets(net.layers[-1].activation, samples, net.layers[-1].units, rng)
    return Batch(net, loss, X, T, None, f"{samples} random rows (the data could not be loaded: {reason})")
