"""`nncli compare RUN_DIR ...`: one table of many runs, with the config keys that differ between them.

The differing keys are found from the runs' resolved config.yaml (nncli.comparison.differing_keys), never
chosen by hand; `--sort METRIC` orders the rows best first, `--json` prints the rows, `--png FILE` plots
every run's loss curve together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import analysis, comparison, jsonable
from ..errors import ConfigError, argument
from .completion import run_dirs
from .errors import err_console, handle_errors
from .render import plots_module
from .style import STATUS_STYLE, fmt


def short_keys(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix naming each key uniquely, not starting with a list index:
    optimizer.lr -> lr, model.layers.0.units -> layers.0.units."""
    parts = {k: k.split(".") for k in keys}
    out = {}
    for k, p in parts.items():
        for n in range(1, len(p) + 1):
            cand = p[-n:]
            if cand[0].isdigit() and n < len(p):
                continue
            suffix = ".".join(cand)
            if not any(o != k and (o == suffix or o.endswith("." + suffix)) for o in keys):
                out[k] = suffix
                break
        else:
            out[k] = k
    return out


def value_text(v: Any) -> str:
    """A config value in the table: 0.25, he_normal, [8, 8], -."""
    return fmt(v, spec="g")


def header(metric: str) -> str:
    """val_accuracy -> val acc: short column headers."""
    return metric.replace("accuracy", "acc").replace("_", " ")


def table(result: dict[str, Any], rows: list[dict[str, Any]], width: int = 100) -> tuple[Table, Text | None]:
    """One row per run, its status, epochs, final metrics, best value and time, and the config values that
    differ: a column per differing key when everything fits in `width`, else one line of key=value pairs
    per run below the table (returned second). Final metrics share one wrapped column when their own
    columns would not fit."""
    keys = result["keys"]
    names = short_keys(keys)
    metrics = result["metrics"]
    run_names = [Path(r["run"]).name for r in rows]
    best = [f"{fmt(r['best']['value'])} @{r['best']['epoch']}" if r.get("best") else "-" for r in rows]
    times = [f"{r['seconds']:.2f}s" if r["seconds"] is not None else "-" for r in rows]
    finals = [[fmt(r["final"].get(m)) for m in metrics] for r in rows]
    key_widths = [max(len(names[k]), *(len(value_text(r["config"][k])) for r in rows)) for k in keys]
    metric_widths = [max(len(header(m)), *(len(f[i]) for f in finals)) for i, m in enumerate(metrics)]
    base = max(map(len, run_names)) + 2 + max(len(r["status"]) for r in rows) + 2 + 8 + max(4, *map(len, best))
    time_width = 2 + max(4, *map(len, times))
    metrics_width = sum(w + 2 for w in metric_widths)
    show_time = base + metrics_width + time_width <= width  # the first thing to go when space is short
    apart_metrics = base + metrics_width + (time_width if show_time else 0) <= width
    base += time_width if show_time else 0
    used = base + (metrics_width if apart_metrics else 24)
    apart = used + sum(w + 2 for w in key_widths) <= width
    t = Table(header_style="bold", box=None, pad_edge=False, show_edge=False)
    t.add_column("run", overflow="fold", min_width=min(24, max(map(len, run_names))))
    if apart:
        for k in keys:
            t.add_column(names[k], overflow="fold")
    t.add_column("status", no_wrap=True)
    t.add_column("epochs", justify="right", no_wrap=True)
    if apart_metrics:
        for m in metrics:
            t.add_column(header(m), justify="right", no_wrap=True)
    else:
        t.add_column("final", min_width=12)
    monitors = list(dict.fromkeys(r["best"]["monitor"] for r in rows if r.get("best")))
    t.add_column(f"best {header(monitors[0])}" if len(monitors) == 1 else "best", justify="right", no_wrap=True)
    if len(monitors) > 1:
        t.caption = f"best: each run's monitored metric ({', '.join(map(header, monitors))}) at its best epoch"
        t.caption_justify = "left"
    if show_time or not apart_metrics:
        t.add_column("time", justify="right", no_wrap=True)
    for r, name, f, b, tm in zip(rows, run_names, finals, best, times):
        metric_cells = f if apart_metrics else ["\n".join(f"{header(m)} {v}" for m, v in zip(metrics, f) if v != "-")]
        t.add_row(name, *([value_text(r["config"][k]) for k in keys] if apart else []),
                  Text(r["status"], style=STATUS_STYLE.get(r["status"], "")), str(r["epochs"]),
                  *metric_cells, b, *([tm] if show_time or not apart_metrics else []))
    if apart or not keys:
        return t, None
    below = Text()
    for r, name in zip(rows, run_names):
        below.append(name + ": ", style="bold")
        below.append(" ".join(f"{names[k]}={value_text(r['config'][k])}" for k in keys
                              if r["config"][k] is not None) + "\n")
    return t, below


def label(r: dict[str, Any], keys: list[str]) -> str:
    names = short_keys(keys)
    flat = comparison.flatten(r["config"])
    parts = [f"{names[k]}={value_text(flat.get(k))}" for k in keys]
    return " ".join(parts) if parts else Path(r["run"]).name


def compare(
    run_dirs: list[Path] = typer.Argument(..., help="run directories, e.g. runs/*; a directory of runs (a "
                                          "sweep's --runs-dir) stands for all runs in it", show_default=False,
                                          autocompletion=run_dirs),
    sort: Optional[str] = typer.Option(None, "--sort", metavar="METRIC",
                                       help="order best first by final.loss, val_accuracy, best.value, "
                                       "epochs, seconds or a differing config key"),
    as_json: bool = typer.Option(False, "--json", help="print the table rows as JSON on stdout"),
    png: Optional[Path] = typer.Option(None, "--png", metavar="FILE",
                                       help="write every run's loss curve into one PNG (needs matplotlib)"),
) -> None:
    """One table of many runs: the config keys that differ, status, final and best metrics, time."""
    with handle_errors():
        if png is not None:
            plots_module()
            if png.suffix.lower() != ".png":
                raise ConfigError(f"must name a .png file, got {str(png)!r}", where=argument("png"))
        runs = comparison.read_runs(run_dirs)
        result = comparison.compare_rows(runs)
        rows = comparison.sort_rows(result, sort) if sort else result["rows"]
        if as_json:
            typer.echo(jsonable.dumps(rows))
        else:
            console = Console(highlight=False)
            if not console.is_terminal:
                console = Console(width=100, highlight=False)
            main, below = table(result, rows, console.width)
            console.print(main)
            if below is not None:
                console.print(below)
            if result["keys"]:
                console.print(Text("differing config keys: " + ", ".join(result["keys"]), style="dim"))
            elif len(runs) > 1:
                console.print(Text("the runs' configs are identical", style="dim"))
        if png is not None:
            by_run = {r["run"]: r for r in runs}
            series = {}
            for r in rows:
                run = by_run[r["run"]]
                curve = analysis.curves(run["columns"], run["rows"]).get("loss")
                if curve:
                    name = label(run, result["keys"])
                    series[name if name not in series else f"{name} ({Path(r['run']).name})"] = (
                        curve["epoch"], curve["value"])
            path = plots_module().loss_curves(png, series, f"loss of {len(series)} runs")
            err_console.print(f"wrote {path}", highlight=False)
