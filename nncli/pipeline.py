"""From a validated config to a finished run: data, network, trainer, and the run directory's files.

`prepare(cfg)` does everything that can fail on bad input (data, shapes, init_from) before a run
directory exists; `execute(prepared, run_dir, ...)` trains and writes config.yaml, weights.npz,
metrics.csv and summary.json.
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .config import Config
from .data import datasets
from .errors import ConfigError, RunDirError
from .nn.activations import ACTIVATIONS
from .nn.initializers import INITIALIZERS
from .nn.losses import LOSSES, Loss
from .nn.network import Dense, Network
from .nn.optimizers import OPTIMIZERS
from .nn.schedules import SCHEDULES
from .runs import WEIGHTS, RunDir, read_npz
from .train import Events, Result, Split, State, TrainData, Trainer, evaluate, metric_columns

PREDICTIONS_MAX = 16  # datasets this small get their predictions listed in summary.json


def rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent streams spawned from the one seeded Generator: changing the data does not change
    the initial weights, and vice versa."""
    data, init, train = np.random.default_rng(seed).spawn(3)
    return {"data": data, "init": init, "train": train}


def architecture(sizes: list[int], activations: list[str]) -> str:
    """`2 -> [2 tanh] -> [1 sigmoid]`."""
    return " -> ".join([str(sizes[0])] + [f"[{u} {a}]" for u, a in zip(sizes[1:], activations)])


def build_network(cfg: Config, n_in: int, rng: np.random.Generator) -> Network:
    """Dense layers of the config's sizes and activations, initialised from `rng` (or `init_from`)."""
    dtype = np.dtype(cfg.dtype)
    init = INITIALIZERS.get(cfg.model.init.name)(**cfg.model.init.options)
    layers, fan_in = [], n_in
    for spec in cfg.model.layers:
        W = init(rng, fan_in, spec.units, dtype)
        layers.append(Dense(W, np.zeros(spec.units, dtype=dtype), ACTIVATIONS.get(spec.activation)()))
        fan_in = spec.units
    net = Network(layers)
    if cfg.model.init_from:
        load_weights_into(net, cfg.model.init_from, where="model.init_from")
    return net


def load_weights_into(net: Network, path: str | Path, where: str) -> None:
    """Copy W1, b1, ... from a weights.npz (or a run directory's) into `net`, checking every shape."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS
    if not path.exists():
        raise ConfigError(f"{path} does not exist; give a weights.npz file or a run directory", where=where)
    try:
        arrays = read_npz(path)
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
        if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
            raise ConfigError(f"{name} in {path} is not an array of finite numbers", where=where)
        p[...] = a


@dataclass
class Prepared:
    cfg: Config
    dataset: datasets.Dataset
    data: TrainData
    net: Network
    loss: Loss
    trainer: Trainer


def _split(ds: datasets.Dataset, X, y, units: int, cfg: Config) -> Split:
    T = datasets.targets(ds, y, units, cfg.loss, cfg.dtype)
    return Split(X, T, y if ds.task == "classification" else None)


def prepare(cfg: Config) -> Prepared:
    """Load the data, split it, build the network and the trainer. Raises NncliError on bad input."""
    streams = rngs(cfg.seed)
    ds = datasets.load(cfg.data, streams["data"], cfg.dtype)
    n_in = ds.n_features
    if cfg.model.input is not None and cfg.model.input != n_in:
        raise ConfigError(f"is {cfg.model.input}, but the {ds.name} data has {n_in} features per sample; "
                          f"set model.input: {n_in} or leave it out to infer it", where="model.input")
    cfg.model.input = n_in
    units = cfg.model.layers[-1].units
    X, y = ds.X, ds.y
    val = None
    if cfg.train.validation_split > 0:
        tr, va = datasets.split_validation(X, y, cfg.train.validation_split, streams["data"],
                                           stratify=ds.task == "classification")
        val = _split(ds, X[va], y[va], units, cfg)
        X, y = X[tr], y[tr]
    train = _split(ds, X, y, units, cfg)
    test = _split(ds, ds.X_test, ds.y_test, units, cfg) if ds.X_test is not None else None
    net = build_network(cfg, n_in, streams["init"])
    loss = LOSSES.get(cfg.loss)()
    optimizer = OPTIMIZERS.get(cfg.optimizer.name)(**cfg.optimizer.options)
    sched = cfg.optimizer.schedule
    schedule = SCHEDULES.get(sched.name)(cfg.optimizer.lr, cfg.train.epochs, **sched.options)
    trainer = Trainer(net, cfg, loss, optimizer, schedule, streams["train"])
    data = TrainData(train, val, test)
    trainer.monitor(data)  # a config error (monitor without validation set) before any run dir exists
    return Prepared(cfg, ds, data, net, loss, trainer)


def summary(p: Prepared, result: Result, wall: float, command: list[str]) -> dict[str, Any]:
    """What summary.json holds (see README: run directory)."""
    st = result.state
    last = st.rows[-1] if st.rows else {}
    evaluation = {}
    for name, split in (("train", p.data.train), ("val", p.data.val), ("test", p.data.test)):
        if split is not None:
            evaluation[name] = evaluate(p.net, split, p.loss)
    n = len(p.data.train)
    samples = st.epoch * n + st.batch * p.trainer.batch_size(n)
    out: dict[str, Any] = {
        "status": result.status,
        "message": result.message,
        "epochs": st.epoch,
        "epochs_planned": p.cfg.train.epochs,
        "steps": st.step,
        "final": {k: v for k, v in last.items() if k not in ("epoch", "step")},
        "best": st.best,
        "evaluation": evaluation,
        "architecture": architecture(p.net.sizes, p.net.activation_names),
        "parameters": p.net.parameter_count(),
        "dataset": {"name": p.dataset.name, "source": p.dataset.source, "task": p.dataset.task,
                    "train": len(p.data.train), "val": len(p.data.val) if p.data.val else 0,
                    "test": len(p.data.test) if p.data.test else 0},
        "train_seconds": round(st.seconds, 6),
        "wall_seconds": round(wall, 6),
        "samples_per_second": round(samples / st.seconds, 1) if st.seconds > 0 else None,
        "seed": p.cfg.seed,
        "versions": {"nncli": __version__, "numpy": np.__version__, "python": platform.python_version()},
        "command": command,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if result.diverged_at:
        out["diverged_at"] = result.diverged_at
    if len(p.data.train) <= PREDICTIONS_MAX:
        Y = p.net.forward(p.data.train.X)
        out["predictions"] = [{"input": x.tolist(), "target": t.tolist(), "output": o.tolist()}
                              for x, t, o in zip(p.data.train.X, p.data.train.T, Y.astype(float))]
    return out


def execute(p: Prepared, run: RunDir, events: Events | None = None, command: list[str] | None = None,
            should_stop: Callable[[], bool] = lambda: False, state: State | None = None) -> dict[str, Any]:
    """Train and write the run directory's files. Returns the summary (its "status" says how it ended)."""
    started = time.perf_counter()
    run.write_config(p.cfg.dump())
    columns = metric_columns(p.data)
    result = p.trainer.fit(p.data, events, state=state, should_stop=should_stop)
    run.write_metrics(result.state.rows, columns)
    run.write_weights(p.net.state())
    s = summary(p, result, time.perf_counter() - started, command or sys.argv)
    run.write_summary(s)
    return s


@dataclass
class LoadedRun:
    """A finished (or interrupted) run read back: its directory, resolved config, network and summary."""

    run: RunDir
    cfg: Config
    net: Network | None  # None only with load_run(..., require_weights=False) and no weights.npz
    summary: dict[str, Any]


def load_run(path: str | Path, require_weights: bool = True) -> LoadedRun:
    """Read a run directory back: config.yaml validated, weights.npz checked against it (names, shapes,
    finite values). RunDirError (exit 2) when the directory is missing, not a run, or damaged.
    `require_weights=False` accepts a run killed before weights.npz was written (net is None) as long as
    it has no summary.json either (a finished run without weights is damaged)."""
    from . import config as config_mod

    run = RunDir.open(path)
    try:
        raw = config_mod.parse_yaml(run.read_config_text(), str(run.file("config.yaml")))
        if not isinstance(raw, dict):
            raise ConfigError("is not a YAML mapping", where=str(run.file("config.yaml")))
        cfg = config_mod.validate(raw)
    except ConfigError as e:
        raise RunDirError(f"its config.yaml is not a valid config: {e}", where=str(run.path)) from None
    if cfg.model.input is None:
        raise RunDirError("config.yaml has no model.input (was it written by `nncli train`?)",
                          where=str(run.file("config.yaml")))
    dtype = np.dtype(cfg.dtype)
    layers, fan_in = [], cfg.model.input
    for spec in cfg.model.layers:
        layers.append(Dense(np.zeros((fan_in, spec.units), dtype), np.zeros(spec.units, dtype),
                            ACTIVATIONS.get(spec.activation)()))
        fan_in = spec.units
    net = Network(layers)
    if not run.file(WEIGHTS).is_file():
        if not require_weights and not run.file("summary.json").exists():
            return LoadedRun(run, cfg, None, {})
        raise RunDirError(f"has no {WEIGHTS} (training did not finish writing it)", where=str(run.path))
    try:
        load_weights_into(net, run.file(WEIGHTS), where="")  # its messages name the file already
    except ConfigError as e:
        raise RunDirError(str(e)) from None
    return LoadedRun(run, cfg, net, run.read_summary())
