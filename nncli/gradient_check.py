"""Gradient checking: back-propagation against central finite differences, in float64.

For one parameter entry w the numerical derivative is the central difference

    n = (L(w + eps) - L(w - eps)) / ((w + eps) - (w - eps))

of the objective `Network.loss_value` (mean error plus weight decay), on a float64 copy of the network
whatever dtype it trains in. The analytic derivative a comes from `Network.loss_and_gradients`, the very
back-propagation that training uses. An entry's error is

    abs = |a - n|,    rel = |a - n| / max(|a|, |n|, floor)

and the entry passes when rel <= tol. The floor makes tol * floor an absolute floor: near an exactly zero
gradient, the round-off noise of a finite difference (a few 1e-16 |L| / eps, measured up to ~1e-10) is
not a 100% error. Defaults (DEFAULT_EPS, DEFAULT_TOL, DEFAULT_FLOOR): eps 1e-5 (near the float64 optimum
between round-off ~1e-16 |L| / eps and truncation ~eps^2 |d3L/dw3|), tol 1e-5, floor 1e-4, so an entry
passes when |a - n| <= max(1e-5 max(|a|, |n|), 1e-9). A correct float64 back-propagation stays below
~1e-6 relative (the built-in suite: 1e-6 at most); a wrong derivative or a missing weight-decay term
gives errors of 1e-3 and more.

Kinks: an activation lists the points where its derivative jumps in `Activation.kinks` (relu and
leaky_relu at 0). A central difference across a kink measures the average of the two one-sided slopes,
not the derivative. So for every perturbed entry, the pre-activations of every layer whose activation has
kinks are compared between w - eps and w + eps: if a unit's pre-activation moves and either changes side
of a kink or lies within eps of it, the entry is skipped and counted in `skipped`.

Large networks: `max_params` checks a seeded random subset of at most that many entries of each tensor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .batches import config_batch
from .config import Config
from .errors import ConfigError, argument
from .model import architecture
from .nn.losses import Loss
from .nn.network import Network

DEFAULT_EPS = 1e-5
DEFAULT_TOL = 1e-5
DEFAULT_FLOOR = 1e-4
DEFAULT_MAX_PARAMS = 1000  # per tensor; 0 checks every entry
DEFAULT_SAMPLES = 8
MIN_EPS = 1e-12  # below, (L(w + eps) - L(w - eps)) / 2eps is round-off (or 0/0)


@dataclass(frozen=True)
class Tolerance:
    """Step and pass criterion of the check (see the module docstring)."""

    eps: float = DEFAULT_EPS
    tol: float = DEFAULT_TOL
    floor: float = DEFAULT_FLOOR

    def validate(self) -> None:
        for key in ("eps", "tol", "floor"):
            value = getattr(self, key)
            if not (np.isfinite(value) and value > 0):
                raise ConfigError(f"must be a positive number, got {value!r}", where=argument(key))
        if self.eps >= 1:
            raise ConfigError(f"is a finite-difference step and must be small (e.g. 1e-6), got {self.eps!r}",
                              where=argument("eps"))
        if self.eps < MIN_EPS:
            raise ConfigError(f"is a finite-difference step below {MIN_EPS:g}, where float64 round-off is all a "
                              f"difference measures (w + eps rounds to w); use e.g. 1e-6, got {self.eps!r}",
                              where=argument("eps"))


@dataclass
class TensorResult:
    """The check of one parameter tensor (W_l or b_l, l counted from 1)."""

    name: str
    layer: int
    kind: str
    activation: str
    shape: tuple[int, ...]
    size: int
    checked: int
    skipped: int
    failed: int
    max_abs_error: float
    max_rel_error: float
    #: the entry with the largest relative error: {"index", "analytic", "numerical"} (None if none checked)
    worst: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        d["max_abs_error"], d["max_rel_error"] = json_float(self.max_abs_error), json_float(self.max_rel_error)
        if self.worst:
            d["worst"] = {k: json_float(v) if isinstance(v, float) else v for k, v in self.worst.items()}
        d["passed"] = self.passed
        return d


def json_float(v: float | None) -> float | None:
    """JSON has no NaN or infinity: a NaN or infinite error (a NaN gradient) becomes null."""
    return v if v is None or np.isfinite(v) else None


class Verdict:
    """`passed` and `failing` of anything holding `tensors: list[TensorResult]`."""

    tensors: list[TensorResult]

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.tensors)

    @property
    def failing(self) -> list[str]:
        return [t.name for t in self.tensors if not t.passed]


@dataclass
class Report(Verdict):
    """The check of one network on one batch: a TensorResult per parameter tensor, in order W1, b1, ..."""

    architecture: str
    loss: str
    weight_decay: float
    samples: int
    dtype: str
    data: str
    tolerance: Tolerance
    max_params: int
    seed: int
    tensors: list[TensorResult]
    checked_dtype: str = "float64"


    def totals(self) -> dict[str, Any]:
        checked = [t for t in self.tensors if t.checked]
        return {
            "tensors": len(self.tensors),
            "checked": sum(t.checked for t in self.tensors),
            "skipped": sum(t.skipped for t in self.tensors),
            "failed": sum(t.failed for t in self.tensors),
            "max_abs_error": json_float(max((t.max_abs_error for t in checked), default=None)),
            "max_rel_error": json_float(max((t.max_rel_error for t in checked), default=None)),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failing": self.failing,
            "architecture": self.architecture,
            "loss": self.loss,
            "weight_decay": self.weight_decay,
            "samples": self.samples,
            "data": self.data,
            "dtype": self.dtype,
            "checked_dtype": self.checked_dtype,
            "tolerance": asdict(self.tolerance),
            "max_params": self.max_params,
            "seed": self.seed,
            "totals": self.totals(),
            "tensors": [t.to_dict() for t in self.tensors],
        }


# -- the check itself -----------------------------------------------------------------------------
def _selection(size: int, max_params: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of the entries to check: all of them, or a seeded random subset of `max_params`."""
    if max_params <= 0 or size <= max_params:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_params, replace=False))


def _crosses_kink(net: Network, Zs_plus: list[np.ndarray], Zs_minus: list[np.ndarray], eps: float) -> bool:
    """True if a pre-activation that the perturbation moves changes side of a kink or lies within eps
    of one (at w + eps or at w - eps), in any layer whose activation has kinks."""
    for layer, zp, zm in zip(net.layers, Zs_plus, Zs_minus):
        if not layer.activation.kinks:
            continue
        moved = zp != zm
        if not moved.any():
            continue
        zp, zm = zp[moved], zm[moved]
        for k in layer.activation.kinks:
            if np.any((np.sign(zp - k) != np.sign(zm - k)) | (np.abs(zp - k) <= eps) | (np.abs(zm - k) <= eps)):
                return True
    return False


@dataclass
class Differences:
    """Central differences of one parameter tensor: `numerical` (its shape) holds n at the `checked`
    entries; `skipped` entries were selected but their difference crosses a kink."""

    numerical: np.ndarray
    checked: np.ndarray
    skipped: np.ndarray


def numerical_gradients(net64: Network, X: np.ndarray, T: np.ndarray, loss: Loss, weight_decay: float,
                        eps: float, max_params: int = 0,
                        rng: np.random.Generator | None = None) -> list[Differences]:
    """Central differences n = (L(w + eps) - L(w - eps)) / ((w + eps) - (w - eps)) of the objective for
    the entries of every parameter tensor of `net64` (float64, perturbed and restored in place), in order
    W1, b1, ...; every entry, or at most `max_params` > 0 seeded random entries per tensor from `rng`."""
    rng = rng if rng is not None else np.random.default_rng(0)
    has_kinks = any(layer.activation.kinks for layer in net64.layers)
    out = []
    for p in net64.parameters():
        d = Differences(np.full(p.shape, np.nan), np.zeros(p.shape, bool), np.zeros(p.shape, bool))
        for flat in _selection(p.size, max_params, rng):
            ij = np.unravel_index(flat, p.shape)
            w = p[ij]
            p[ij] = w + eps
            (up, Zs_up), step_up = net64.loss_and_preactivations(X, T, loss, weight_decay), p[ij]
            p[ij] = w - eps
            (down, Zs_down), step_down = net64.loss_and_preactivations(X, T, loss, weight_decay), p[ij]
            p[ij] = w
            if has_kinks and _crosses_kink(net64, Zs_up, Zs_down, eps):
                d.skipped[ij] = True
            else:
                d.numerical[ij] = (up - down) / (step_up - step_down)
                d.checked[ij] = True
        out.append(d)
    return out


def relative_error(a: np.ndarray, n: np.ndarray, floor: float) -> np.ndarray:
    """rel = |a - n| / max(|a|, |n|, floor), element-wise; a NaN (a NaN gradient) becomes infinity."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        rel = np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return np.where(np.isnan(rel), np.inf, rel)


def check_network(net: Network, X: np.ndarray, T: np.ndarray, loss: Loss, weight_decay: float = 0.0, *,
                  tolerance: Tolerance = Tolerance(), max_params: int = 0,
                  rng: np.random.Generator | None = None) -> list[TensorResult]:
    """Compare back-propagation with central differences for every parameter tensor of `net`.

    X (N, n_0) and T (N, n_L) are one batch. `net` is not modified: the check runs on
    `net.copy(dtype=float64)`. `max_params` > 0 limits each tensor to a random subset drawn from `rng`.
    """
    tolerance.validate()
    net64 = net.copy(dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    _, grads = net64.loss_and_gradients(X, T, loss, weight_decay)
    diffs = numerical_gradients(net64, X, T, loss, weight_decay, tolerance.eps, max_params, rng)
    results = []
    for name, p, g, d in zip(net64.parameter_names(), net64.parameters(), grads, diffs):
        a, n = g[d.checked], d.numerical[d.checked]
        abs_err = np.abs(a - n)
        rel_err = relative_error(a, n, tolerance.floor)
        layer_no = int(name[1:])
        worst = None
        if a.size:
            k = int(np.argmax(rel_err))
            worst = {"index": [int(i) for i in np.unravel_index(np.flatnonzero(d.checked)[k], p.shape)],
                     "analytic": float(a[k]), "numerical": float(n[k])}
        results.append(TensorResult(
            name=name, layer=layer_no, kind=name[0], activation=net64.layers[layer_no - 1].activation.name,
            shape=tuple(p.shape), size=int(p.size), checked=int(a.size), skipped=int(d.skipped.sum()),
            failed=int(np.sum(~(rel_err <= tolerance.tol))),
            max_abs_error=float(abs_err.max()) if a.size else 0.0,
            max_rel_error=float(rel_err.max()) if a.size else 0.0, worst=worst))
    return results


# -- a config's network ---------------------------------------------------------------------------
def check_config(cfg: Config, *, samples: int = DEFAULT_SAMPLES, tolerance: Tolerance = Tolerance(),
                 max_params: int = DEFAULT_MAX_PARAMS, random_data: bool = False,
                 source: str | None = None) -> Report:
    """Check the network `cfg` builds (the one `nncli train` starts from) on `samples` seeded random rows of its training
    data. If the data cannot be loaded, the DataError is the answer, unless `random_data` asks for
    random inputs of the config's input size (model.input) instead. `source` names the config in messages.
    """
    tolerance.validate()
    if samples < 1:
        raise ConfigError(f"must be at least 1, got {samples}", where=argument("samples"))
    if max_params < 0:
        raise ConfigError(f"must be 0 (every entry) or a positive number, got {max_params}",
                          where=argument("max_params"))
    rng = np.random.default_rng(cfg.seed)
    b = config_batch(cfg, samples, rng, random_data=random_data)
    net, loss, X, T = b.net, b.loss, b.X, b.T
    tensors = check_network(net, X, T, loss, cfg.weight_decay, tolerance=tolerance, max_params=max_params,
                            rng=rng)
    return Report(architecture=architecture(net.sizes, net.activation_names), loss=cfg.loss,
                  weight_decay=cfg.weight_decay, samples=len(X), dtype=cfg.dtype, data=b.data,
                  tolerance=tolerance, max_params=max_params, seed=cfg.seed, tensors=tensors)
