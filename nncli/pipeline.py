"""From a validated config to a finished run: data, network, trainer, and the run directory's files.

`prepare(cfg)` does everything that can fail on bad input (data, shapes, init_from) before a run
directory exists; `start_run(...)` creates the run directory and writes its first files (initial
weights.npz, config.yaml, an empty metrics.csv, summary.json with status "running"), so a run killed at
any later moment can be read back; `execute(prepared, run, ...)` trains, writes checkpoint.npz every
`train.checkpoint_every` epochs and on interrupt, and finally metrics.csv, weights.npz and summary.json.
`open_resume(run_dir)` reads a run and its checkpoint back to continue it exactly.

checkpoint.npz holds plain arrays only (read with allow_pickle=False):
  weights.W1, weights.b1, ...      the network's parameters
  optimizer.t, optimizer.<slot>.<i> Optimizer.state(): step count and moment arrays
  best.W1, ...                     the best epoch's weights (early stopping with restore_best), if any
  perm                             the current epoch's order of training rows (empty when unshuffled)
  state                            uint8 bytes of a JSON object: epoch, step, batch, running sums, metrics
                                   rows, best, the train Generator's bit_generator state, and the network
                                   (input, layers, dtype) the weights belong to
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .config import FULL_BATCH, Config
from .data import datasets
from .errors import ConfigError, NncliError, RunDirError
from .nn.activations import ACTIVATIONS
from .nn.initializers import INITIALIZERS
from .nn.losses import LOSSES, Loss
from .nn.network import Dense, Network
from .nn.optimizers import OPTIMIZERS
from .nn.schedules import SCHEDULES
from . import jsonable, runs
from .runs import CHECKPOINT, METRICS, SUMMARY, WEIGHTS, RunDir, read_npz
from .data.splits import Split, TrainData, split_validation, targets
from .metrics import EVAL_CHUNK, evaluate, metric_columns
from .train import Events, Result, State, Trainer

PREDICTIONS_MAX = 16  # datasets this small get their predictions listed in summary.json


def rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent streams spawned from the one seeded Generator: changing the data does not change
    the initial weights, and vice versa."""
    data, init, train = np.random.default_rng(seed).spawn(3)
    return {"data": data, "init": init, "train": train}


def architecture(sizes: list[int], activations: list[str]) -> str:
    """`2 -> [2 tanh] -> [1 sigmoid]`."""
    return " -> ".join([str(sizes[0])] + [f"[{u} {a}]" for u, a in zip(sizes[1:], activations)])


def build_network(cfg: Config, n_in: int, rng: np.random.Generator | None, warm_start: bool = True,
                  init=None) -> Network:
    """Dense layers of the config's sizes and activations, initialised from `rng` with the config's
    initializer (or `init`), or from `init_from` unless `warm_start` is False (a resumed run takes its
    weights from its checkpoint instead)."""
    dtype = np.dtype(cfg.dtype)
    init = init or INITIALIZERS.get(cfg.model.init.name)(**cfg.model.init.options)
    layers, fan_in = [], n_in
    for spec in cfg.model.layers:
        W = init(rng, fan_in, spec.units, dtype)
        layers.append(Dense(W, np.zeros(spec.units, dtype=dtype), ACTIVATIONS.get(spec.activation)()))
        fan_in = spec.units
    net = Network(layers)
    if cfg.model.init_from and warm_start:
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
        if a.dtype.kind not in "fiu" or not np.isfinite(a).all():
            raise ConfigError(f"{name} in {path} is not an array of finite real numbers ({a.dtype})", where=where)
        p[...] = a


@dataclass
class Prepared:
    cfg: Config
    dataset: datasets.Dataset
    data: TrainData
    net: Network
    loss: Loss
    trainer: Trainer
    warnings: list[str] = field(default_factory=list)  # said once by the CLI (e.g. batch size > data)


def _split(ds: datasets.Dataset, X, y, units: int, cfg: Config) -> Split:
    T = targets(ds, y, units, cfg.dtype, f"model.layers.{len(cfg.model.layers) - 1}.units")
    return Split(X, T, y if ds.task == "classification" else None)


def check_size(cfg: Config, n_in: int, n_train: int) -> None:
    """ConfigError when training cannot fit in this machine's memory: the weights with their gradients
    and up to two optimizer moments (4 copies), plus Z, Y and the back-propagated delta of every layer
    for the largest batch (a training batch, or EVAL_CHUNK rows when evaluating)."""
    count, fan_in = 0, n_in
    for spec in cfg.model.layers:
        count += (fan_in + 1) * spec.units
        fan_in = spec.units
    bs = cfg.train.batch_size
    rows = max(min(n_train, EVAL_CHUNK), n_train if bs == FULL_BATCH else min(int(bs), n_train))
    units = n_in + sum(spec.units for spec in cfg.model.layers)
    need = (4 * count + 3 * rows * units) * np.dtype(cfg.dtype).itemsize
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ConfigError(f"training this network ({count:,} parameters, batches of {rows:,} rows) needs about "
                          f"{need / 2 ** 30:,.1f} GiB of memory; this machine has {have / 2 ** 30:,.1f} GiB. "
                          f"Use fewer units or a smaller train.batch_size", where="model.layers")


def prepare(cfg: Config, warm_start: bool = True) -> Prepared:
    """Load the data, split it, build the network and the trainer. Raises NncliError on bad input.
    `warm_start=False` skips `model.init_from` (a resumed run's weights come from its checkpoint)."""
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
        tr, va = split_validation(X, y, cfg.train.validation_split, streams["data"],
                                           stratify=ds.task == "classification")
        val = _split(ds, X[va], y[va], units, cfg)
        X, y = X[tr], y[tr]
        ds.X, ds.y = X, y  # hold the training set once: the unsplit array is freed
    train = _split(ds, X, y, units, cfg)
    test = _split(ds, ds.X_test, ds.y_test, units, cfg) if ds.X_test is not None else None
    check_size(cfg, n_in, len(train))
    net = build_network(cfg, n_in, streams["init"], warm_start=warm_start)
    loss = LOSSES.get(cfg.loss)()
    optimizer = OPTIMIZERS.get(cfg.optimizer.name)(**cfg.optimizer.options)
    sched = cfg.optimizer.schedule
    schedule = SCHEDULES.get(sched.name)(cfg.optimizer.lr, cfg.train.epochs, **sched.options)
    trainer = Trainer(net, cfg, loss, optimizer, schedule, streams["train"])
    data = TrainData(train, val, test)
    trainer.monitor(data)  # a config error (monitor without validation set) before any run dir exists
    warnings = []
    bs = cfg.train.batch_size
    if isinstance(bs, int) and bs > len(train):
        warnings.append(f"train.batch_size={bs} is larger than the {len(train)} training samples: every "
                        f"step uses the full batch of {len(train)}")
    return Prepared(cfg, ds, data, net, loss, trainer, warnings)


def summary(p: Prepared, result: Result, wall: float, command: list[str], final: bool = True) -> dict[str, Any]:
    """What summary.json holds (see README: run directory). `final=False` (status "running", written with
    every checkpoint) skips the evaluation passes over the data and the predictions."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverged run's last weights
        return _summary(p, result, wall, command, final)


def _summary(p: Prepared, result: Result, wall: float, command: list[str], final: bool) -> dict[str, Any]:
    st = result.state
    last = st.rows[-1] if st.rows else {}
    evaluation = {}
    if final:
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
                    "test": len(p.data.test) if p.data.test else 0,
                    "classes": p.dataset.n_classes, "class_names": p.dataset.class_names},
        "train_seconds": round(st.seconds, 6),
        "wall_seconds": round(wall, 6),
        "samples_per_second": round(samples / st.seconds, 1) if st.seconds > 0 else None,
        "seed": p.cfg.seed,
        "versions": {"nncli": __version__, "numpy": np.__version__, "python": platform.python_version()},
        "command": command,
        ("finished" if final else "updated"): time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if result.diverged_at:
        out["diverged_at"] = result.diverged_at
    if final and len(p.data.train) <= PREDICTIONS_MAX:
        Y = p.net.forward(p.data.train.X)
        out["predictions"] = [{"input": x.tolist(), "target": t.tolist(), "output": o.tolist()}
                              for x, t, o in zip(p.data.train.X, p.data.train.T, Y.astype(float))]
    return out


# -- starting, training, checkpointing ------------------------------------------------------------
def start_run(p: Prepared, stem: str, runs_dir: Path | None = None, out: Path | None = None,
              command: list[str] | None = None) -> RunDir:
    """Create the run directory and write its first files: weights.npz (the initial weights, first, so that
    config.yaml never exists without them), config.yaml, metrics.csv (header only) and summary.json with
    status "running". Checks that the directory is writable and has room for the run's files: if not,
    RunDirError (exit 2) before training, and the new directory is removed again."""
    run = runs.create(stem, runs_dir=runs_dir, out=out)
    try:
        need = 8 * p.net.parameter_count() * np.dtype(p.cfg.dtype).itemsize + 2 ** 20
        free = shutil.disk_usage(run.path).free
        if free < need:
            raise RunDirError(f"only {free / 2 ** 20:.1f} MiB free, but this run's weights and checkpoints need "
                              f"about {need / 2 ** 20:.1f} MiB; free some space or choose another --runs-dir",
                              where=str(run.path))
        run.write_weights(p.net.state())
        run.write_config(p.cfg.dump())
        run.write_metrics([], metric_columns(p.data))
        run.write_summary(summary(p, Result("running", State()), 0.0, command or sys.argv, final=False))
    except BaseException:
        discard(run)
        raise
    return run


def remove_temporaries(run: RunDir) -> None:
    """Delete the temporary files (`.<name>.<random>.tmp`) a killed write leaves behind."""
    names = (runs.CONFIG, WEIGHTS, METRICS, SUMMARY, CHECKPOINT)
    for path in run.path.glob(".*.tmp"):
        if any(path.name.startswith(f".{name}.") for name in names):
            try:
                path.unlink()
            except OSError:
                pass


def discard(run: RunDir) -> None:
    """Remove a run directory that start_run has just created (only the files nncli writes into it)."""
    for path in run.path.iterdir():
        if path.name in (runs.CONFIG, WEIGHTS, METRICS, SUMMARY, CHECKPOINT) or (
                path.name.startswith(".") and path.name.endswith(".tmp")):
            try:
                path.unlink()
            except OSError:
                pass
    try:
        run.path.rmdir()
    except OSError:
        pass


def execute(p: Prepared, run: RunDir, events: Events | None = None, command: list[str] | None = None,
            should_stop: Callable[[], bool] = lambda: False, state: State | None = None,
            history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Train (from `state`, a resumed run's checkpoint, if given) and write the run directory's files.

    Every `train.checkpoint_every` epochs: checkpoint.npz, weights.npz, metrics.csv and summary.json
    (status "running"), in that order, each atomically. When `should_stop()` turns true (the CLI's signal
    handlers), the current batch finishes and checkpoint.npz is written. At the end: checkpoint.npz when
    completed with checkpoint_every (so train.epochs can be raised later), then metrics.csv, weights.npz
    and summary.json. Returns the summary; its "status" says how training ended. `history` (earlier
    resumes) is kept in summary.json under "resumed"."""
    started = time.perf_counter()
    command = command or sys.argv
    columns = metric_columns(p.data)
    every = p.cfg.train.checkpoint_every
    extra = {"resumed": history} if history else {}

    def progress(st: State) -> None:
        save_checkpoint(p, run, st)
        run.write_weights(p.net.state())
        run.write_metrics(st.rows, columns)
        run.write_summary({**summary(p, Result("running", st), time.perf_counter() - started, command,
                                     final=False), **extra})

    run.write_config(p.cfg.dump())  # a resume with overrides records the config it really uses
    result: Result | None = None
    try:
        result = p.trainer.fit(p.data, events, state=state, should_stop=should_stop,
                               on_checkpoint=progress if every else None)
        if result.status == "interrupted" or (result.status == "completed" and every):
            save_checkpoint(p, run, result.state)
        elif result.status == "completed" and run.file(CHECKPOINT).exists():
            run.file(CHECKPOINT).unlink()  # an interrupt's checkpoint, now stale
        run.write_metrics(result.state.rows, columns)
        run.write_weights(p.net.state())
    except (NncliError, OSError, MemoryError) as e:
        _record_failure(p, run, result, state, e, started, command)
        raise
    s = {**summary(p, result, time.perf_counter() - started, command), **extra}
    run.write_summary(s)
    return s


def _record_failure(p: Prepared, run: RunDir, result: Result | None, state: State | None, error: Exception,
                    started: float, command: list[str]) -> None:
    """Best effort: summary.json with status "failed" and the error (the disk may be full, too)."""
    st = result.state if result is not None else (state or State())
    try:
        run.write_summary(summary(p, Result("failed", st, str(error) or type(error).__name__),
                                  time.perf_counter() - started, command, final=False))
    except Exception:
        pass


def network_signature(cfg: Config) -> dict[str, Any]:
    """What the weights' layout depends on: model.input, model.layers and dtype."""
    return {"input": cfg.model.input, "dtype": cfg.dtype,
            "layers": [{"units": layer.units, "activation": layer.activation} for layer in cfg.model.layers]}


def checkpoint_arrays(p: Prepared, state: State) -> dict[str, np.ndarray]:
    """The arrays of checkpoint.npz (see the module docstring): plain numbers only, no pickle."""
    tr = p.trainer
    n = len(p.data.train)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "epoch": state.epoch, "step": state.step, "batch": state.batch,
        "loss_sum": float(state.loss_sum), "correct": int(state.correct), "seen": int(state.seen),
        "rows": state.rows, "best": state.best, "bad_epochs": state.bad_epochs, "seconds": state.seconds,
        "rng": tr.rng.bit_generator.state,
        "network": network_signature(p.cfg),
        "optimizer": p.cfg.optimizer.name,
        "n_train": n, "batch_size": tr.batch_size(n),
        "has_perm": state.perm is not None,
    }
    arrays = {f"weights.{k}": v for k, v in p.net.state().items()}
    arrays.update({f"optimizer.{k}": v for k, v in tr.optimizer.state().items()})
    if state.best_weights is not None:
        arrays.update({f"best.{k}": v for k, v in zip(p.net.parameter_names(), state.best_weights)})
    arrays["perm"] = state.perm if state.perm is not None else np.zeros(0, dtype=np.int64)
    arrays["state"] = np.frombuffer(json.dumps(meta, default=jsonable.default).encode("utf-8"), dtype=np.uint8)
    return arrays


def save_checkpoint(p: Prepared, run: RunDir, state: State) -> None:
    run.write_checkpoint(checkpoint_arrays(p, state))


CHECKPOINT_FORMAT = 1
_META_INTS = ("epoch", "step", "batch", "correct", "seen", "bad_epochs", "n_train", "batch_size")


def load_checkpoint(run: RunDir, p: Prepared) -> tuple[State, list[str]]:
    """Read checkpoint.npz into `p` (network weights, optimizer state, the train Generator's state) and
    return the training State to continue from, with notes to show (e.g. the optimizer changed).

    Every array is checked (names, shapes, dtypes, finite values) before anything is used: RunDirError
    (exit 2) for a damaged or foreign file; ConfigError (exit 2) when config.yaml was edited in a way that
    changes the network (model.input, model.layers, dtype) or, in the middle of an epoch, the batches."""
    path = run.file(CHECKPOINT)
    arrays = read_npz(path)

    def damaged(what: str) -> RunDirError:
        return RunDirError(f"{what}; this checkpoint cannot be resumed (start a new run, or warm-start "
                           f"from weights.npz with model.init_from)", where=str(path))

    raw = arrays.get("state")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise damaged("has no 'state' array of JSON bytes (is it a checkpoint written by nncli train?)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise damaged(f"its 'state' is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise damaged(f"its 'state' is not a format {CHECKPOINT_FORMAT} checkpoint state")
    for key in _META_INTS:
        if not isinstance(meta.get(key), int) or isinstance(meta.get(key), bool) or meta[key] < 0:
            raise damaged(f"its state has no valid {key!r} (a non-negative integer)")
    for key in ("loss_sum", "seconds"):
        if not isinstance(meta.get(key), (int, float)) or isinstance(meta.get(key), bool):
            raise damaged(f"its state has no valid {key!r} (a number)")
    rows, best = meta.get("rows"), meta.get("best")
    if not isinstance(rows, list) or len(rows) != meta["epoch"] or not all(isinstance(r, dict) for r in rows):
        raise damaged(f"its state needs one metrics row per completed epoch ({meta['epoch']})")
    if best is not None and not (isinstance(best, dict) and {"epoch", "monitor", "value"} <= set(best)):
        raise damaged("its state has an invalid 'best' entry")
    if not isinstance(meta.get("rng"), dict) or not isinstance(meta.get("has_perm"), bool):
        raise damaged("its state has no random generator state")

    # the network must be the one the weights belong to
    cfg = p.cfg
    saved, now = meta.get("network"), network_signature(cfg)
    if saved != now:
        raise ConfigError(f"changes the network, so the run cannot be resumed: the checkpoint holds "
                          f"{_describe(saved)}, config.yaml now says {_describe(now)}. A resume may change "
                          f"other settings (train.epochs, for example) but not model.input, model.layers or "
                          f"dtype; to train a different network start a new run (model.init_from warm-starts "
                          f"from weights of the same shapes)", where=str(run.file(runs.CONFIG)))
    n = len(p.data.train)
    bs = p.trainer.batch_size(n)
    if meta["batch"] > 0 and (meta["n_train"], meta["batch_size"]) != (n, bs):
        raise ConfigError(f"the checkpoint stopped in the middle of epoch {meta['epoch'] + 1} with "
                          f"{meta['n_train']} training samples in batches of {meta['batch_size']}; the config "
                          f"now gives {n} in batches of {bs}. Keep train.batch_size and the data as they were",
                          where=str(run.file(runs.CONFIG)))

    names, params = p.net.parameter_names(), p.net.parameters()
    known = ({"state", "perm"} | {f"weights.{k}" for k in names} | {f"best.{k}" for k in names})
    for key in arrays:
        if key not in known and not key.startswith("optimizer."):
            raise damaged(f"has an unexpected array {key!r}")

    def take(prefix: str) -> list[np.ndarray]:
        out = []
        for name, param in zip(names, params):
            key = f"{prefix}.{name}"
            a = arrays.get(key)
            if a is None:
                raise damaged(f"has no array {key!r}")
            _check_array(a, key, param, damaged)
            out.append(a)
        return out

    weights = take("weights")
    best_weights = take("best") if any(k.startswith("best.") for k in arrays) else None
    notes: list[str] = []
    opt_state = {k.removeprefix("optimizer."): v for k, v in arrays.items() if k.startswith("optimizer.")}
    t = opt_state.get("t")
    if t is None or t.shape != () or t.dtype.kind not in "iu" or int(t) < 0:
        raise damaged("has no valid optimizer step count 'optimizer.t'")
    slots: dict[str, dict[int, np.ndarray]] = {}
    for key, a in opt_state.items():
        if key == "t":
            continue
        slot, _, index = key.rpartition(".")
        if not slot or not index.isdigit() or int(index) >= len(params):
            raise damaged(f"has an unexpected optimizer array 'optimizer.{key}'")
        _check_array(a, f"optimizer.{key}", params[int(index)], damaged)
        slots.setdefault(slot, {})[int(index)] = a
    for slot, found in slots.items():
        if len(found) != len(params):
            raise damaged(f"optimizer slot {slot!r} has {len(found)} arrays, the network has {len(params)}")
    perm = None
    if meta["has_perm"]:
        perm = arrays.get("perm")
        if (perm is None or perm.ndim != 1 or perm.dtype.kind not in "iu" or len(perm) != meta["n_train"]
                or not np.array_equal(np.sort(perm), np.arange(len(perm)))):
            raise damaged(f"its 'perm' is not an order of the {meta['n_train']} training rows")
        if meta["batch"] > 0 and len(perm) != n:
            raise damaged("its 'perm' does not match the training data")
    try:
        rng_state = p.trainer.rng.bit_generator.state
        p.trainer.rng.bit_generator.state = meta["rng"]
    except (ValueError, TypeError, KeyError) as e:
        p.trainer.rng.bit_generator.state = rng_state
        raise damaged(f"its random generator state is not valid ({e})") from None

    for param, w in zip(params, weights):
        param[...] = w
    if meta.get("optimizer") == cfg.optimizer.name:
        p.trainer.optimizer.load_state(opt_state)
    else:
        notes.append(f"the optimizer changed from {meta.get('optimizer')!r} to {cfg.optimizer.name!r}: it "
                     f"starts with fresh state (moments)")
    state = State(epoch=meta["epoch"], step=meta["step"], batch=meta["batch"], perm=perm,
                  loss_sum=float(meta["loss_sum"]), correct=meta["correct"], seen=meta["seen"], rows=rows,
                  best=best, best_weights=[w.copy() for w in best_weights] if best_weights else None,
                  bad_epochs=meta["bad_epochs"], seconds=float(meta["seconds"]))
    return state, notes


def _check_array(a: np.ndarray, key: str, like: np.ndarray, damaged: Callable[[str], RunDirError]) -> None:
    if a.shape != like.shape:
        raise damaged(f"{key!r} has shape {a.shape}, the network needs {like.shape}")
    if a.dtype != like.dtype:
        raise damaged(f"{key!r} is {a.dtype}, the network is {like.dtype}")
    if not np.isfinite(a).all():
        raise damaged(f"{key!r} holds NaN or infinite values")


def _describe(sig: Any) -> str:
    if not isinstance(sig, dict) or not isinstance(sig.get("layers"), list):
        return "an unknown network"
    try:
        layers = ", ".join(f"{layer['units']} {layer['activation']}" for layer in sig["layers"])
    except (KeyError, TypeError):
        return "an unknown network"
    return f"input {sig.get('input')}, layers [{layers}], dtype {sig.get('dtype')}"


# -- resuming -------------------------------------------------------------------------------------
@dataclass
class Resume:
    """What `nncli train --resume RUN_DIR` will do. `done`: the run has finished, nothing to train
    (`message` says so). Otherwise `prepared` is ready and `state` is the checkpoint's training state
    (None: no checkpoint was written yet, so training starts again from epoch 0 with the same seed)."""

    run: RunDir
    done: bool
    message: str
    summary: dict[str, Any]
    prepared: Prepared | None = None
    state: State | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def history(self) -> list[dict[str, Any]]:
        """summary.json's "resumed" list, with this resume appended."""
        earlier = self.summary.get("resumed")
        earlier = earlier if isinstance(earlier, list) else []
        st = self.state
        return earlier + [{"epoch": st.epoch if st else 0, "step": st.step if st else 0,
                           "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]


def open_resume(path: str | Path, overrides: list[str] | None = None) -> Resume:
    """Read a run directory to continue it: config.yaml (with KEY=VALUE overrides applied), summary.json's
    status, and checkpoint.npz. A diverged run is refused (RunDirError); a run whose edited config changes
    the network is refused (ConfigError); both exit 2."""
    from . import config as config_mod

    path = Path(path)
    if path.is_dir() and not (path / runs.CONFIG).exists():
        raise RunDirError(f"has no {runs.CONFIG}: either the run was stopped before it started, or this is "
                          "not a run directory; there is nothing to resume (start a new run with "
                          "`nncli train CONFIG`)", where=str(path))
    run = RunDir.open(path)
    source = str(run.file(runs.CONFIG))
    raw = config_mod.parse_yaml(run.read_config_text(), source)
    if not isinstance(raw, dict):
        raise ConfigError("is not a YAML mapping of keys to values", where=source)
    raw = config_mod.apply_overrides(raw, list(overrides or []))
    try:
        cfg = config_mod.validate(raw)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    remove_temporaries(run)
    previous = run.read_summary()
    status = previous.get("status", "running")
    has_checkpoint = run.file(CHECKPOINT).is_file()
    if status == "diverged":
        raise RunDirError(f"this run diverged ({previous.get('message') or 'NaN or infinite values'}); resuming "
                          f"would diverge again. Start a new run from its last finite weights with a smaller "
                          f"learning rate: nncli train CONFIG model.init_from={run.path} optimizer.lr=...",
                          where=str(run.path))
    if status in ("completed", "early_stopped") and not has_checkpoint:
        return Resume(run, True, f"{run.path} has already {status.replace('_', ' ')} "
                      f"({previous.get('epochs', '?')} epochs); nothing to resume. To train it further, start "
                      f"a new run from its weights: nncli train CONFIG model.init_from={run.path} (with "
                      f"train.checkpoint_every set, a finished run keeps a checkpoint and --resume with a "
                      f"larger train.epochs continues it)", previous)
    prepared = prepare(cfg, warm_start=not has_checkpoint)
    if not has_checkpoint:
        return Resume(run, False, "no checkpoint was written yet: training again from epoch 0 with the same "
                      "seed (the result is the same as that of an uninterrupted run)", previous, prepared)
    state, notes = load_checkpoint(run, prepared)
    if status == "early_stopped" or (status == "completed" and state.epoch >= cfg.train.epochs):
        return Resume(run, True, f"{run.path} has already {status.replace('_', ' ')} ({state.epoch} epochs); "
                      f"nothing to resume (raise train.epochs to continue a completed run: "
                      f"nncli train --resume {run.path} train.epochs=N)", previous, prepared, state, notes)
    where = (f"epoch {state.epoch + 1}, batch {state.batch + 1}" if state.batch else f"epoch {state.epoch + 1}")
    return Resume(run, False, f"resuming {run.path} at {where} of {cfg.train.epochs} (step {state.step})",
                  previous, prepared, state, notes)


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
    net = build_network(cfg, cfg.model.input, None, warm_start=False, init=INITIALIZERS.get("zeros")())
    if not run.file(WEIGHTS).is_file():
        if not require_weights and not run.file("summary.json").exists():
            return LoadedRun(run, cfg, None, {})
        raise RunDirError(f"has no {WEIGHTS} (training did not finish writing it)", where=str(run.path))
    try:
        load_weights_into(net, run.file(WEIGHTS), where="")  # its messages name the file already
    except ConfigError as e:
        raise RunDirError(str(e)) from None
    return LoadedRun(run, cfg, net, run.read_summary())
