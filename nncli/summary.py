"""summary.json: what a run reports about itself (see README: run directories). Written when a run starts
(status "running"), with every checkpoint, and at the end with the evaluation of the final weights."""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np

from . import __version__
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
