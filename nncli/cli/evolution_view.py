"""How `nncli inspect` draws the evolution section (nncli.inspection, nncli.evolution): decision maps at a
few snapshots side by side, the XOR units' boolean functions over the epochs, the weight norms per layer
as a chart; `--png` adds evolution.png (every snapshot, a grid of frames) and evolution.gif (an animation,
one frame per snapshot)."""

from __future__ import annotations

import numpy as np
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .. import evolution
from ..inspection import Inspection, Section
from .charts import class_map, line_chart, map_axes, value_map
from .inspect_views import MAX_POINTS_SMALL, VIEWS, centre_and_scale, grid_of
from .render import plots_module
from .style import fmt

PNG_GRID = 48  # decision maps of evolution.png and evolution.gif: PNG_GRID x PNG_GRID points


def _label(d: dict, i: int) -> str:
    """`epoch 13  loss 0.6854` of snapshot i (without the loss when the data was not available)."""
    loss = f"  loss {fmt(d['loss'][i])}" if d.get("loss") else ""
    return f"epoch {d['epochs'][i]}{loss}"


def _map(grid: dict, a: dict, activation: str, mono: bool) -> Text:
    """The output over the grid: the predicted class (several outputs) or the output's value (one)."""
    points = a["points"] if a["points"] is not None and len(a["points"]) <= MAX_POINTS_SMALL else None
    n_out = grid["outputs"].shape[2]
    if n_out > 1:
        return class_map(grid["predicted"], grid["confidence"], n_out, points, a["labels"], grid["xs"], grid["ys"],
                         mono)
    V = grid["outputs"][:, :, 0]
    centre, scale = centre_and_scale(activation, V, output=a["classifies"])
    return value_map(V, centre, scale, points, a["labels"], grid["xs"], grid["ys"], mono)


def _truth_table(tt: dict, d: dict) -> list[RenderableType]:
    """One row per snapshot: each unit's truth table (bits) and boolean function; the cell where a unit
    settles on its final function is bold."""
    rows = tt["snapshots"]
    names = list(rows[-1]["units"])
    composed = list(rows[-1]["of_hidden"])
    t = Table(box=None, header_style="bold", pad_edge=False)
    for col in ["epoch", "loss", *names, *[f"{n} of hidden" for n in composed]]:
        t.add_column(col, justify="right" if col in ("epoch", "loss") else "left")
    for i, row in enumerate(rows):
        cells = [Text(f"{''.join(map(str, row['bits'][n]))} {row['units'][n]}",
                      style="bold green" if row["epoch"] == tt["settled"][n] else "") for n in names]
        t.add_row(str(row["epoch"]), fmt(d["loss"][i]) if d.get("loss") else "-", *cells,
                  *[row["of_hidden"].get(n, "-") for n in composed])
    final = rows[-1]["units"]
    said = ", ".join(f"{n} ~ {final[n]} from epoch {tt['settled'][n]}" for n in names)
    return [t, Text(said, style="bold"),
            Text("bits: the unit at AB = 00, 01, 10, 11 (A, B: input high); a hidden unit is 1 where z > 0, "
                 "an output where > 0.5", style="dim")]


def _png_frames(sec: Section, ins: Inspection):
    """(title, panels) per snapshot for evolution.png/.gif, and the map's extent, points and labels: decision
    maps for 2-D inputs, else every layer's weights (bias as the last row) on one scale per layer."""
    d, a = sec.data, sec.arrays
    titles = [_label(d, i) for i in range(d["snapshots"])]
    if "grids" not in a:
        record = a["record"]
        scales = [float(max(np.abs(W).max(), np.abs(b).max())) or 1.0
                  for W, b in zip(record.params[0::2], record.params[1::2])]
        frames = [(titles[i], [(f"W{l + 1}", np.vstack([W[i], b[i][None, :]]).astype(float), 0.0, scales[l])
                               for l, (W, b) in enumerate(zip(record.params[0::2], record.params[1::2]))])
                  for i in range(len(titles))]
        return frames, None, None, None
    grids = evolution.decision_frames(a["nets"], a["X"], PNG_GRID, PNG_GRID)
    activation = ins.net.layers[-1].activation.name
    frames = []
    for title, g in zip(titles, grids):
        n_out = g["outputs"].shape[2]
        if n_out > 1:
            panel = ("predicted class", g["predicted"].astype(float), (n_out - 1) / 2, (n_out - 1) / 2 or 1)
        else:
            V = g["outputs"][:, :, 0]
            panel = ("output", V, *centre_and_scale(activation, V, output=a["classifies"]))
        frames.append((title, [panel]))
    xs, ys = grids[0]["xs"], grids[0]["ys"]
    return frames, (xs[0], xs[-1], ys[0], ys[-1]), a["points"], a["labels"]


@VIEWS.register("evolution")
def evolution_view(sec: Section, ins: Inspection, mono: bool):
    d, a = sec.data, sec.arrays
    if d.get("error"):
        return [Text(d["error"], style="yellow")], []
    if not d["snapshots"]:
        return [Text(d["message"], style="yellow")], []
    epochs = d["epochs"]
    out: list[RenderableType] = [Text(f"{d['snapshots']} snapshots of the weights, epochs {epochs[0]} to "
                                      f"{epochs[-1]} (log-spaced)", style="dim")]
    if a.get("missing"):
        out.append(Text(f"data not available ({a['missing']}): no losses", style="yellow"))
    if "grids" in a:
        activation = ins.net.layers[-1].activation.name
        cells = [map_axes(_map(g, a, activation, mono), g["xs"], g["ys"], _label(d, i))
                 for i, g in zip(a["shown"], a["grids"])]
        out += [Text("the output over the data's range at a few snapshots", style="bold"),
                grid_of(cells, a["per_row"])]
    if "truth_tables" in d:
        out += [Text("what each unit computes, snapshot by snapshot", style="bold"),
                *_truth_table(d["truth_tables"], d)]
    series = {f"‖{name}‖": (epochs, norms) for name, norms in d["weight_norms"].items()}
    out.append(line_chart(series, width=ins.width, height=8, title="weight norms per layer", log_y=False))

    def png(path):
        frames, extent, points, labels = _png_frames(sec, ins)
        return plots_module().evolution_grid(path, frames, extent, points, labels)

    def gif(path):
        frames, extent, points, labels = _png_frames(sec, ins)
        return plots_module().evolution_gif(path, frames, extent, points, labels)

    return out, [("evolution.png", png), ("evolution.gif", gif)]
