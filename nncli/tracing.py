"""One step of back-propagation with a network's own numbers: every quantity of docs/backprop.md on a batch.

Each quantity is computed by the function training uses, called as training calls it (nothing here
re-implements the math):

    X, T                    rows of the training split (runner.run_data, via batches.config_batch)
    Z_l, Y_l                Network.forward_all
    L                       Network.data_loss + Network.decay_value; the total is Network.backprop's value
    dL/dY_L                 Loss.gradient (only where the output pair is not fused)
    Delta_L                 Network.output_delta
    grad W_l, grad b_l      Network.backprop: the very gradients an optimizer step uses
    Delta_{l-1}             the activation's backward, with the arguments Network.backprop gives it
    G_l (per_sample)        the outer products y_i^{l-1} (delta_i^l)^T, shape (N, n_{l-1}, n_l), one einsum;
                            their sum over i plus lambda W_l is grad W_l
    step (step=True)        the optimizer's own `step` on a copy of the parameters

Next to every gradient entry: its central difference (gradient_check.numerical_gradients on a float64
copy, as gradcheck computes it) and the relative error |a - n| / max(|a|, |n|, floor).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .batches import config_batch
from .config import Config, apply_overrides, validate
from .errors import ConfigError, DataError, RunDirError, argument
from .gradient_check import DEFAULT_SAMPLES, Tolerance, numerical_gradients, relative_error
from .model import architecture
from .nn.losses import Loss
from .nn.network import Network
from .nn.optimizers import OPTIMIZERS
from .nn.schedules import SCHEDULES
from .readers import read_yaml_mapping
from .runs import CONFIG, WEIGHTS, RunDir

DEFAULT_ROWS = DEFAULT_SAMPLES  # the batch: gradcheck's rows, so the two agree entry for entry
#: central differences for at most this many seeded entries per tensor: every entry of a small network;
#: of a large one (where the trace shows only a summary) enough to judge it, 10x faster than gradcheck's 1000
DEFAULT_MAX_PARAMS = 100

#: the formulas as docs/backprop.md writes them (tests/test_tracing.py finds each one there)
FORMULAS = {
    "Z": "Z_l = Y_{l-1} @ W_l + b_l",
    "Y": "Y_l = phi_l(Z_l)",
    "L": "L = (1/N) sum_i E(y_i, t_i)  +  (lambda/2) sum_l ||W_l||^2",
    "dY": "dL/dY_L = (1/N) dE/dy",
    "fused": "Delta_L = (Y_L - T) / N",
    "Delta_L": "Delta_L = dL/dY_L * phi'_L(Z_L)",
    "gW": "grad W_l = Y_{l-1}^T @ Delta_l + lambda W_l",
    "gb": "grad b_l = column sums of Delta_l",
    "Delta": "Delta_{l-1} = (Delta_l @ W_l^T) * phi'_{l-1}(Z_{l-1})",
    "G": "G_l[i] = outer(Y_{l-1}[i], Delta_l[i])",
}


def formula(key: str, l: int | None = None, last: int | None = None) -> str:
    """FORMULAS[key] with the layer numbers filled in: l (and l-1), and L = `last`."""
    text = FORMULAS[key]
    if l is not None:
        text = re.sub(r"_l\b", f"_{l}", text.replace("{l-1}", str(l - 1)))
    if last is not None:
        text = re.sub(r"_L\b", f"_{last}", text)
    return text


@dataclass
class Quantity:
    """One quantity of the derivation. `formula` is the docs' formula for this layer, `generic` as the docs
    write it (None for the data); `function` the code that computes it. Gradients carry `numerical` (central
    differences, float64; NaN where not checked), `rel_error` (NaN where not checked) and `skipped` (entries
    whose difference crosses an activation's kink); per-sample tensors carry `sum_error`:
    max |sum_i G_l[i] + lambda W_l - grad W_l|."""

    name: str
    stage: str  # forward | loss | backward | step
    formula: str
    generic: str | None
    function: str
    value: np.ndarray
    numerical: np.ndarray | None = None
    rel_error: np.ndarray | None = None
    skipped: np.ndarray | None = None
    sum_error: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "stage": self.stage, "formula": self.formula, "generic": self.generic,
             "function": self.function, "shape": list(np.shape(self.value)), "value": np.asarray(self.value)}
        if self.numerical is not None:
            d.update(numerical=self.numerical, rel_error=self.rel_error, skipped=self.skipped,
                     checked=int(np.count_nonzero(~np.isnan(self.rel_error))),
                     max_rel_error=max_rel_error(self))
        if self.sum_error is not None:
            d["sum_error"] = self.sum_error
        return d


def max_rel_error(q: Quantity) -> float | None:
    """The largest relative error over the checked entries of a gradient (None when none was checked)."""
    rel = q.rel_error[~np.isnan(q.rel_error)] if q.rel_error is not None else np.zeros(0)
    return float(rel.max()) if rel.size else None


@dataclass
class Trace:
    """The quantities in the order of the derivation, and what they were computed on."""

    architecture: str
    loss: str
    fused: bool
    weight_decay: float
    dtype: str
    data: str
    rows: list[int] | None
    weights: str
    tolerance: Tolerance
    max_params: int
    quantities: list[Quantity]
    step: dict[str, Any] | None = None  # optimizer, options, lr, epoch, rule (with step=True)

    def get(self, name: str) -> Quantity:
        return next(q for q in self.quantities if q.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"architecture": self.architecture, "loss": self.loss, "fused": self.fused,
                "weight_decay": self.weight_decay, "dtype": self.dtype, "data": self.data, "rows": self.rows,
                "weights": self.weights, "eps": self.tolerance.eps, "floor": self.tolerance.floor,
                "max_params": self.max_params, "step": self.step,
                "quantities": [q.to_dict() for q in self.quantities]}


# -- the derivation on one batch ------------------------------------------------------------------
def trace_network(net: Network, X: np.ndarray, T: np.ndarray, loss: Loss, weight_decay: float = 0.0, *,
                  per_sample: bool = False, tolerance: Tolerance = Tolerance(), max_params: int = 0,
                  rng: np.random.Generator | None = None,
                  random_rows: bool = False) -> tuple[list[Quantity], list[np.ndarray]]:
    """The quantities of forward pass, loss and backward pass for the batch X (N, n_0), T (N, n_L), in
    the network's dtype, and the gradients [grad W_1, grad b_1, ...] of Network.backprop. `net` is not
    changed. Central differences: every entry, or `max_params` > 0 seeded entries per tensor from `rng`.
    `random_rows`: X and T are random (batches.random_targets), not rows of the data."""
    L = len(net.layers)
    source = ("standard-normal random inputs (the data could not be loaded)" if random_rows
              else "rows of the training split (runner.run_data)")
    out = [Quantity("X", "forward", "X = Y_0", None, source, X)]
    Zs, Ys = net.forward_all(X)
    for l, layer in enumerate(net.layers, start=1):
        out += [Quantity(f"W_{l}", "forward", f"W_{l}", None, "the network's weights", layer.W),
                Quantity(f"b_{l}", "forward", f"b_{l}", None, "the network's biases", layer.b),
                Quantity(f"Z_{l}", "forward", formula("Z", l), FORMULAS["Z"], "Network.forward_all", Zs[l - 1]),
                Quantity(f"Y_{l}", "forward", f"{formula('Y', l)}, phi_{l} = {layer.activation.name}",
                         FORMULAS["Y"], f"{type(layer.activation).__name__}.forward (in Network.forward_all)",
                         Ys[l])]
    value, grads, _ = net.backprop(X, T, loss, weight_decay)  # what an optimizer step uses
    out += _loss_quantities(net, Zs[-1], Ys[-1], T, loss, weight_decay, value, random_rows)
    delta = net.output_delta(Zs[-1], Ys[-1], T, loss)
    if net.is_fused(loss):
        out.append(Quantity(f"Delta_{L}", "backward", formula("fused", last=L), FORMULAS["fused"],
                            f"{type(loss).__name__}.fused_delta (Network.output_delta)", delta))
    else:
        out.append(Quantity(f"dL/dY_{L}", "backward", formula("dY", last=L), FORMULAS["dY"],
                            f"{type(loss).__name__}.gradient", loss.gradient(Ys[-1], T)))
        out.append(Quantity(f"Delta_{L}", "backward", formula("Delta_L", last=L), FORMULAS["Delta_L"],
                            f"{type(net.layers[-1].activation).__name__}.backward (Network.output_delta)", delta))
    diffs = numerical_gradients(net.copy(dtype=np.float64), np.asarray(X, np.float64), np.asarray(T, np.float64),
                                loss, weight_decay, tolerance.eps, max_params, rng)
    for l in range(L, 0, -1):
        layer = net.layers[l - 1]
        gW, gb = grads[2 * l - 2], grads[2 * l - 1]
        out.append(_gradient(f"grad W_{l}", formula("gW", l), FORMULAS["gW"], gW, diffs[2 * l - 2], tolerance))
        if per_sample:
            G = np.einsum("ni,nk->nik", Ys[l - 1], delta)
            decay = layer.W.dtype.type(weight_decay) * layer.W
            error = float(np.abs(G.sum(axis=0) + decay - gW).max())
            out.append(Quantity(f"G_{l}", "backward", formula("G", l), FORMULAS["G"],
                                f"numpy.einsum('ni,nk->nik', Y_{l - 1}, Delta_{l})", G, sum_error=error))
        out.append(_gradient(f"grad b_{l}", formula("gb", l), FORMULAS["gb"], gb, diffs[2 * l - 1], tolerance))
        if l > 1:
            below = net.layers[l - 2]
            delta = below.activation.backward(Zs[l - 2], Ys[l - 1], delta @ layer.W.T)  # as Network.backprop
            out.append(Quantity(f"Delta_{l - 1}", "backward", formula("Delta", l), FORMULAS["Delta"],
                                f"{type(below.activation).__name__}.backward", delta))
    return out, grads


def _loss_quantities(net: Network, Z: np.ndarray, Y: np.ndarray, T: np.ndarray, loss: Loss, weight_decay: float,
                     value: float, random_rows: bool = False) -> list[Quantity]:
    """T, the data term, the decay term and their sum (Network.backprop's value)."""
    data = net.data_loss(Z, Y, T, loss)
    kind = f"{type(loss).__name__}.{'fused_value' if net.is_fused(loss) else 'value'} (Network.data_loss)"
    source = ("random targets that fit the output layer (batches.random_targets)" if random_rows
              else "the targets of the batch's rows (data.splits.targets)")
    return [Quantity("T", "loss", "T", None, source, T),
            Quantity("data term", "loss", "(1/N) sum_i E(y_i, t_i)", None, kind, np.float64(data)),
            Quantity("decay term", "loss", "(lambda/2) sum_l ||W_l||^2", None, "Network.decay_value",
                     np.float64(net.decay_value(weight_decay))),
            Quantity("L", "loss", FORMULAS["L"], FORMULAS["L"], "Network.backprop", np.float64(value))]


def _gradient(name: str, text: str, generic: str, g: np.ndarray, diff, tolerance: Tolerance) -> Quantity:
    rel = np.where(diff.checked, relative_error(g, diff.numerical, tolerance.floor), np.nan)
    return Quantity(name, "backward", text, generic, "Network.backprop", g, diff.numerical, rel, diff.skipped)


def step_quantities(net: Network, grads: list[np.ndarray], optimizer, lr: float) -> list[Quantity]:
    """The optimizer's state (momentum, Adam's moments) and the new parameters after `optimizer.step` with
    these gradients at learning rate `lr`, on a copy of the parameters (`net` is not changed)."""
    params = [p.copy() for p in net.parameters()]
    optimizer.step(params, [g.copy() for g in grads], lr)
    method = f"{type(optimizer).__name__}.step"
    out = []
    for i, (name, p) in enumerate(zip(net.parameter_names(), params)):
        label = f"{name[0]}_{name[1:]}"
        for slot, arrays in optimizer.slots.items():
            out.append(Quantity(f"{slot} of {label}", "step", f"{slot} of {label} after the step", None, method,
                                arrays[i]))
        out.append(Quantity(f"new {label}", "step", f"{label} after the step", None, method, p))
    return out


# -- a config's network ---------------------------------------------------------------------------
def trace_config(cfg: Config, *, rows: int | None = None, per_sample: bool = False, step: bool = False,
                 random_data: bool = False, max_params: int = DEFAULT_MAX_PARAMS, epoch: int = 1,
                 weights: str | None = None, tolerance: Tolerance = Tolerance()) -> Trace:
    """The trace of the network `cfg` builds (the one `nncli train` starts from, or model.init_from's
    weights) on `rows` seeded rows of its training data (default: gradcheck's DEFAULT_SAMPLES, or all
    when there are fewer; more than the data has is an error). `random_data` as in gradcheck. With
    `step`, the optimizer's update at the learning rate of `epoch`, from fresh optimizer state."""
    if rows is not None and rows < 1:
        raise ConfigError(f"must be at least 1, got {rows}", where=argument("rows"))
    if max_params < 0:
        raise ConfigError(f"must be 0 (every entry) or a positive number, got {max_params}",
                          where=argument("max_params"))
    rng = np.random.default_rng(cfg.seed)
    try:
        b = config_batch(cfg, DEFAULT_ROWS if rows is None else rows, rng, random_data=random_data,
                         exact=None if rows is None else "rows")
    except DataError as e:  # random_data is False: say that it is there
        raise DataError(f"{e.raw}; to trace the network on random inputs instead, use {argument('random_data')} "
                        f"(with model.input set)") from None
    dtype = b.net.layers[0].W.dtype
    X, T = np.asarray(b.X, dtype=dtype), np.asarray(b.T, dtype=dtype)
    quantities, grads = trace_network(b.net, X, T, b.loss, cfg.weight_decay, per_sample=per_sample,
                                      tolerance=tolerance, max_params=max_params, rng=rng, random_rows=b.rows is None)
    info = None
    if step:
        optimizer = OPTIMIZERS.get(cfg.optimizer.name)(**cfg.optimizer.options)
        sched = cfg.optimizer.schedule
        lr = SCHEDULES.get(sched.name)(cfg.optimizer.lr, cfg.train.epochs, **sched.options).lr(epoch)
        quantities += step_quantities(b.net, grads, optimizer, lr)
        info = {"optimizer": cfg.optimizer.name, "options": cfg.optimizer.options, "lr": lr, "epoch": epoch,
                "schedule": sched.name, "rule": inspect.cleandoc(type(optimizer).__doc__ or ""),
                "function": f"{type(optimizer).__name__}.step"}
    if weights is None:
        weights = (f"the weights of {cfg.model.init_from}" if cfg.model.init_from else
                   f"the initial weights ({cfg.model.init.name}, seed {cfg.seed})")
    return Trace(architecture(b.net.sizes, b.net.activation_names), cfg.loss, b.net.is_fused(b.loss),
                 cfg.weight_decay, str(dtype), b.data, None if b.rows is None else [int(r) for r in b.rows],
                 weights, tolerance, max_params, quantities, info)


def run_config(path, overrides=None) -> tuple[Config, int]:
    """A run directory's config.yaml with `overrides` applied, set to start from the run's weights.npz
    (model.init_from), and the epoch the run's next step would be in (for its learning rate)."""
    run = RunDir.open(path)
    if not run.file(WEIGHTS).is_file():
        raise RunDirError("has no weights.npz (the run stopped before writing it), so there are no trained "
                          "weights to trace; trace the config it was started from instead", where=str(run.path))
    source = str(run.file(CONFIG))
    raw = apply_overrides(read_yaml_mapping(source), overrides)
    if not isinstance(raw.get("model"), dict):
        raise ConfigError("has no model section", where=source)
    raw["model"]["init_from"] = str(run.path)
    try:
        cfg = validate(raw)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    done = run.read_summary().get("epochs")
    done = done if isinstance(done, int) and not isinstance(done, bool) and done >= 0 else 0
    return cfg, max(1, min(done + 1, cfg.train.epochs))
