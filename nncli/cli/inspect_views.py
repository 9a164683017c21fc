"""How `nncli inspect` draws each section of nncli.inspection: one view per section name, registered in
VIEWS. A view turns a Section (its numbers and arrays) into Rich renderables and the PNG pictures `--png`
writes ((file name, function writing it to a path))."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .. import analysis
from ..config import flatten
from ..inspection import Inspection, Section
from ..nn.activations import ACTIVATIONS
from ..registry import Registry
from .charts import (CLASS_MARKS, class_map, diverging, diverging_legend, fmt_num, heatmap, image, line_chart,
                     map_axes, value_map)
from .render import plots_module
from .shrinkage_view import shrinkage_view
from .style import STATUS_STYLE, fmt

MAX_UNIT_MAPS = 12  # hidden-unit decision maps drawn per layer in the terminal (all of them go to --png)
MAX_POINTS_SMALL = 64  # the small hidden-unit maps mark the training points only when there are few
STRONGEST = 6  # first-layer units drawn as images for image inputs

Pictures = list[tuple[str, Callable[[Path], Path]]]
View = Callable[[Section, Inspection, bool], tuple[list[RenderableType], Pictures]]
VIEWS: Registry[View] = Registry("inspect view")
VIEWS.register("shrinkage")(shrinkage_view)


def grid_of(cells: list[RenderableType], per_row: int) -> Table:
    grid = Table.grid(padding=(0, 2))
    for _ in range(min(per_row, len(cells))):
        grid.add_column()
    for i in range(0, len(cells), per_row):
        grid.add_row(*cells[i:i + per_row])
    return grid


@VIEWS.register("overview")
def overview(sec: Section, ins: Inspection, mono: bool):
    d, cfg = sec.data, ins.cfg
    opt, sched = cfg.optimizer, cfg.optimizer.schedule
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    epochs, status = d["epochs"], d["status"]
    notes = {"incomplete": "incomplete (no summary.json: killed, or still running)",
             "running": f"running, or killed: the files are from the last checkpoint, epoch {epochs}"}
    t.add_row("status", Text(notes.get(status, status), style=STATUS_STYLE.get(status, "yellow")))
    if d["message"]:
        t.add_row("", Text(d["message"]))
    t.add_row("architecture", f"{d['architecture']}  ({d['parameters']} parameters)")
    ds = d["dataset"]
    t.add_row("data", f"{ds.get('name')}" + (f"  train {ds['train']}, val {ds.get('val', 0)}, test {ds.get('test', 0)}"
                                             if "train" in ds else ""))
    opt_text = opt.name + "".join(f" {k}={v}" for k, v in opt.options.items())
    t.add_row("training", f"loss {cfg.loss}, {opt_text}, lr {opt.lr:g}"
              + (f" ({sched.name} schedule)" if sched.name != "constant" else "")
              + f", weight decay {cfg.weight_decay:g}, batch {cfg.train.batch_size}, init {cfg.model.init.name}")
    t.add_row("seed / dtype", f"{cfg.seed} / {cfg.dtype}")
    t.add_row("epochs", f"{epochs} of {cfg.train.epochs}" + (f", {d['steps']} steps" if d["steps"] is not None else ""))
    if d["final"]:
        t.add_row("final", "  ".join(f"{k} {fmt(v)}" for k, v in d["final"].items() if k not in ("lr", "seconds")))
    if d["best"]:
        b = d["best"]
        t.add_row("best", f"{b['monitor']} {fmt(b['value'])} at epoch {b['epoch']}")
    for split, m in d["evaluation"].items():
        t.add_row(f"{split} set", "  ".join(f"{k} {fmt(v)}" for k, v in m.items()))
    if d["wall_seconds"] is not None:
        t.add_row("time", f"{d['wall_seconds']:.2f}s")
    if not d["weights"]:
        t.add_row("weights", Text("weights.npz was not written: only the config and metrics can be shown",
                                  style="yellow"))
    return [t], []


@VIEWS.register("curves")
def curves(sec: Section, ins: Inspection, mono: bool):
    c = sec.arrays["series"]
    if not c:
        return [Text("no metrics.csv rows yet", style="dim")], []
    out, pictures = [], []
    for kind in ("loss", "accuracy"):
        series = {k: (v["epoch"], v["value"]) for k, v in c.items() if k.endswith(kind)}
        if not series:
            continue
        log_y = None if kind == "loss" else False
        out.append(line_chart(series, width=ins.width, height=12 if kind == "loss" else 8, title=kind,
                                     log_y=log_y))
        pictures.append((f"{kind}.png", lambda p, series=series, kind=kind, log_y=log_y: plots_module().loss_curves(
            p, series, f"{ins.run.path.name}: {kind}", kind, log_y)))
    return out, pictures


@VIEWS.register("weights")
def weights(sec: Section, ins: Inspection, mono: bool):
    stats = sec.data["layers"]
    names = analysis.unit_names(ins.net)
    in_names = [f"x{i + 1}" for i in range(ins.net.sizes[0])]
    table = Table(title="per layer", title_justify="left", header_style="bold", box=None, pad_edge=False)
    for col in ("layer", "shape", "activation", "‖W‖", "mean W", "std W", "min W", "max W", "‖b‖"):
        table.add_column(col, justify="left" if col in ("layer", "shape", "activation") else "right")
    for st in stats:
        w = st["W"]
        table.add_row(str(st["layer"]), "x".join(map(str, st["shape"])), st["activation"],
                      *[fmt_num(w[k]) for k in ("norm", "mean", "std", "min", "max")],
                      fmt_num(st["b"]["norm"]))
    out: list[RenderableType] = [table]
    for l, layer in enumerate(ins.net.layers):
        W, b = layer.W.astype(np.float64), layer.b.astype(np.float64)
        head = Text(f"W{l + 1} ({W.shape[0]}x{W.shape[1]}, {layer.activation.name}) and b{l + 1}: "
                    f"‖W‖ {fmt_num(stats[l]['W']['norm'])}, ‖b‖ {fmt_num(stats[l]['b']['norm'])}",
                    style="bold")
        if "W_values" in stats[l]:
            out += [head, _numbers(W, b, in_names if l == 0 else names[l - 1], names[l])]
        else:
            body = Text("rows: inputs, columns: units\n", style="dim")
            body.append_text(heatmap(W, max_rows=16, max_cols=ins.width - 12, mono=mono))
            body.append(f"b{l + 1}:\n", style="dim")
            body.append_text(heatmap(b[None, :], max_rows=1, max_cols=ins.width - 12, mono=mono))
            out += [head, body]
    pictures = [("weights.png", lambda p: plots_module().weights(
        p, [(f"W{l + 1}", L.W, L.b) for l, L in enumerate(ins.net.layers)]))]
    return out, pictures


def _numbers(W: np.ndarray, b: np.ndarray, rows: list[str], cols: list[str]) -> Table:
    """W with one row per input and one column per unit, then the bias row; coloured by sign and size."""
    vmax = float(max(np.abs(W).max(), np.abs(b).max())) or 1.0
    t = Table(box=None, header_style="bold", pad_edge=False)
    t.add_column("")
    for c in cols:
        t.add_column(c, justify="right")
    for name, row in [(r, W[i]) for i, r in enumerate(rows)] + [("bias", b)]:
        t.add_row(name, *[Text(f"{v:+.3f}", style=diverging(v / vmax)) for v in row])
    return t


@VIEWS.register("truth_tables")
def truth_tables(sec: Section, ins: Inspection, mono: bool):
    tt = sec.data
    t = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("x1", "x2", "A", "B"):
        t.add_column(col, justify="right")
    units = [u for layer in tt["layers"] for u in layer["units"]]
    for u in units:
        t.add_column(u["name"], justify="right")
    for i, x in enumerate(tt["inputs"]):
        t.add_row(fmt_num(x[0]), fmt_num(x[1]), *map(str, [(0, 0), (0, 1), (1, 0), (1, 1)][i]),
                  *[f"{u['activation'][i]:+.3f} → {u['bits'][i]}" for u in units])
    lines = Text()
    for layer in tt["layers"]:
        for u in layer["units"]:
            lines.append(f"{u['name']} ~ {u['function']}", style="bold")
            lines.append(f"   (margin min|z| = {u['margin']:.3g})\n", style="dim")
    for comp in tt["in_terms_of_previous"]:
        for u in comp["units"]:
            lines.append(f"{u['name']} ~ {u['function']}", style="bold")
            unseen = [p for p, o in zip(("00", "01", "10", "11"), comp["observed"]) if not o]
            lines.append(f"   (as a function of {comp['of'][0]}, {comp['of'][1]}"
                         + (f"; patterns {', '.join(unseen)} never occur on the four inputs" if unseen else "")
                         + ")\n", style="dim")
    lines.append(tt["summary"], style="bold green")
    note = Text("A, B: input high (> midpoint); a hidden unit is 1 where its pre-activation z > 0, an output "
                "unit where its output > 0.5", style="dim")
    return [t, lines, note], []


def centre_and_scale(activation: str, V: np.ndarray, output: bool = False) -> tuple[float, float]:
    """Where a map's colours change sign and how far they go: the midpoint and half-width of a bounded
    activation (sigmoid 0.5 +- 0.5, tanh 0 +- 1), 0.5 +- 0.5 for an unbounded classifying output, else
    0 +- the largest |value|."""
    bounded = ACTIVATIONS.get(activation).centre_and_scale()
    if bounded is not None:
        return bounded
    if output:
        return 0.5, 0.5
    m = float(np.abs(V).max())
    return 0.0, m if m > 0 else 1.0


@VIEWS.register("decision_maps")
def decision_maps(sec: Section, ins: Inspection, mono: bool):
    a = sec.arrays
    big, small, points, labels = a["grid"], a["small"], a["points"], a["labels"]
    out: list[RenderableType] = []
    if a["missing"]:
        out.append(Text(f"data not available ({a['missing']}); the map spans [-1.2, 1.2]^2", style="yellow"))
    last = ins.net.layers[-1]
    n_out = big["outputs"].shape[2]
    maps_png = []
    if n_out > 1:
        body = class_map(big["predicted"], big["confidence"], n_out, points, labels, big["xs"], big["ys"],
                                mono)
        title = "predicted class (colour) and confidence (shade)"
        maps_png.append(("predicted class", big["predicted"].astype(float), (n_out - 1) / 2, (n_out - 1) / 2 or 1))
    else:
        V = big["outputs"][:, :, 0]
        centre, scale = centre_and_scale(last.activation.name, V, output=a["classifies"])
        body = value_map(V, centre, scale, points, labels, big["xs"], big["ys"], mono)
        title = f"output ({last.activation.name}); shade = distance from {fmt_num(centre)}"
        maps_png.append(("output", V, centre, scale))
    out.append(map_axes(body, big["xs"], big["ys"], title))
    if labels is not None:
        marks = ", ".join(f"{CLASS_MARKS[k % len(CLASS_MARKS)]} class {k}"
                          for k in range(int(labels.max()) + 1))
        out.append(Text(f"training points: {marks}", style="dim"))
    names = analysis.unit_names(ins.net)
    few = points is not None and len(points) <= MAX_POINTS_SMALL
    for l, H in enumerate(small["hidden"]):
        act = ins.net.layers[l].activation.name
        cells = []
        for j in range(H.shape[2]):
            big_map = big["hidden"][l][:, :, j]
            maps_png.append((f"{names[l][j]} ({act})", big_map, *centre_and_scale(act, big_map)))
            if j < MAX_UNIT_MAPS:
                centre, scale = centre_and_scale(act, H[:, :, j])
                cells.append(map_axes(value_map(H[:, :, j], centre, scale, points if few else None,
                                                              labels, small["xs"], small["ys"], mono),
                                             small["xs"], small["ys"], f"{names[l][j]} ({act})"))
        out.append(Text(f"hidden layer {l + 1}: each unit's activation", style="bold"))
        out.append(grid_of(cells, max(1, ins.width // 33)))
        if H.shape[2] > MAX_UNIT_MAPS:
            out.append(Text(f"({H.shape[2] - MAX_UNIT_MAPS} more units of layer {l + 1}: see --png)", style="dim"))
    out.append(Text("shade: distance of the activation from its midpoint (tanh 0, sigmoid 0.5)", style="dim"))
    out.append(diverging_legend(1.0, 0.0, mono=mono))
    pictures = [("decision.png", lambda p: plots_module().decision_maps(p, big, points, labels, maps_png))]
    return out, pictures


@VIEWS.register("unit_images")
def unit_images(sec: Section, ins: Inspection, mono: bool):
    all_units = sec.arrays["units"]
    units = all_units[:STRONGEST]
    vmax = max(float(np.abs(u["image"]).max()) for u in units)
    side = units[0]["image"].shape[1]
    cells = [Group(Text(f"unit {u['unit']} ‖w‖ {u['norm']:.2f}", style="bold"), image(u["image"], vmax, mono))
             for u in units]
    return ([Text(f"the {len(units)} strongest units", style="dim"), grid_of(cells, max(1, ins.width // (side + 3))),
             diverging_legend(vmax, mono=mono)],
            [("units.png", lambda p: plots_module().unit_images(p, all_units))])


def draw(sec: Section, ins: Inspection, mono: bool) -> tuple[list[Any], Pictures]:
    """The renderables and pictures of one section: its view's, or for a section without a view of its
    own (a new section is one function in nncli/inspection.py), its numbers as a table of keys and values."""
    if sec.name in VIEWS:
        return VIEWS.get(sec.name)(sec, ins, mono)
    return [plain_table(sec.data)], []


def plain_table(data: dict[str, Any]) -> Table:
    """Keys and values of a section's numbers (nested mappings as dotted keys)."""
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    for key, value in flatten(data).items():
        t.add_row(key, Text(fmt(value) if isinstance(value, (int, float)) else str(value)))
    return t
