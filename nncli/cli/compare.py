"""`nncli compare RUN_DIR ...`: one table of many runs, with the config keys that differ between them;
`--group-by KEYS` (the default for a sweep directory: its swept keys) aggregates the runs of each group.

The differing keys are found from the runs' resolved config.yaml (nncli.comparison.differing_keys), never
chosen by hand; `--sort METRIC` orders the rows best first, `--json` prints the rows, `--png FILE` plots
every run's loss curve together.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import aggregate, analysis, comparison, jsonable, sweeps
from ..comparison import short_keys
from ..errors import ConfigError, argument
from .completion import run_dirs
from .errors import err_console, handle_errors
from .groups import group_table, value_text
from .render import plots_module
from .style import STATUS_STYLE, fmt


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


def grouping(paths: list[Path], group_by: str | None, per_run: bool) -> list[str] | None:
    """The keys to group by: --group-by's, else a sweep directory's swept keys; None for one row per run."""
    if per_run:
        if group_by is not None:
            raise ConfigError(f"{argument('per_run')} and {argument('group_by')} exclude each other")
        return None
    if group_by is not None:
        keys = [k.strip() for k in group_by.split(",") if k.strip()]
        if not keys:
            raise ConfigError("give comma-separated config keys, e.g. optimizer.lr,model.init",
                              where=argument("group_by"))
        return keys
    swept = [sweeps.swept_keys(p) for p in paths]
    if swept and all(k is not None for k in swept):
        return list(dict.fromkeys(k for ks in swept for k in ks))
    return None


def show_groups(runs: list[dict[str, Any]], keys: list[str], sort: str | None, as_json: bool, as_csv: bool,
                png: Path | None, x_key: str | None, metric: str) -> None:
    """The grouped table (stdout), or its JSON or CSV; and the metric-vs-key picture."""
    groups = aggregate.group_runs(runs, keys)
    if sort:
        groups = aggregate.sort_groups(groups, sort)
    if as_json:
        typer.echo(jsonable.dumps(groups))
    elif as_csv:
        columns, rows = aggregate.csv_rows(groups, keys)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
                         for r in rows)
        typer.echo(buf.getvalue(), nl=False)
    else:
        console = Console(highlight=False)
        if not console.is_terminal:
            console = Console(width=120, highlight=False)
        console.print(group_table(groups, keys))
        console.print(Text(f"{len(runs)} runs in {len(groups)} groups by {', '.join(keys)}; ± is the standard "
                           f"deviation over the runs of a group", style="dim"))
    if png is not None:
        path = plots_module().metric_vs_key(png, *metric_series(groups, keys, x_key, metric))
        err_console.print(f"wrote {path}", highlight=False)


def metric_series(groups: list[dict[str, Any]], keys: list[str], x_key: str | None, metric: str):
    """(series, xlabel, ylabel, title) for plots.metric_vs_key: `metric` against `x_key` (default: the
    first key with numeric values), one line per combination of the other keys' values."""
    if x_key is None:
        numeric = [k for k in keys if all(isinstance(g["values"][k], (int, float)) and
                                          not isinstance(g["values"][k], bool) for g in groups)]
        x_key = (numeric or keys)[0]
    if x_key not in keys:
        raise ConfigError(f"must be one of the grouped keys: {', '.join(keys)}", where=argument("x"))
    name = metric.removeprefix("final.")
    known = list(dict.fromkeys(m for g in groups for m in g["metrics"])) + ["best.value"]
    if name not in known:
        raise ConfigError(f"unknown metric {metric!r}; choose one of: {', '.join(known)}", where=argument("metric"))
    series: dict[str, tuple[list, list, list]] = {}
    for g in groups:
        s = g["best"] if metric == "best.value" else g["metrics"].get(name)
        if s is None:  # a group whose runs all diverged or failed has no value to draw
            continue
        others = [f"{short_keys(keys)[k]}={value_text(g['values'][k])}" for k in keys if k != x_key]
        xs, means, sds = series.setdefault(" ".join(others) or metric, ([], [], []))
        x = g["values"][x_key]
        xs.append(x if isinstance(x, (int, float)) and not isinstance(x, bool) else value_text(x))
        means.append(s.get("mean"))
        sds.append(s.get("sd"))
    return series, x_key, metric, f"{metric} (mean ± sd over runs) against {x_key}"


def label(r: dict[str, Any], keys: list[str]) -> str:
    names = short_keys(keys)
    flat = comparison.flatten(r["config"])
    parts = [f"{names[k]}={value_text(flat.get(k))}" for k in keys]
    return " ".join(parts) if parts else Path(r["run"]).name


def compare(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR", help="run directories, e.g. runs/*; a directory of runs (a "
                                          "sweep's --runs-dir) stands for all runs in it", show_default=False,
                                          autocompletion=run_dirs),
    sort: Optional[str] = typer.Option(None, "--sort", metavar="METRIC",
                                       help="order best first by final.loss, val_accuracy, best.value, "
                                       "epochs, seconds or a differing config key"),
    group_by: Optional[str] = typer.Option(
        None, "--group-by", metavar="KEYS", show_default=False,
        help="comma-separated config keys: one row per group with mean ± sd, min, max and n over its runs "
        "(default for a sweep directory: its swept keys)"),
    per_run: bool = typer.Option(False, "--per-run", help="one row per run, even for a sweep directory"),
    as_json: bool = typer.Option(False, "--json", help="print the table rows as JSON on stdout"),
    as_csv: bool = typer.Option(False, "--csv", help="print the grouped table as CSV on stdout"),
    png: Optional[Path] = typer.Option(None, "--png", metavar="FILE",
                                       help="write every run's loss curve into one PNG (grouped: a metric "
                                       "against one key, ±sd bands; needs matplotlib)"),
    x_key: Optional[str] = typer.Option(None, "--x", metavar="KEY", show_default=False,
                                        help="grouped --png: the key on the x axis [the first numeric one]"),
    metric: str = typer.Option("loss", "--metric", help="grouped --png: the final metric (or best.value) drawn"),
) -> None:
    """One table of many runs: the config keys that differ, status, final and best metrics, time; or, with
    --group-by (and for a sweep directory), aggregates over the runs of each group."""
    with handle_errors():
        if png is not None:
            plots_module()
            if png.suffix.lower() != ".png":
                raise ConfigError(f"must name a .png file, got {str(png)!r}", where=argument("png"))
        keys = grouping(run_dirs, group_by, per_run)
        runs = comparison.read_runs(run_dirs)
        if keys is not None:
            show_groups(runs, keys, sort, as_json, as_csv, png, x_key, metric)
            return
        if as_csv:
            raise ConfigError("--csv prints grouped tables: add --group-by KEYS (per run, use --json)")
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
            loss_picture(png, runs, rows, result["keys"])


def loss_picture(png: Path, runs: list[dict[str, Any]], rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Every run's loss curve in one PNG, labelled by its differing config values."""
    by_run = {r["run"]: r for r in runs}
    series = {}
    for r in rows:
        run = by_run[r["run"]]
        curve = analysis.curves(run["columns"], run["rows"]).get("loss")
        if curve:
            name = label(run, keys)
            series[name if name not in series else f"{name} ({Path(r['run']).name})"] = (curve["epoch"], curve["value"])
    path = plots_module().loss_curves(png, series, f"loss of {len(series)} runs")
    err_console.print(f"wrote {path}", highlight=False)
