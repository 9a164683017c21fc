"""summary.json: what a run reports about itself (see README: run directories). Written when a run starts
(status "running"), with every checkpoint, and at the end with the evaluation of the final weights."""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np

from . import __version__
from .errors import RunDirError
from .metrics import evaluate
from .model import architecture
from .trainer import Result

PREDICTIONS_MAX = 16  # datasets this small get their predictions listed in summary.json


def summary(p, result: Result, wall: float, command: list[str], final: bool = True) -> dict[str, Any]:
    """The summary of a prepared run `p` (runner.Prepared) after `result`. `final=False` (status
    "running", written with every checkpoint) skips the evaluation passes over the data and the
    predictions."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverged run's last weights
        return _summary(p, result, wall, command, final)


def _summary(p, result: Result, wall: float, command: list[str], final: bool) -> dict[str, Any]:
    st = result.state
    last = st.rows[-1] if st.rows else {}
    evaluation = {}
    if final:
        for name in ("train", "val", "test"):
            if p.data.get(name) is not None:
                evaluation[name] = evaluate(p.net, p.data.get(name), p.loss)
    n = len(p.data.train)
    samples = st.epoch * n + st.batch * p.trainer.batch_size(n)
    ds = p.data.dataset
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
        "dataset": {"name": ds.name, "source": ds.source, "task": ds.task,
                    "train": len(p.data.train), "val": len(p.data.val) if p.data.val else 0,
                    "test": len(p.data.test) if p.data.test else 0,
                    "classes": ds.n_classes, "class_names": ds.class_names},
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


# -- reading back ---------------------------------------------------------------------------------
STATUSES = ("running", "completed", "early_stopped", "diverged", "interrupted", "failed")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num_or_none(v: Any) -> bool:
    return v is None or _is_num(v)


def _metrics(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and _num_or_none(x) for k, x in v.items())


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


_INT = ("a non-negative integer", _is_int)
_NUM = ("a number or null", _num_or_none)
_STR = ("a string", lambda v: isinstance(v, str))
#: the fields nncli reads back, with what each must be (missing fields are allowed: a killed run's
#: summary.json has fewer)
FIELDS = {
    "status": (f"one of {', '.join(STATUSES)}", lambda v: v in STATUSES),
    "message": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "epochs": _INT, "epochs_planned": _INT, "steps": _INT, "parameters": _INT, "seed": _INT,
    "final": ("an object of metric names to numbers", _metrics),
    "best": ("null or an object with epoch, monitor and value", lambda v: v is None or isinstance(v, dict)),
    "evaluation": ("an object of splits to metrics", lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and _metrics(m) for k, m in v.items())),
    "architecture": _STR,
    "dataset": ("an object (name, source, task, train, val, test, classes, class_names)",
                lambda v: isinstance(v, dict)),
    "train_seconds": _NUM, "wall_seconds": _NUM, "samples_per_second": _NUM,
    "versions": ("an object of names to version strings", lambda v: isinstance(v, dict)),
    "command": ("a list of strings", _strings),
    "predictions": ("a list of objects", lambda v: isinstance(v, list) and all(isinstance(p, dict) for p in v)),
    "resumed": ("a list of objects", lambda v: isinstance(v, list) and all(isinstance(p, dict) for p in v)),
    "diverged_at": ("an object with epoch and step", lambda v: isinstance(v, dict)),
}
PARTS = {  # fields inside the objects above: (required, what, check)
    "best": {"epoch": (True, *_INT), "monitor": (True, *_STR), "value": (True, *_NUM)},
    "dataset": {"name": (False, *_STR), "source": (False, *_STR),
                "task": (False, "classification or regression", lambda v: v in ("classification", "regression")),
                "train": (False, *_INT), "val": (False, *_INT), "test": (False, *_INT),
                "classes": (False, "null or a positive integer", lambda v: v is None or (_is_int(v) and v > 0)),
                "class_names": (False, "null or a list of strings", lambda v: v is None or _strings(v))},
    "diverged_at": {"epoch": (False, *_INT), "step": (False, *_INT)},
}


def check(data: Any, where: str) -> dict[str, Any]:
    """summary.json's content, checked field by field (FIELDS, PARTS); RunDirError naming the file and
    the field when one has the wrong type (edited by hand or damaged), so nothing reading it fails later."""
    if not isinstance(data, dict):
        raise RunDirError("summary.json must hold a JSON object", where=where)
    for key, (what, ok) in FIELDS.items():
        if key in data and not ok(data[key]):
            raise _wrong(key, what, data[key], where)
    for key, fields in PARTS.items():
        part = data.get(key)
        if not isinstance(part, dict):
            continue
        for name, (required, what, ok) in fields.items():
            if name not in part and required:
                raise RunDirError(f"field '{key}.{name}' is missing; summary.json was edited or damaged", where=where)
            if name in part and not ok(part[name]):
                raise _wrong(f"{key}.{name}", what, part[name], where)
    return data


def _wrong(field: str, what: str, value: Any, where: str) -> RunDirError:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return RunDirError(f"field {field!r} must be {what}, got {type(value).__name__} {shown}; summary.json was "
                       f"edited or damaged", where=where)
