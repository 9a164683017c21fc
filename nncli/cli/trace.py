"""`nncli trace CONFIG|RUN_DIR [KEY=VALUE ...]`: one step of back-propagation with the network's numbers.

Prints, in the order of docs/backprop.md, every quantity the library's nncli.tracing computes, each
labelled with its formula and the function that computes it. Small matrices are printed in full; larger
ones are summarised (shape, norm, largest entries, a heatmap as `inspect` draws them); `--json` gives
every array in full.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
import typer
from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.text import Text

from .. import api, jsonable
from ..tracing import DEFAULT_MAX_PARAMS, DEFAULT_ROWS, Quantity, Trace, max_rel_error
from .charts import heatmap
from .completion import config_argument, overrides_argument
from .errors import handle_errors
from .style import fmt

SMALL = (16, 8)  # matrices up to this many rows x columns are printed in full
SMALL_GRADIENT = 16  # gradients with at most this many entries get one line per entry
LARGEST = 3  # entries listed in the summary of a large matrix
STAGES = {"forward": "forward pass", "loss": "loss", "backward": "backward pass", "step": "optimizer step"}


def number_format(*arrays: np.ndarray) -> Callable[[float], str]:
    """One format for the numbers of a block: 6 decimals when every non-zero |v| lies in [1e-3, 1e4),
    else scientific notation with 6 significant digits (so a round-off 1e-17 is not shown as 0)."""
    a = np.abs(np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in arrays]))
    a = a[np.isfinite(a) & (a > 0)]
    spec = "+.6f" if a.size == 0 or (a.min() >= 1e-3 and a.max() < 1e4) else "+.5e"
    return lambda v: fmt(float(v), spec=spec)


def num(v: float) -> str:
    return number_format(np.asarray(v))(v)


def _err(v: float) -> str:
    return fmt(float(v), spec=".1e")


def title(q: Quantity, width: int) -> Text:
    """`formula  (shape)` in bold, then the function that computes it (on its own line if it does not fit)."""
    shape = np.shape(q.value)
    head = Text()
    head.append(q.formula, style="bold")
    if shape:
        head.append(f"  ({'x'.join(map(str, shape))}{',' if len(shape) == 1 else ''})", style="bold")
    else:
        head.append(f" = {num(q.value)}", style="bold")
    by = f"{q.function}"
    if len(head) + 3 + len(by) <= width:
        head.append(" " * (width - len(head) - len(by)) + by, style="dim")
    else:
        head.append("\n    " + by, style="dim")
    return head


def matrix(M: np.ndarray) -> Text:
    """A small matrix (or vector, as one row), one line per row, numbers right-aligned."""
    M = np.atleast_2d(M)
    f = number_format(M)
    cells = [[f(v) for v in row] for row in M]
    w = max(len(c) for row in cells for c in row)
    return Text("\n".join("  " + " ".join(c.rjust(w) for c in row) for row in cells))


def _index(ij: tuple[int, ...]) -> str:
    return "[" + ",".join(map(str, ij)) + "]"


def _rel(q: Quantity, ij: tuple[int, ...]) -> str:
    if q.skipped[ij]:
        return "kink"
    return "-" if np.isnan(q.rel_error[ij]) else _err(q.rel_error[ij])


def entries(q: Quantity) -> Text:
    """A small gradient: one line per entry with back-propagation, central difference, relative error."""
    rows = [("entry", "back-prop", "central diff.", "rel. error")]
    f = number_format(q.value, q.numerical)
    for ij in np.ndindex(*np.shape(q.value)):
        n = q.numerical[ij]
        rows.append((_index(ij), f(q.value[ij]), "-" if np.isnan(n) else f(n), _rel(q, ij)))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    lines = ["  " + r[0].ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(r[1:], widths[1:]))
             for r in rows]
    out = Text()
    out.append(lines[0] + "\n", style="dim")
    out.append("\n".join(lines[1:]))
    return out


def summary(q: Quantity, width: int, mono: bool) -> Text:
    """A large array: its norm and range, the largest entries, and a heatmap (matrices)."""
    V = np.asarray(q.value, dtype=np.float64)
    f = number_format(V)
    top = np.argsort(-np.abs(V).ravel(), kind="stable")[:LARGEST]
    out = Text()
    out.append(f"  ‖·‖ {fmt(float(np.linalg.norm(V)), spec='short')}, min {f(V.min())}, max {f(V.max())}\n"
               "  largest |entries|: " + ", ".join(f"{_index(np.unravel_index(k, V.shape))} {f(V.flat[k])}"
                                                   for k in top), style="dim")
    if q.numerical is not None:
        checked = int(np.count_nonzero(~np.isnan(q.rel_error)))
        out.append(f"\n  central differences: {checked} of {V.size} entries checked"
                   + (f", {int(q.skipped.sum())} skipped at kinks" if q.skipped.any() else ""))
        if checked:
            ij = np.unravel_index(int(np.nanargmax(q.rel_error)), V.shape)
            g = number_format(V[ij], q.numerical[ij])
            out.append(f"\n  max rel. error {_err(q.rel_error[ij])} at {_index(ij)}: back-prop {g(V[ij])}, "
                       f"central diff. {g(q.numerical[ij])}")
    if V.ndim <= 2:
        out.append("\n")
        out.append_text(heatmap(np.atleast_2d(V), max_rows=16, max_cols=width - 12, mono=mono))
    return out


def vector(v: np.ndarray) -> Text:
    """A vector in rows of SMALL[1] numbers, each row labelled with the index of its first entry."""
    f = number_format(v)
    cells = [f(x) for x in v]
    w = max(len(c) for c in cells)
    label = len(f"[{len(v) - 1}]")
    return Text("\n".join(f"  {f'[{i}]':>{label}} " + " ".join(c.rjust(w) for c in cells[i:i + SMALL[1]])
                          for i in range(0, len(v), SMALL[1])))


def side_by_side(blocks: list[list[str]], width: int) -> Text:
    """Blocks of lines next to each other, as many per row as fit in `width` columns."""
    cell = max(len(line) for b in blocks for line in b) + 2
    per_row = max(1, width // cell)
    lines = []
    for start in range(0, len(blocks), per_row):
        row = blocks[start:start + per_row]
        for k in range(max(len(b) for b in row)):
            lines.append("".join((b[k] if k < len(b) else "").ljust(cell) for b in row).rstrip())
    return Text("\n".join(lines))


def per_sample(q: Quantity, width: int, mono: bool) -> list[RenderableType]:
    """G_l (N, fan_in, fan_out): each sample's outer product (small) or a summary, then the sum check."""
    G = q.value
    n, fan_in, fan_out = G.shape
    body: list[RenderableType]
    if n * fan_in <= 2 * SMALL[0] and fan_out <= SMALL[1]:
        body = [side_by_side([[f"  i = {i}"] + matrix(G[i]).plain.splitlines() for i in range(n)], width)]
    else:
        body = [summary(q, width, mono)]
    l = q.name.split("_")[1]
    note = Text(f"  sum_i G_{l}[i] + lambda W_{l} = grad W_{l}: max |difference| {_err(q.sum_error)}\n"
                f"  (the rows of Delta_{l} carry the 1/N of the mean: G_{l}[i] is sample i's gradient of E, "
                f"divided by N)", style="dim")
    return body + [note]


def quantity(q: Quantity, width: int, mono: bool) -> list[RenderableType]:
    out: list[RenderableType] = [title(q, width)]
    shape = np.shape(q.value)
    if not shape:
        return out
    if q.sum_error is not None:
        return out + per_sample(q, width, mono)
    if q.numerical is not None and q.value.size <= SMALL_GRADIENT:
        return out + [entries(q)]
    if q.numerical is None and len(shape) == 1 and shape[0] > SMALL[1] and shape[0] <= SMALL[0] * 4:
        return out + [vector(q.value)]
    rows, cols = (1, shape[0]) if len(shape) == 1 else shape
    if q.numerical is None and rows <= SMALL[0] and cols <= SMALL[1]:
        return out + [matrix(q.value)]
    return out + [summary(q, width, mono)]


def header(t: Trace, source: str) -> Text:
    rows = ""
    if t.rows is not None:
        shown = ", ".join(map(str, t.rows[:12])) + (", ..." if len(t.rows) > 12 else "")
        rows = f" (rows {shown})"
    largest = max(q.value.size for q in t.quantities if q.numerical is not None)
    out = Text()
    out.append(f"trace {source}", style="bold")
    out.append(f": {t.architecture}, {t.loss}, weight decay {t.weight_decay:g}\n"
               f"batch: {t.data}{rows}, {t.dtype}\nweights: {t.weights}\n"
               f"gradients beside their central differences (float64, eps {t.tolerance.eps:g}"
               + (f", at most {t.max_params} entries per tensor" if 0 < t.max_params < largest else "")
               + f"),\nrel. error = |a - n| / max(|a|, |n|, {t.tolerance.floor:g})")
    return out


def step_header(t: Trace) -> Text:
    s = t.step
    options = "".join(f" {k}={v}" for k, v in s["options"].items())
    out = Text(f"{s['optimizer']}{options}, lr {s['lr']:g} at epoch {s['epoch']} ({s['schedule']} schedule), "
               f"from fresh optimizer state\n{s['function']}:\n", style="bold")
    out.append("\n".join("  " + line for line in s["rule"].splitlines()), style="dim")
    return out


def render(console: Console, t: Trace, source: str) -> None:
    width, mono = console.width, console.color_system is None
    console.print(header(t, source))
    stage = None
    for q in t.quantities:
        if q.stage != stage:
            stage = q.stage
            console.print(Rule(Text(STAGES[stage], style="bold"), align="left", style="dim"))
            if stage == "step":
                console.print(step_header(t))
        for r in quantity(q, width, mono):
            console.print(r)


def trace(
    config: Path = config_argument("a YAML config (its initial network) or a run directory (its trained weights)",
                                   required=True, runs=True),
    overrides: Optional[list[str]] = overrides_argument("KEY=VALUE overrides, e.g. weight_decay=0.01"),
    rows: Optional[int] = typer.Option(None, "--rows", help=f"seeded rows of the training data in the batch "
                                       f"(default {DEFAULT_ROWS}, or all of them when there are fewer)",
                                       show_default=False),
    per_sample: bool = typer.Option(False, "--per-sample", help="show the per-sample gradients "
                                    "(N, fan_in, fan_out) and that their sum is the batch gradient"),
    step: bool = typer.Option(False, "--step", help="add the optimizer's update: learning rate, its state "
                              "(momentum, Adam's moments) and the new weights"),
    max_params: int = typer.Option(DEFAULT_MAX_PARAMS, "--max-params",
                                   help="central differences for at most N seeded entries per tensor (0: all)"),
    random_data: bool = typer.Option(False, "--random-data",
                                     help="if the config's data cannot be loaded, use random inputs instead"),
    as_json: bool = typer.Option(False, "--json", help="every quantity as JSON on stdout, arrays in full"),
    width: Optional[int] = typer.Option(None, "--width", min=60, help="drawing width in columns (default: "
                                        "the terminal's, 100 when not a terminal)"),
) -> None:
    """Walk one step of back-propagation with your network's numbers, each quantity beside its formula."""
    with handle_errors():
        t = api.trace(config, overrides or [], rows=rows, per_sample=per_sample, step=step,
                      random_data=random_data, max_params=max_params)
        if as_json:
            typer.echo(jsonable.dumps({"source": str(config), **t.to_dict()}))
            return
        console = Console(width=width, highlight=False) if width else Console(highlight=False)
        if not console.is_terminal and not width:
            console = Console(width=100, highlight=False)
        render(console, t, str(config))
