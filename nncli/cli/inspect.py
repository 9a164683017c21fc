"""`nncli inspect RUN_DIR`: what a trained network learned, drawn in the terminal (or as PNGs, or JSON).

The view is a sequence of independent sections. A section is a function `(Inspection) -> Section | None`
(None: nothing to show for this run) returning its JSON numbers, its Rich renderables and its pictures;
adding one is one line in SECTIONS. The numbers come from nncli.analysis; this module only draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import typer
from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from .. import analysis, jsonable, pipeline
from ..data import datasets
from ..errors import ConfigError, NncliError
from . import app, charts
from .errors import err_console, handle_errors
from .render import fmt, plots_module
from .render_shrinkage import shrinkage  # the weight-decay lab's section

SMALL_LAYER = (12, 8)  # layers up to this many inputs x units are shown as numbers, larger ones as heatmaps
MAX_UNIT_MAPS = 12  # hidden-unit decision maps drawn per layer in the terminal (all of them go to --png)
MAX_POINTS_SMALL = 64  # the small hidden-unit maps mark the training points only when there are few
STRONGEST = 6  # first-layer units drawn as images for image inputs


@dataclass
class Inspection:
    """A loaded run and what sections share: its metrics, its 2-D data (loaded lazily) and the width."""

    loaded: pipeline.LoadedRun
    columns: list[str]
    rows: list[dict[str, float | None]]
    width: int = 100
    mono: bool = False  # no colours (a log file, a pipe): glyphs must carry the signs and classes

    @property
    def cfg(self):
        return self.loaded.cfg

    @property
    def net(self):
        return self.loaded.net

    @property
    def summary(self) -> dict[str, Any]:
        return self.loaded.summary

    @cached_property
    def data(self) -> tuple[datasets.Dataset | None, str]:
        """The run's dataset regenerated from its config and seed (as training saw it), or None and why."""
        try:
            rng = pipeline.rngs(self.cfg.seed)["data"]
            return datasets.load(self.cfg.data, rng, np.float64), ""
        except NncliError as e:
            return None, str(e)


@dataclass
class Section:
    name: str
    title: str
    data: dict[str, Any]
    renderables: list[RenderableType] = field(default_factory=list)
    #: (file name, function writing the picture to a path), for --png
    pictures: list[tuple[str, Callable[[Path], Path]]] = field(default_factory=list)


def inspect_run(path: str | Path, width: int = 100, mono: bool = False) -> Inspection:
    """Load a run for inspection; RunDirError (exit 2) for a missing, foreign or damaged directory.
    A run killed before writing weights.npz (no summary.json either) is accepted without its network."""
    loaded = pipeline.load_run(path, require_weights=False)
    columns, rows = loaded.run.read_metrics()
    return Inspection(loaded, columns, rows, width, mono)


# -- sections -------------------------------------------------------------------------------------
def overview(ins: Inspection) -> Section:
    """The run at a glance: architecture, parameters, loss, optimizer, status, epochs, metrics, time."""
    cfg, s = ins.cfg, ins.summary
    sizes = [cfg.model.input] + [layer.units for layer in cfg.model.layers]
    acts = [layer.activation for layer in cfg.model.layers]
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    opt = cfg.optimizer
    sched = opt.schedule
    opt_text = opt.name + "".join(f" {k}={v}" for k, v in opt.options.items())
    status = analysis.status(s)
    epochs = s.get("epochs", int(ins.rows[-1]["epoch"]) if ins.rows else 0)
    data = {
        "run": str(ins.loaded.run.path), "status": status, "message": s.get("message") or "",
        "architecture": pipeline.architecture(sizes, acts), "parameters": params,
        "dataset": s.get("dataset") or {"name": cfg.data.name},
        "loss": cfg.loss, "optimizer": {"name": opt.name, "lr": opt.lr, **opt.options},
        "schedule": {"name": sched.name, **sched.options}, "weight_decay": cfg.weight_decay,
        "init": cfg.model.init.name, "seed": cfg.seed, "dtype": cfg.dtype, "batch_size": cfg.train.batch_size,
        "epochs": epochs, "epochs_planned": cfg.train.epochs,
        "final": s.get("final") or ({k: v for k, v in ins.rows[-1].items() if k not in ("epoch", "step")}
                                    if ins.rows else {}),
        "best": s.get("best"), "evaluation": s.get("evaluation") or {},
        "wall_seconds": analysis.run_time(s, ins.rows), "weights": ins.net is not None,
    }
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    colour = {"completed": "green", "early_stopped": "green", "diverged": "red", "interrupted": "yellow",
              "failed": "red"}
    notes = {"incomplete": "incomplete (no summary.json: killed, or still running)",
             "running": f"running, or killed: the files are from the last checkpoint, epoch {epochs}"}
    t.add_row("status", Text(notes.get(status, status), style=colour.get(status, "yellow")))
    if data["message"]:
        t.add_row("", Text(data["message"]))
    t.add_row("architecture", f"{data['architecture']}  ({params} parameters)")
    ds = data["dataset"]
    t.add_row("data", f"{ds.get('name')}" + (f"  train {ds['train']}, val {ds.get('val', 0)}, test {ds.get('test', 0)}"
                                             if "train" in ds else ""))
    t.add_row("training", f"loss {cfg.loss}, {opt_text}, lr {opt.lr:g}"
              + (f" ({sched.name} schedule)" if sched.name != "constant" else "")
              + f", weight decay {cfg.weight_decay:g}, batch {cfg.train.batch_size}, init {cfg.model.init.name}")
    t.add_row("seed / dtype", f"{cfg.seed} / {cfg.dtype}")
    t.add_row("epochs", f"{epochs} of {cfg.train.epochs}" + (f", {s['steps']} steps" if "steps" in s else ""))
    if data["final"]:
        t.add_row("final", "  ".join(f"{k} {fmt(v)}" for k, v in data["final"].items() if k not in ("lr", "seconds")))
    if data["best"]:
        b = data["best"]
        t.add_row("best", f"{b['monitor']} {fmt(b['value'])} at epoch {b['epoch']}")
    for split, m in data["evaluation"].items():
        t.add_row(f"{split} set", "  ".join(f"{k} {fmt(v)}" for k, v in m.items()))
    if data["wall_seconds"] is not None:
        t.add_row("time", f"{data['wall_seconds']:.2f}s")
    if ins.net is None:
        t.add_row("weights", Text("weights.npz was not written: only the config and metrics can be shown",
                                  style="yellow"))
    return Section("overview", f"run {ins.loaded.run.path}", data, [t])


def curves(ins: Inspection) -> Section:
    """The loss (and val/test loss) per epoch, and the accuracies when present, as terminal charts."""
    c = analysis.curves(ins.columns, ins.rows)
    data = {"metrics": ins.columns, "epochs": len(ins.rows), "curves": analysis.curve_stats(c)}
    if not c:
        return Section("curves", "loss curve", data, [Text("no metrics.csv rows yet", style="dim")])
    out, pictures = [], []
    for kind in ("loss", "accuracy"):
        series = {k: (v["epoch"], v["value"]) for k, v in c.items() if k.endswith(kind)}
        if not series:
            continue
        out.append(charts.line_chart(series, width=ins.width, height=12 if kind == "loss" else 8, title=kind,
                                     log_y=None if kind == "loss" else False))
        pictures.append((f"{kind}.png", lambda p, series=series, kind=kind: plots_module().loss_curves(
            p, series, f"{ins.loaded.run.path.name}: {kind}", kind, None if kind == "loss" else False)))
    return Section("curves", "loss curve", data, out, pictures)


def weights(ins: Inspection) -> Section | None:
    """Every layer's weights and biases: numbers for small layers, a heatmap for large ones, norms."""
    if ins.net is None:
        return None
    stats = analysis.layer_stats(ins.net)
    names = analysis.unit_names(ins.net)
    in_names = [f"x{i + 1}" for i in range(ins.net.sizes[0])]
    table = Table(title="per layer", title_justify="left", header_style="bold", box=None, pad_edge=False)
    for col in ("layer", "shape", "activation", "‖W‖", "mean W", "std W", "min W", "max W", "‖b‖"):
        table.add_column(col, justify="left" if col in ("layer", "shape", "activation") else "right")
    for st in stats:
        w = st["W"]
        table.add_row(str(st["layer"]), "x".join(map(str, st["shape"])), st["activation"], fmt_num(w["norm"]),
                      fmt_num(w["mean"]), fmt_num(w["std"]), fmt_num(w["min"]), fmt_num(w["max"]),
                      fmt_num(st["b"]["norm"]))
    out: list[RenderableType] = [table]
    data: dict[str, Any] = {"layers": stats}
    for l, layer in enumerate(ins.net.layers):
        W, b = layer.W.astype(np.float64), layer.b.astype(np.float64)
        rows_names = in_names if l == 0 else names[l - 1]
        head = Text(f"W{l + 1} ({W.shape[0]}x{W.shape[1]}, {layer.activation.name}) and b{l + 1}: "
                    f"‖W‖ {fmt_num(stats[l]['W']['norm'])}, ‖b‖ {fmt_num(stats[l]['b']['norm'])}", style="bold")
        if W.shape[0] <= SMALL_LAYER[0] and W.shape[1] <= SMALL_LAYER[1]:
            data["layers"][l]["W_values"] = W.tolist()
            data["layers"][l]["b_values"] = b.tolist()
            out += [head, _numbers(W, b, rows_names, names[l])]
        else:
            body = Text("rows: inputs, columns: units\n", style="dim")
            body.append_text(charts.heatmap(W, max_rows=16, max_cols=ins.width - 12, mono=ins.mono))
            body.append(f"b{l + 1}:\n", style="dim")
            body.append_text(charts.heatmap(b[None, :], max_rows=1, max_cols=ins.width - 12, mono=ins.mono))
            out += [head, body]
    pictures = [("weights.png", lambda p: plots_module().weights(
        p, [(f"W{l + 1}", L.W, L.b) for l, L in enumerate(ins.net.layers)]))]
    return Section("weights", "weights and biases", data, out, pictures)


def _numbers(W: np.ndarray, b: np.ndarray, rows: list[str], cols: list[str]) -> Table:
    """W with one row per input and one column per unit, then the bias row; coloured by sign and size."""
    vmax = float(max(np.abs(W).max(), np.abs(b).max())) or 1.0
    t = Table(box=None, header_style="bold", pad_edge=False)
    t.add_column("")
    for c in cols:
        t.add_column(c, justify="right")
    for name, row in [(r, W[i]) for i, r in enumerate(rows)] + [("bias", b)]:
        t.add_row(name, *[Text(f"{v:+.3f}", style=charts.diverging(v / vmax)) for v in row])
    return t


def truth_tables(ins: Inspection) -> Section | None:
    """For the XOR run: each unit's truth table over the four inputs and the logical function it computes."""
    if ins.net is None or ins.net.sizes[0] != 2 or ins.cfg.data.name != "xor":
        return None
    ds, _ = ins.data
    low, high = (float(ds.X.min()), float(ds.X.max())) if ds is not None else (-1.0, 1.0)
    tt = analysis.truth_tables(ins.net, low, high)
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
    return Section("truth_tables", "how the network computes XOR", tt, [t, lines, note])


def decision_maps(ins: Inspection) -> Section | None:
    """For 2-D inputs: the output over the data's range and one map per hidden unit, points marked."""
    if ins.net is None or ins.net.sizes[0] != 2:
        return None
    ds, why = ins.data
    X = ds.X if ds is not None else np.array([[-1.0, -1.0], [1.0, 1.0]])
    labels = ds.y if ds is not None and ds.task == "classification" else None
    points = ds.X if ds is not None else None
    big = analysis.decision_grid(ins.net, X, nx=min(64, ins.width - 12), ny=22)
    out: list[RenderableType] = []
    if ds is None:
        out.append(Text(f"data not available ({why}); the map spans [-1.2, 1.2]^2", style="yellow"))
    last = ins.net.layers[-1]
    n_out = big["outputs"].shape[2]
    maps_png = []
    if n_out > 1:
        body = charts.class_map(big["predicted"], big["confidence"], n_out, points, labels, big["xs"], big["ys"],
                                ins.mono)
        title = "predicted class (colour) and confidence (shade)"
        maps_png.append(("predicted class", big["predicted"].astype(float), (n_out - 1) / 2, (n_out - 1) / 2 or 1))
    else:
        V = big["outputs"][:, :, 0]
        centre, scale = _centre_scale(last.activation.name, V, output=ds is None or ds.task == "classification")
        body = charts.value_map(V, centre, scale, points, labels, big["xs"], big["ys"], ins.mono)
        title = f"output ({last.activation.name}); shade = distance from {fmt_num(centre)}"
        maps_png.append(("output", V, centre, scale))
    out.append(charts.map_axes(body, big["xs"], big["ys"], title))
    marks = ", ".join(f"{charts.CLASS_MARKS[k % len(charts.CLASS_MARKS)]} class {k}"
                      for k in range(int(labels.max()) + 1)) if labels is not None else ""
    if marks:
        out.append(Text(f"training points: {marks}", style="dim"))
    small = analysis.decision_grid(ins.net, X, nx=22, ny=9)
    names = analysis.unit_names(ins.net)
    for l, H in enumerate(small["hidden"]):
        act = ins.net.layers[l].activation.name
        cells = []
        for j in range(H.shape[2]):
            V = H[:, :, j]
            centre, scale = _centre_scale(act, V)
            maps_png.append((f"{names[l][j]} ({act})", big["hidden"][l][:, :, j], *_centre_scale(act, big["hidden"][l][:, :, j])))
            if j < MAX_UNIT_MAPS:
                few = points is not None and len(points) <= MAX_POINTS_SMALL
                cells.append(charts.map_axes(charts.value_map(V, centre, scale, points if few else None, labels,
                                                              small["xs"], small["ys"], ins.mono),
                                             small["xs"], small["ys"], f"{names[l][j]} ({act})"))
        per_row = max(1, ins.width // 33)
        grid = Table.grid(padding=(0, 2))
        for _ in range(min(per_row, len(cells))):
            grid.add_column()
        for i in range(0, len(cells), per_row):
            grid.add_row(*cells[i:i + per_row])
        out.append(Text(f"hidden layer {l + 1}: each unit's activation", style="bold"))
        out.append(grid)
        if H.shape[2] > MAX_UNIT_MAPS:
            out.append(Text(f"({H.shape[2] - MAX_UNIT_MAPS} more units of layer {l + 1}: see --png)", style="dim"))
    out.append(Text("shade: distance of the activation from its midpoint (tanh 0, sigmoid 0.5)", style="dim"))
    out.append(charts.diverging_legend(1.0, 0.0, mono=ins.mono))
    data = {"xs": big["xs"], "ys": big["ys"], "outputs": big["outputs"], "predicted": big["predicted"],
            "range": analysis.grid_range(X)}
    pictures = [("decision.png", lambda p: plots_module().decision_maps(p, big, points, labels, maps_png))]
    return Section("decision_maps", "decision maps", data, out, pictures)


def _centre_scale(act: str, V: np.ndarray, output: bool = False) -> tuple[float, float]:
    """Where a map's colours change sign and how far they go: 0.5 +- 0.5 for sigmoid (and classifying
    outputs), 0 +- 1 for tanh, 0 +- the largest |value| otherwise."""
    if act in ("sigmoid", "softmax") or (output and act not in ("tanh",)):
        return 0.5, 0.5
    if act == "tanh":
        return 0.0, 1.0
    m = float(np.abs(V).max())
    return 0.0, m if m > 0 else 1.0


def unit_images(ins: Inspection) -> Section | None:
    """For image inputs (784 = 28x28): the first-layer weights of the strongest units as small images."""
    if ins.net is None or analysis.image_side(ins.net.sizes[0]) is None:
        return None
    W = ins.net.layers[0].W
    units = analysis.strongest_units(W, STRONGEST)
    vmax = max(float(np.abs(u["image"]).max()) for u in units)
    side = units[0]["image"].shape[1]
    per_row = max(1, ins.width // (side + 3))
    grid = Table.grid(padding=(0, 2))
    for _ in range(min(per_row, len(units))):
        grid.add_column()
    cells = [Group(Text(f"unit {u['unit']} ‖w‖ {u['norm']:.2f}", style="bold"), charts.image(u["image"], vmax, ins.mono))
             for u in units]
    for i in range(0, len(cells), per_row):
        grid.add_row(*cells[i:i + per_row])
    data = {"units": [{"unit": u["unit"], "norm": u["norm"]} for u in units], "side": side}
    all_units = analysis.strongest_units(W, min(32, W.shape[1]))
    return Section("unit_images", f"first-layer weights of the {len(units)} strongest units (largest ‖w‖)",
                   data, [grid, charts.diverging_legend(vmax, mono=ins.mono)],
                   [("units.png", lambda p: plots_module().unit_images(p, all_units))])


#: the sections of `nncli inspect`, in order (add a function here to add a section)
SECTIONS: list[Callable[[Inspection], Section | None]] = [
    overview, curves, weights, truth_tables, decision_maps, unit_images, shrinkage,
]


def sections(ins: Inspection, only: list[str] | None = None) -> list[Section]:
    out = [s for s in (f(ins) for f in SECTIONS) if s is not None]
    if only:
        known = [s.__name__ for s in SECTIONS]  # each section function is named as its Section
        for name in only:
            if name not in known:
                raise ConfigError(f"no section {name!r}; choose from {', '.join(known)}", where="--section")
        out = [s for s in out if s.name in only]
    return out


def render(secs: list[Section], console: Console) -> None:
    for s in secs:
        console.print(Rule(Text(s.title, style="bold"), align="left", style="dim"))
        for r in s.renderables:
            console.print(r)


def fmt_num(v: float) -> str:
    return charts.fmt_num(float(v))


@app.command()
def inspect(
    run_dir: Path = typer.Argument(..., help="a run directory, e.g. runs/xor-20260101-120000", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON on stdout instead"),
    png: Optional[Path] = typer.Option(None, "--png", help="also write the pictures as PNG files into DIR "
                                       "(needs matplotlib: pip install -e \".[plot]\")", metavar="DIR"),
    section: Optional[list[str]] = typer.Option(None, "--section", help="show only this section (repeatable): "
                                                + ", ".join(f.__name__ for f in SECTIONS)),
    width: Optional[int] = typer.Option(None, "--width", min=60, help="drawing width in columns "
                                        "[default: the terminal's, 100 when not a terminal]"),
) -> None:
    """Show what a trained network learned: summary, loss curve, weights, truth tables, decision maps."""
    with handle_errors():
        if png is not None:
            plots_module()
        console = Console(width=width, highlight=False) if width else Console(highlight=False)
        if not console.is_terminal and not width:
            console = Console(width=100, highlight=False)
        ins = inspect_run(run_dir, width=console.width, mono=console.color_system is None)
        secs = sections(ins, section)
        if as_json:
            typer.echo(jsonable.dumps({s.name: s.data for s in secs}))
        else:
            render(secs, console)
        if png is not None:
            for s in secs:
                for name, draw in s.pictures:
                    err_console.print(f"wrote {draw(png / name)}", highlight=False)
