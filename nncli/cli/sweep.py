"""`nncli sweep CONFIG -p KEY=V1,V2 ... [--seeds N]`: one config trained over a grid of values and seeds on
local worker processes or a Dask cluster; `nncli sweep --resume SWEEP_DIR` finishes one."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import api, jsonable
from ..metrics import higher_is_better
from ..sweeps import SweepEvents
from .errors import err_console, handle_errors
from .completion import config_argument, overrides_argument
from .groups import group_table
from .style import STATUS_STYLE, fmt
from .train import StopRequest, stop_on_signals


class SweepStop(StopRequest):
    what = "no new runs; running runs finish their current batch and save a checkpoint"


class SweepProgress(SweepEvents):
    """Sweep events -> a Rich progress view (terminal: done / total, running, diverged, failed, best so
    far) or one plain line per finished run (logs)."""

    def __init__(self, console: Console, live: bool, quiet: bool):
        self.console, self.live, self.quiet = console, live and not quiet, quiet
        self.total = self.done = self.running = self.diverged = self.failed = 0
        self.best: tuple[float, str, str] | None = None  # (value, monitor, run)
        self.progress: Progress | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def on_sweep_start(self, total: int, kept: int, workers: int) -> None:
        self.total, self.done = total, kept
        if self.quiet:
            return
        kept_text = f", {kept} finished already" if kept else ""
        self.console.print(f"sweep: {total} run{'s' if total != 1 else ''}{kept_text}, {workers} at a time",
                           highlight=False)
        if self.live:
            self.progress = Progress(TextColumn("[bold]sweep"), BarColumn(bar_width=30), MofNCompleteColumn(),
                                     TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                                     console=self.console, transient=False, refresh_per_second=5)
            self.task = self.progress.add_task("sweep", total=total, completed=kept, counts="")
            self.progress.start()

    def on_stacks(self, notes: list[str]) -> None:
        if not self.quiet:
            for line in notes:
                self.console.print(f"stacks: {line}", highlight=False, markup=False)

    def on_run_start(self, point) -> None:
        self.running += 1
        self._draw()

    def on_run_end(self, point, row: dict[str, Any]) -> None:
        self.done += 1
        self.running = max(0, self.running - 1)
        self.diverged += row["status"] == "diverged"
        self.failed += row["status"] == "failed"
        value, monitor = row.get("best_value"), row.get("best_monitor")
        if value is not None and monitor:
            better = self.best is None or (value > self.best[0] if higher_is_better(monitor) else value < self.best[0])
            if better:
                self.best = (value, monitor, point.name)
        if self.progress is None and not self.quiet:
            metrics = "  ".join(f"{k} {fmt(row[k])}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                                if row.get(k) is not None)
            status = row["status"] + (f": {row['message']}" if row["status"] == "failed" else "")
            self.console.print(f"[{self.done}/{self.total}] {point.name}  {status}  {metrics}  "
                               f"{fmt(row.get('seconds'), spec='.2f')}s", highlight=False, markup=False)
        self._draw()

    def _draw(self) -> None:
        if self.progress is None:
            return
        counts = f"running {self.running}  diverged {self.diverged}  failed {self.failed}"
        if self.best is not None:
            counts += f"  best {self.best[1]} {fmt(self.best[0])} ({escape(self.best[2])})"
        self.progress.update(self.task, completed=self.done, counts=counts)


def sweep(
    config: Optional[Path] = config_argument(),
    overrides: Optional[list[str]] = overrides_argument("KEY=VALUE overrides applied to every point"),
    param: Optional[list[str]] = typer.Option(
        None, "--param", "-p", metavar="KEY=V1,V2,...", show_default=False,
        help="a swept key and its values, read as YAML (values with commas: a YAML flow list, "
        "-p 'model.layers=[[...], [...]]'); repeatable: the grid is the Cartesian product"),
    grid: Optional[Path] = typer.Option(None, "--grid", metavar="FILE", show_default=False,
                                        help="YAML mapping of keys to lists of values (and optional seeds:)"),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, show_default=False,
                                        help="run every point with seeds 0..N-1"),
    random: Optional[int] = typer.Option(None, "--random", min=1, metavar="K", show_default=False,
                                         help="draw K points of the grid instead of all of them"),
    sample_seed: int = typer.Option(0, "--sample-seed", min=0, help="seed of the --random draw"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, show_default=False,
                                          help="local worker processes [one per core]; 1: in this process"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS", show_default=False,
                                            help="run on this Dask scheduler, e.g. tcp://host:8786 (dask extra)"),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, metavar="SECONDS",
                                  help="how long to try reaching the Dask scheduler"),
    tensorboard: Optional[Path] = typer.Option(None, "--tensorboard", metavar="DIR", show_default=False,
                                               help="TensorBoard events of every run in DIR/<run name>/ "
                                               "(train.tensorboard; needs nncli[tensorboard])"),
    stack: Optional[bool] = typer.Option(None, "--stack/--no-stack", show_default=False,
                                         help="train runs that share their network's shapes together as stacks: "
                                         "--stack wherever they can, --no-stack never [default: where it pays, "
                                         "for small networks]"),
    stack_memory: Optional[float] = typer.Option(None, "--stack-memory", min=1, metavar="MB", show_default=False,
                                                 help="memory one stack may use [512]"),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="SWEEP_DIR", show_default=False,
                                          help="finish this sweep: run what is missing or unfinished"),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="parent of the sweep directory"),
    out: Optional[Path] = typer.Option(None, "--out", help="the sweep directory itself (must not exist)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress and no table, only the directory"),
    as_json: bool = typer.Option(False, "--json", help="print the aggregated table as JSON on stdout"),
) -> None:
    """Train a config over a grid of values and seeds; print the sweep directory (stdout) and the results
    aggregated over seeds (stderr)."""
    with handle_errors():
        command = ["nncli", *sys.argv[1:]]
        if tensorboard is not None:  # as `nncli train --tensorboard`: the config key, for every point
            overrides = [*(overrides or []), f"train.tensorboard={json.dumps(str(tensorboard))}"]
        started = time.perf_counter()
        progress = SweepProgress(err_console, live=err_console.is_terminal, quiet=quiet or as_json)
        with stop_on_signals(SweepStop()) as stop, progress:
            result = api.sweep(config, param or [], overrides or None, grid=grid, seeds=seeds, random=random,
                               sample_seed=sample_seed, workers=workers, scheduler=scheduler, timeout=timeout,
                               runs_dir=runs_dir, out=out, resume=resume, events=progress, should_stop=stop,
                               command=command, stack="auto" if stack is None else stack,
                               stack_memory=stack_memory)
        report(result, as_json, quiet, time.perf_counter() - started)
        raise typer.Exit(1 if result.failed else 0)


def report(result, as_json: bool, quiet: bool, seconds: float) -> None:
    """What a finished (or interrupted) sweep prints: the aggregated table (stderr) or the JSON groups
    (stdout), the sweep directory (stdout), the failed runs and how to continue an interrupted sweep."""
    groups = result.groups()
    if as_json:
        typer.echo(json.dumps({"sweep_dir": str(result.path), "runs": result.total, "finished": len(result.rows),
                               "keys": result.keys, "groups": groups,
                               "failed": [{"run": r["run"], "message": r["message"]} for r in result.failed]},
                              indent=2, default=jsonable.default))
    elif not quiet and groups:
        wide = err_console if err_console.is_terminal else Console(stderr=True, width=120, highlight=False)
        wide.print(group_table(groups, result.keys))
        err_console.print(f"{len(result.rows)} of {result.total} runs in {seconds:.1f}s; "
                          f"results.csv and one run directory per run in {result.path}", highlight=False)
    if not as_json:
        typer.echo(str(result.path))
    for r in result.failed:
        err_console.print(f"[{STATUS_STYLE['failed']}]failed:[/] {escape(r['run'])}: {escape(r['message'])}",
                          highlight=False)
    if result.interrupted:
        err_console.print(f"interrupted: continue with: nncli sweep --resume {result.path}", highlight=False)
        raise typer.Exit(130)
