"""Which runs of a sweep train together as stacks (`nncli sweep --stack`, `nncli.sweep(stack=...)`).

Runs can share a stack when they share everything that decides the shapes and the course of training:
the data section, dtype, model.input and model.layers, the loss, the optimizer's name and switches
(nesterov), and the train section but its input noise (epochs, batch size, shuffling, validation split,
early stopping, checkpoints, snapshots); they may differ in seed, initialiser, learning rate and schedule,
numeric optimizer options, weight decay and input noise. Runs resumed from a checkpoint stack only with
runs at the same position. A group of such runs is split into stacks so that each stays under a memory
budget (`member_bytes` per run), and over the workers when there are enough runs to keep each busy.

Modes: "on" stacks every group of two runs or more; "auto" only where it pays (generated data, whose size
the config tells, and small networks: rows of a batch x parameters up to AUTO_MAX_WORK) and sends the
others to the worker pool; "off" stacks nothing. `plan` says how it grouped the runs, in lines for people.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np

from . import checkpoint
from .config import Config, validate
from .data import DATASETS
from .metrics import EVAL_CHUNK
from .model import architecture, parameter_count
from .nn.optimizers import OPTIMIZERS
from .runner import run_data
from .snapshots import AUTO as AUTO_SNAPSHOTS
from .tasks import Stack, Task
from .trainer import batch_rows

MODES = ("auto", "on", "off")
BUDGET_MB = 512  # default memory of one stack
AUTO_MAX_WORK = 200_000  # rows of a batch x parameters of a network, up to which stacking pays
MIN_STACK = 32  # runs per stack below which a group is not split further to keep more workers busy
#: config keys the members of a stack may differ in (the rest must be equal)
FREE = ("seed", "weight_decay", "model.init", "model.init_from", "optimizer.lr", "optimizer.schedule",
        "train.input_noise")


def stack_key(config: dict[str, Any]) -> str | None:
    """What runs of a stack must share, as text (equal text: they can stack); None when this run cannot
    be stacked at all (TensorBoard events are written as a run trains, one writer per run)."""
    if (config.get("train") or {}).get("tensorboard"):
        return None
    shared = copy.deepcopy(config)
    for key in FREE:
        *path, last = key.split(".")
        node = shared
        for part in path:
            node = node.get(part, {})
        node.pop(last, None)
    options = OPTIMIZERS.get(config["optimizer"]["name"]).Options.model_fields
    for name in options:  # numeric optimizer options may differ; switches may not
        value = shared["optimizer"].get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            shared["optimizer"].pop(name)
    return json.dumps(shared, sort_keys=True)


def data_shape(cfg: Config) -> tuple[int, int] | None:
    """(samples, features) of a config's data when its dataset class tells without loading it."""
    source = DATASETS.get(cfg.data.name)(**cfg.data.options)
    return source.known_shape()


def member_bytes(cfg: Config, shape: tuple[int, int]) -> int:
    """Memory one run of a stack needs, about: its parameters 8 times (weights, gradients, two optimizer
    moments, scratch, the epoch's start, the best epoch's), a batch's activations, an evaluation chunk, its
    own copy of the data, its snapshots and its metrics history."""
    rows, d = shape
    sizes = [d] + [layer.units for layer in cfg.model.layers]
    params = parameter_count(sizes)
    units = sum(sizes)
    bs = batch_rows(cfg, rows)
    item = np.dtype(cfg.dtype).itemsize
    snapshots = cfg.train.snapshots if cfg.train.snapshots is not None else AUTO_SNAPSHOTS
    values = (8 * params + 4 * bs * units + 2 * min(EVAL_CHUNK, rows) * units + rows * (d + sizes[-1])
              + 2 * snapshots * params)
    return item * values + 9 * 10 * cfg.train.epochs  # up to 10 metrics columns per epoch


def work(cfg: Config, shape: tuple[int, int]) -> int:
    """Rows of a batch x parameters: how much arithmetic one step of one run is."""
    rows, d = shape
    return batch_rows(cfg, rows) * parameter_count([d] + [layer.units for layer in cfg.model.layers])


def plan(tasks: list[Task], mode: str = "auto", budget_mb: float = BUDGET_MB,
         workers: int = 1) -> tuple[list[Task | Stack], list[str]]:
    """The units of work for an executor (tasks on their own, and stacks), and how they were grouped."""
    if mode == "off" or not tasks:
        return list(tasks), []
    groups: dict[Any, list[Task]] = {}
    alone: list[Task] = []
    for t in tasks:
        key = stack_key(t.config)
        if key is None:
            alone.append(t)
        else:
            groups.setdefault((key, _position(t)), []).append(t)
    units: list[Task | Stack] = list(alone)
    notes = [f"{len(alone)} run{_s(alone)} on the worker pool: train.tensorboard writes events as a run "
             f"trains"] if alone else []
    for members in groups.values():
        cfg = validate(members[0].config)
        shape = data_shape(cfg)  # None: read from files
        label = _label(cfg, shape)
        reason = _why_not(cfg, shape, len(members), mode)
        if reason:
            units.extend(members)
            notes.append(f"{len(members)} run{_s(members)} of {label} on the worker pool: {reason}")
            continue
        stacks = _split(members, cfg, shape or _loaded_shape(cfg), budget_mb, workers)
        units.extend(Stack(chunk, label) for chunk in stacks)
        sizes = ", ".join(str(len(c)) for c in stacks)
        notes.append(f"{len(members)} runs of {label} stacked: {len(stacks)} stack{_s(stacks)} ({sizes})")
    units.sort(key=lambda u: u.index)
    return units, notes


def _why_not(cfg: Config, shape: tuple[int, int] | None, n: int, mode: str) -> str | None:
    if n < 2:
        return "no other run shares its data, layers, loss and training settings"
    if mode == "on":
        return None
    if shape is None:
        return "its data is read from files (use --stack to stack it anyway)"
    steps = work(cfg, shape)
    if steps > AUTO_MAX_WORK:
        return (f"its network is large enough to keep the CPU busy alone (batch rows x parameters "
                f"{steps:,} > {AUTO_MAX_WORK:,}; --stack stacks it anyway)")
    return None


def _split(members: list[Task], cfg: Config, shape: tuple[int, int], budget_mb: float,
           workers: int) -> list[list[Task]]:
    """Consecutive chunks of nearly equal size, each within the memory budget, and at least one per
    worker when every chunk keeps MIN_STACK runs."""
    per_stack = max(1, int(budget_mb * 2 ** 20 // member_bytes(cfg, shape)))
    count = max(math.ceil(len(members) / per_stack), min(workers, len(members) // MIN_STACK), 1)
    bounds = np.linspace(0, len(members), count + 1).round().astype(int)
    return [members[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def _loaded_shape(cfg: Config) -> tuple[int, int]:
    """(samples, features) of data read from files: loaded once, here, to size the stacks."""
    data = run_data(cfg)
    n = sum(len(s) for s in (data.train, data.val, data.test) if s is not None)
    return n, data.dataset.n_features


def _position(t: Task) -> tuple[int, int, int]:
    if t.resume is None:
        return (0, 0, 0)
    return checkpoint.position(t.resume["checkpoint"], t.name)


def _label(cfg: Config, shape: tuple[int, int] | None) -> str:
    """`2 -> [2 tanh] -> [1 sigmoid] on xor` (without the input size where only the data tells it)."""
    n_in = cfg.model.input or (shape[1] if shape else None)
    layers = [layer.units for layer in cfg.model.layers]
    text = architecture([n_in or 0] + layers, [layer.activation for layer in cfg.model.layers])
    return f"{text if n_in else text.split(' -> ', 1)[1]} on {cfg.data.name}"


def _s(items) -> str:
    return "" if len(items) == 1 else "s"
