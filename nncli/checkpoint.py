"""The checkpoint.npz format: what `nncli train --resume` needs to continue a run exactly. Plain arrays
only (read back with allow_pickle=False), each checked before use:

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
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import jsonable
from .config import Config, flatten
from .errors import ConfigError, RunDirError
from .model import signature
from .npyfiles import read_npz
from .readers import parse_json
from .nn.optimizers import Optimizer
from .trainer import State, Trainer

CHECKPOINT_FORMAT = 1
_META_INTS = ("epoch", "step", "batch", "correct", "seen", "bad_epochs", "n_train", "batch_size")


def arrays(trainer: Trainer, state: State, n_train: int) -> dict[str, np.ndarray]:
    """The arrays of checkpoint.npz (see the module docstring) for `trainer`'s network, optimizer and
    generator at `state`, training on `n_train` rows: plain numbers only, no pickle."""
    tr = trainer
    n = n_train
    meta = {
        "format": CHECKPOINT_FORMAT,
        "epoch": state.epoch, "step": state.step, "batch": state.batch,
        "loss_sum": float(state.loss_sum), "correct": int(state.correct), "seen": int(state.seen),
        "rows": list(state.rows), "best": state.best, "bad_epochs": state.bad_epochs, "seconds": state.seconds,
        "rng": tr.rng.bit_generator.state,
        "network": signature(tr.cfg),
        "data": data_identity(tr.cfg),
        "optimizer": tr.cfg.optimizer.name,
        "loss": tr.cfg.loss,
        "n_train": n, "batch_size": tr.batch_size(n),
        "has_perm": state.perm is not None,
    }
    out = {f"weights.{k}": v for k, v in tr.net.state().items()}
    out.update({f"optimizer.{k}": v for k, v in tr.optimizer.state().items()})
    if state.best_weights is not None:
        out.update({f"best.{k}": v for k, v in zip(tr.net.parameter_names(), state.best_weights)})
    out["perm"] = state.perm if state.perm is not None else np.zeros(0, dtype=np.int64)
    out["state"] = np.frombuffer(json.dumps(meta, default=jsonable.default).encode("utf-8"), dtype=np.uint8)
    return out


def data_identity(cfg: Config) -> dict[str, Any]:
    """What decides which rows a run trains on and in which order: the data section, the seed (data,
    initial weights and shuffling all come from it) and the validation split. A resume must not change
    any of it, or the continued run would not be the run that was interrupted."""
    return {"data": cfg.data.model_dump(mode="json"), "seed": cfg.seed,
            "train": {"validation_split": cfg.train.validation_split}}


def read(path: Path, cfg: Config, config_source: str) -> "_Reader":
    """checkpoint.npz read and its state checked (RunDirError, exit 2, for a damaged or foreign file), and
    compared with the config a resume would continue with: ConfigError naming `config_source` when that
    changes the data, the seed or the validation split (`data_identity`). Before any data is loaded."""
    return from_arrays(read_npz(path, RunDirError), path, cfg, config_source)


def from_arrays(arrays: dict[str, np.ndarray], where: str | Path, cfg: Config, config_source: str) -> "_Reader":
    """A checkpoint's arrays, read already (a sweep's worker gets them from the client), checked as `read`
    checks a file; `where` names the file in messages."""
    reader = _Reader(Path(where), arrays)
    _check_same_data(reader.meta(), cfg, config_source)
    return reader


def position(arrays: dict[str, np.ndarray], where: str | Path) -> tuple[int, int, int]:
    """(epoch, batch, step) at which a checkpoint continues: epochs completed, batches done in the next
    one and optimizer steps taken. RunDirError for a damaged checkpoint."""
    meta = _Reader(Path(where), arrays).meta()
    return meta["epoch"], meta["batch"], meta["step"]


def load(reader: "_Reader", trainer: Trainer, n_train: int, config_source: str) -> tuple[State, list[str]]:
    """Load a checkpoint (`read`) into `trainer` (network weights, optimizer state, the train Generator's
    state) and return the training State to continue from, with notes to show (e.g. the optimizer changed).

    Every array is checked (names, shapes, dtypes, finite values) before anything is used: RunDirError
    (exit 2) for a damaged or foreign file; ConfigError (exit 2) naming `config_source` when the config was
    edited in a way that changes the network (model.input, model.layers, dtype) or, in the middle of an
    epoch, the batches (the trainer's config against the one recorded in the checkpoint)."""
    meta = reader.meta()
    _check_fits(meta, trainer, n_train, config_source)
    names, params = trainer.net.parameter_names(), trainer.net.parameters()
    reader.refuse_unknown(names)
    weights = reader.parameters("weights", names, params)
    best_weights = reader.parameters("best", names, params) if reader.has("best.") else None
    opt_state = reader.optimizer_state(params, trainer.optimizer, meta["step"])
    perm = reader.perm(meta, n_train)
    try:
        rng_state = trainer.rng.bit_generator.state
        trainer.rng.bit_generator.state = meta["rng"]
    except (ValueError, TypeError, KeyError) as e:
        trainer.rng.bit_generator.state = rng_state
        raise reader.damaged(f"its random generator state is not valid ({e})") from None

    for param, w in zip(params, weights):
        param[...] = w
    notes: list[str] = []
    if meta.get("optimizer") == trainer.cfg.optimizer.name:
        trainer.optimizer.load_state(opt_state)
    else:
        notes.append(f"the optimizer changed from {meta.get('optimizer')!r} to {trainer.cfg.optimizer.name!r}: "
                     f"it starts with fresh state (moments)")
    state = State(epoch=meta["epoch"], step=meta["step"], batch=meta["batch"], perm=perm,
                  loss_sum=float(meta["loss_sum"]), correct=meta["correct"], seen=meta["seen"], rows=meta["rows"],
                  best=meta["best"], best_weights=[w.copy() for w in best_weights] if best_weights else None,
                  bad_epochs=meta["bad_epochs"], seconds=float(meta["seconds"]))
    return state, notes


def _check_fits(meta: dict, trainer: Trainer, n_train: int, config_source: str) -> None:
    """ConfigError when the config now describes another network, or other batches inside an epoch."""
    saved, now = meta.get("network"), signature(trainer.cfg)
    if saved != now:
        raise ConfigError(f"changes the network, so the run cannot be resumed: the checkpoint holds "
                          f"{_describe(saved)}, config.yaml now says {_describe(now)}. A resume may change "
                          f"other settings (train.epochs, for example) but not model.input, model.layers or "
                          f"dtype; to train a different network start a new run (model.init_from warm-starts "
                          f"from weights of the same shapes)", where=config_source)
    bs = trainer.batch_size(n_train)
    if meta["batch"] > 0 and meta.get("loss", trainer.cfg.loss) != trainer.cfg.loss:
        raise ConfigError(f"the checkpoint stopped in the middle of epoch {meta['epoch'] + 1}, whose batches so far "
                          f"were scored with loss {meta['loss']!r}; the config now says {trainer.cfg.loss!r}, "
                          f"which would mix two losses in one epoch's loss. Keep the loss, or change it when "
                          f"the run stops at an epoch's end", where=config_source)
    if meta["batch"] > 0 and (meta["n_train"], meta["batch_size"]) != (n_train, bs):
        raise ConfigError(f"the checkpoint stopped in the middle of epoch {meta['epoch'] + 1} with "
                          f"{meta['n_train']} training samples in batches of {meta['batch_size']}; the config "
                          f"now gives {n_train} in batches of {bs}. Keep train.batch_size and the data as they "
                          f"were", where=config_source)


def _check_same_data(meta: dict, cfg: Config, config_source: str) -> None:
    """ConfigError naming the first key of `data_identity` that differs from the checkpoint's (a
    checkpoint written before nncli recorded them is not checked)."""
    saved = meta.get("data")
    if not isinstance(saved, dict):
        return
    now = data_identity(cfg)
    from_saved, from_now = flatten(saved), flatten(now)
    for key in dict.fromkeys([*from_saved, *from_now]):
        if from_saved.get(key, _MISSING) != from_now.get(key, _MISSING):
            was = from_saved.get(key, "(not set)")
            raise ConfigError(f"{key} was {was!r} when the checkpoint was written and is now "
                              f"{from_now.get(key, '(not set)')!r}: the data, the seed and "
                              f"train.validation_split decide what the run trains on, so a resume cannot "
                              f"change them (start a new run instead; model.init_from={Path(config_source).parent} "
                              f"warm-starts it from these weights)", where=config_source)


_MISSING = object()


class _Reader:
    """The arrays of one checkpoint file, checked piece by piece; `damaged(what)` is the error to raise."""

    def __init__(self, path: Path, arrays: dict[str, np.ndarray]):
        self.path, self.arrays = path, arrays
        self._meta: dict[str, Any] | None = None

    def damaged(self, what: str) -> RunDirError:
        return RunDirError(f"{what}; this checkpoint cannot be resumed (start a new run, or warm-start "
                           f"from weights.npz with model.init_from)", where=str(self.path))

    def has(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self.arrays)

    def meta(self) -> dict[str, Any]:
        """The JSON 'state', with the type of every field checked (read once)."""
        if self._meta is None:
            self._meta = self._read_meta()
        return self._meta

    def _read_meta(self) -> dict[str, Any]:
        raw = self.arrays.get("state")
        if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
            raise self.damaged("has no 'state' array of JSON bytes (is it a checkpoint written by nncli train?)")
        try:
            meta = parse_json(raw.tobytes().decode("utf-8"), "its 'state'", RunDirError)
        except UnicodeDecodeError:
            raise self.damaged("its 'state' is not UTF-8 JSON text") from None
        except RunDirError as e:
            raise self.damaged(str(e)) from None
        if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
            raise self.damaged(f"its 'state' is not a format {CHECKPOINT_FORMAT} checkpoint state")
        for key in _META_INTS:
            if not isinstance(meta.get(key), int) or isinstance(meta.get(key), bool) or meta[key] < 0:
                raise self.damaged(f"its state has no valid {key!r} (a non-negative integer)")
        for key in ("loss_sum", "seconds"):  # sums of losses (never negative) and of times
            value = meta.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < math.inf:
                raise self.damaged(f"its state has no valid {key!r} (a finite number, not negative)")
        rows, best = meta.get("rows"), meta.get("best")
        if not isinstance(rows, list) or len(rows) != meta["epoch"] or not all(isinstance(r, dict) for r in rows):
            raise self.damaged(f"its state needs one metrics row per completed epoch ({meta['epoch']})")
        if best is not None and not (isinstance(best, dict) and {"epoch", "monitor", "value"} <= set(best)):
            raise self.damaged("its state has an invalid 'best' entry")
        if not isinstance(meta.get("rng"), dict) or not isinstance(meta.get("has_perm"), bool):
            raise self.damaged("its state has no random generator state")
        self._check_position(meta)
        return meta

    def _check_position(self, meta: dict[str, Any]) -> None:
        """The position inside the epoch must be one training can have reached: fewer batches than the
        epoch has, and exactly the samples of those batches seen (every batch but an epoch's last is full)."""
        n, bs = meta["n_train"], meta["batch_size"]
        if n < 1 or not 1 <= bs <= n:
            raise self.damaged(f"its state has {n} training samples in batches of {bs}")
        batches = -(-n // bs)
        if meta["batch"] >= batches:
            raise self.damaged(f"its state is inside epoch {meta['epoch'] + 1} at batch {meta['batch'] + 1}, but "
                               f"an epoch of {n} samples in batches of {bs} has {batches}")
        seen = meta["seen"] == meta["batch"] * bs or (meta["batch"] == 0 and meta["seen"] == n)  # an epoch's end
        if not seen or meta["correct"] > meta["seen"] or meta["step"] < meta["batch"]:
            raise self.damaged(f"its state's counts do not fit its position (batch {meta['batch']}, "
                               f"{meta['seen']} samples seen, {meta['correct']} correct, step {meta['step']})")

    def refuse_unknown(self, names: list[str]) -> None:
        known = {"state", "perm"} | {f"weights.{k}" for k in names} | {f"best.{k}" for k in names}
        for key in self.arrays:
            if key not in known and not key.startswith("optimizer."):
                raise self.damaged(f"has an unexpected array {key!r}")

    def parameters(self, prefix: str, names: list[str], params: list[np.ndarray]) -> list[np.ndarray]:
        """`prefix.W1`, `prefix.b1`, ... each of the shape and dtype of the network's parameter."""
        out = []
        for name, param in zip(names, params):
            key = f"{prefix}.{name}"
            a = self.arrays.get(key)
            if a is None:
                raise self.damaged(f"has no array {key!r}")
            _check_array(a, key, param, self.damaged)
            out.append(a)
        return out

    def optimizer_state(self, params: list[np.ndarray], optimizer: Optimizer, steps: int) -> dict[str, np.ndarray]:
        """{"t": ..., "<slot>.<i>": ...}: a step count (at most the run's `steps`: it restarts when a resume
        changes the optimizer) and, per slot, one array per parameter, within what `optimizer` allows of
        it (Adam's second moments are never negative)."""
        opt_state = {k.removeprefix("optimizer."): v for k, v in self.arrays.items() if k.startswith("optimizer.")}
        t = opt_state.get("t")
        if t is None or t.shape != () or t.dtype.kind not in "iu" or not 0 <= int(t) <= steps:
            raise self.damaged(f"has no valid optimizer step count 'optimizer.t' (0 to the run's {steps} steps)")
        slots: dict[str, dict[int, np.ndarray]] = {}
        for key, a in opt_state.items():
            if key == "t":
                continue
            slot, _, index = key.rpartition(".")
            if not slot or not index.isdigit() or int(index) >= len(params):
                raise self.damaged(f"has an unexpected optimizer array 'optimizer.{key}'")
            _check_array(a, f"optimizer.{key}", params[int(index)], self.damaged)
            if slot in optimizer.non_negative_slots and (a < 0).any():
                raise self.damaged(f"'optimizer.{key}' holds negative values, which {optimizer.name}'s "
                                   f"{slot!r} never has")
            slots.setdefault(slot, {})[int(index)] = a
        for slot, found in slots.items():
            if len(found) != len(params):
                raise self.damaged(f"optimizer slot {slot!r} has {len(found)} arrays, the network has {len(params)}")
        return opt_state

    def perm(self, meta: dict, n_train: int) -> np.ndarray | None:
        """The current epoch's order of rows (None when the run does not shuffle)."""
        if not meta["has_perm"]:
            if self.arrays.get("perm") is not None and self.arrays["perm"].size:
                raise self.damaged("its state says the epoch is in order, but it holds an order of rows ('perm')")
            return None
        perm = self.arrays.get("perm")
        if (perm is None or perm.ndim != 1 or perm.dtype.kind not in "iu" or len(perm) != meta["n_train"]
                or not np.array_equal(np.sort(perm), np.arange(len(perm)))):
            raise self.damaged(f"its 'perm' is not an order of the {meta['n_train']} training rows")
        if meta["batch"] > 0 and len(perm) != n_train:
            raise self.damaged("its 'perm' does not match the training data")
        return perm


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


