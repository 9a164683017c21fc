"""The numbers `nncli inspect` shows, section by section. Never prints; the CLI draws them.

A section is one function `(Inspection) -> Section | None` registered in SECTIONS under its name (None:
nothing to show for this run). It returns the section's numbers (`data`, what `--json` prints) and the
arrays its drawings need beyond them (`arrays`: grids, layer weights; not printed). The computations
themselves live in nncli.analysis and nncli.shrinkage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np

from . import analysis, evolution, shrinkage
from .comparison import run_time
from .data import DATASETS
from .data.splits import TrainData
from .errors import ConfigError, NncliError, argument
from .model import architecture, config_sizes, parameter_count
from .nn.losses import LOSSES
from .registry import Registry
from .run import Run

SECTIONS: Registry[Callable[["Inspection"], "Section | None"]] = Registry("inspect section")
SMALL_LAYER = (12, 8)  # layers up to this many inputs x units are given as numbers
FRAME_WIDTH = 25  # columns per decision map of the evolution section (two rows of them at most)


@dataclass
class Section:
    name: str
    title: str
    data: dict[str, Any]
    arrays: dict[str, Any] = field(default_factory=dict)


@dataclass
class Inspection:
    """A run and what sections share: its metrics, its data (loaded lazily) and the drawing width."""

    run: Run
    width: int = 100

    @property
    def cfg(self):
        return self.run.config

    @property
    def net(self):
        return self.run.network

    @cached_property
    def data(self) -> tuple[TrainData | None, str]:
        """The run's splits as training made them, or None and why they could not be made."""
        try:
            return self.run.data(), ""
        except NncliError as e:
            return None, str(e)


def sections(ins: Inspection, only: list[str] | None = None) -> list[Section]:
    """The sections that apply to this run, in order; `only` selects some by name."""
    known = SECTIONS.in_order()
    for name in only or []:
        if name not in known:
            raise ConfigError(f"no section {name!r}; choose from {', '.join(known)}", where=argument("section"))
    chosen = [name for name in known if not only or name in only]
    return [s for s in (SECTIONS.get(name)(ins) for name in chosen) if s is not None]


@SECTIONS.register("overview")
def overview(ins: Inspection) -> Section:
    """The run at a glance: architecture, parameters, loss, optimizer, status, epochs, metrics, time."""
    cfg, s, rows = ins.cfg, ins.run.summary, ins.run.metrics
    sizes = config_sizes(cfg)
    opt, sched = cfg.optimizer, cfg.optimizer.schedule
    epochs = s.get("epochs", int(rows[-1]["epoch"]) if rows else 0)
    data = {
        "run": str(ins.run.path), "status": ins.run.status, "message": s.get("message") or "",
        "architecture": architecture(sizes, [layer.activation for layer in cfg.model.layers]),
        "parameters": parameter_count(sizes),
        "dataset": s.get("dataset") or {"name": cfg.data.name},
        "loss": cfg.loss, "optimizer": {"name": opt.name, "lr": opt.lr, **opt.options},
        "schedule": {"name": sched.name, **sched.options}, "weight_decay": cfg.weight_decay,
        "init": cfg.model.init.name, "seed": cfg.seed, "dtype": cfg.dtype, "batch_size": cfg.train.batch_size,
        "epochs": epochs, "epochs_planned": cfg.train.epochs, "steps": s.get("steps"),
        "final": s.get("final") or ({k: v for k, v in rows[-1].items() if k not in ("epoch", "step")}
                                    if rows else {}),
        "best": s.get("best"), "evaluation": s.get("evaluation") or {},
        "wall_seconds": run_time(s, rows), "weights": ins.net is not None,
    }
    return Section("overview", f"run {ins.run.path}", data)


@SECTIONS.register("curves")
def curves(ins: Inspection) -> Section:
    """The loss (and val/test loss) per epoch, and the accuracies when present."""
    c = analysis.curves(ins.run.columns, ins.run.metrics)
    data = {"metrics": ins.run.columns, "epochs": len(ins.run.metrics), "curves": analysis.curve_stats(c)}
    return Section("curves", "loss curve", data, {"series": c})


@SECTIONS.register("weights")
def weights(ins: Inspection) -> Section | None:
    """Every layer's weights and biases with their norms; the numbers themselves for small layers."""
    if ins.net is None:
        return None
    stats = analysis.layer_stats(ins.net)
    for l, layer in enumerate(ins.net.layers):
        if layer.W.shape[0] <= SMALL_LAYER[0] and layer.W.shape[1] <= SMALL_LAYER[1]:
            stats[l]["W_values"] = layer.W.astype(np.float64).tolist()
            stats[l]["b_values"] = layer.b.astype(np.float64).tolist()
    return Section("weights", "weights and biases", {"layers": stats})


@SECTIONS.register("truth_tables")
def truth_tables(ins: Inspection) -> Section | None:
    """For the XOR run: each unit's truth table over the four inputs and the logical function it computes."""
    if not _truth_tables_apply(ins):
        return None
    return Section("truth_tables", "how the network computes XOR", analysis.truth_tables(ins.net, *_xor_levels(ins)))


def _truth_tables_apply(ins: Inspection) -> bool:
    return ins.net is not None and ins.net.sizes[0] == 2 and DATASETS.get(ins.cfg.data.name).truth_table


def _xor_levels(ins: Inspection) -> tuple[float, float]:
    """The low and high input values of the XOR data (-1 and 1 when the data is not available)."""
    d, _ = ins.data
    X = d.train.X if d is not None else None
    return (float(X.min()), float(X.max())) if X is not None else (-1.0, 1.0)


@SECTIONS.register("decision_maps")
def decision_maps(ins: Inspection) -> Section | None:
    """For 2-D inputs: the network's output (and every hidden unit) over the data's range; the training
    points with their classes."""
    if ins.net is None or ins.net.sizes[0] != 2:
        return None
    d, why = ins.data
    points = d.train.X.astype(np.float64) if d is not None else None
    labels = d.train.y if d is not None else None
    X = points if points is not None else np.array([[-1.0, -1.0], [1.0, 1.0]])
    big = analysis.decision_grid(ins.net, X, nx=min(64, ins.width - 12), ny=22)
    classifies = d is None or d.dataset.task == "classification"
    data = {"xs": big["xs"], "ys": big["ys"], "outputs": big["outputs"], "predicted": big["predicted"],
            "range": analysis.grid_range(X)}
    arrays = {"grid": big, "small": analysis.decision_grid(ins.net, X, nx=22, ny=9), "points": points,
              "labels": labels, "missing": why if d is None else "", "classifies": classifies}
    return Section("decision_maps", "decision maps", data, arrays)


@SECTIONS.register("unit_images")
def unit_images(ins: Inspection) -> Section | None:
    """For image inputs (784 = 28x28): the first-layer weights of the strongest units as images."""
    if ins.net is None or analysis.image_side(ins.net.sizes[0]) is None:
        return None
    W = ins.net.layers[0].W
    units = analysis.strongest_units(W, min(32, W.shape[1]))
    data = {"units": [{"unit": u["unit"], "norm": u["norm"]} for u in units], "side": units[0]["image"].shape[1]}
    return Section("unit_images", "first-layer weights of the strongest units (largest ‖w‖)", data,
                   {"units": units})


@SECTIONS.register("shrinkage")
def shrinkage_section(ins: Inspection) -> Section | None:
    """The weight-decay lab: the eigen-shrinkage of a linear model trained with mse (None otherwise)."""
    title = "weight decay along the Hessian's eigenvectors"
    try:
        report = shrinkage.for_run(ins.cfg, ins.net)
    except NncliError as e:
        return Section("shrinkage", title, {"error": str(e)})
    if report is None:
        return None
    return Section("shrinkage", title, report.to_dict(), {"report": report})


@SECTIONS.register("evolution")
def evolution_section(ins: Inspection) -> Section | None:
    """How the network got to its final weights, from its snapshots: the loss and the weight norms at every
    snapshot; for 2-D inputs the decision map at a few of them; for XOR each unit's boolean function."""
    if ins.net is None:
        return None
    title = "how the network evolved during training"
    try:
        record = ins.run.snapshots
    except NncliError as e:
        return Section("evolution", title, {"snapshots": None, "error": str(e)})
    if record is None or not len(record):
        return Section("evolution", title, {"snapshots": 0, "message": evolution.HOW_TO})
    d, why = ins.data
    nets = evolution.networks(record, ins.net)
    data = {"snapshots": len(record), "epochs": record.epochs,
            **evolution.losses(nets, d.train if d is not None else None, LOSSES.get(ins.cfg.loss)()),
            "weight_norms": evolution.weight_norms(record)}
    arrays: dict[str, Any] = {"record": record, "nets": nets, "missing": why}
    if ins.net.sizes[0] == 2:
        per_row = max(1, ins.width // FRAME_WIDTH)
        shown = evolution.frame_indices(len(record), 2 * per_row)
        points = d.train.X.astype(np.float64) if d is not None else None
        X = points if points is not None else np.array([[-1.0, -1.0], [1.0, 1.0]])
        data["frames"] = [record.epochs[i] for i in shown]
        arrays.update(shown=shown, per_row=per_row, X=X, points=points, labels=d.train.y if d is not None else None,
                      classifies=d is None or d.dataset.task == "classification",
                      grids=evolution.decision_frames([nets[i] for i in shown], X, ins.width // per_row - 10, 8))
    if _truth_tables_apply(ins):
        data["truth_tables"] = evolution.truth_tables(nets, record.epochs, *_xor_levels(ins))
    return Section("evolution", title, data, arrays)
