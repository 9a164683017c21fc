"""Rich views shared by commands: the training progress (a live bar on a terminal, plain lines in logs)
and the end-of-training summary."""

from __future__ import annotations

import math
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .. import plots
from ..events import Events, Start
from .style import STATUS_STYLE, fmt

REFRESH_SECONDS = 0.1  # the live view is updated at most ~10 times a second


def metrics_text(row: dict[str, Any], brief: bool = False) -> str:
    """`loss 0.1234  accuracy 0.9500 ...`; brief: only losses and accuracies (for the live bar)."""
    skip = ("epoch", "step", "seconds")
    return "  ".join(f"{k} {fmt(v)}" for k, v in row.items()
                     if k not in skip and v is not None and (not brief or k.endswith(("loss", "accuracy"))))


class MetricsProgress(Progress):
    """A progress bar with the latest epoch's metrics on a line of their own below it, so that neither is
    squeezed on an 80-column terminal."""

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            if task.fields.get("metrics"):
                yield Text("  " + task.fields["metrics"], style="dim")


class TrainProgress(Events):
    """Training events -> a Rich progress bar (terminal) or one plain line every `every` epochs (logs).
    The bar starts with the run (`on_start`, after the notes are printed) and stops on leaving the
    `with` block."""

    def __init__(self, console: Console, name: str, live: bool, every: int | None, quiet: bool):
        self.console = console
        self.name = name
        self.quiet = quiet
        self.live = live and not quiet
        self.every_option = every
        self.epochs = 0
        self.every = every or 1
        self.last_draw = 0.0
        self.started = time.perf_counter()
        self.progress: Progress | None = None

    def on_start(self, start: Start) -> None:
        self.epochs = start.epochs
        self.every = self.every_option or (1 if start.epochs <= 100 else math.ceil(start.epochs / 50))
        self.started = time.perf_counter()
        for warning in start.warnings:
            self.console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        if self.quiet:
            return
        for note in start.notes:
            self.console.print(note, highlight=False, markup=False)
        if self.live:
            self.progress = MetricsProgress(
                TextColumn("[bold]{task.description}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
                console=self.console, transient=False, refresh_per_second=10)
            self.task = self.progress.add_task(f"train {self.name}", total=start.epochs, metrics="", speed="",
                                               completed=start.first_epoch - 1)
            self.progress.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.progress:
            self.progress.stop()

    def _speed(self, epoch: int) -> str:
        elapsed = time.perf_counter() - self.started
        return f"{epoch / elapsed:.1f} epochs/s" if elapsed > 0 else ""

    def on_batch(self, epoch: int, batch: int, batches: int) -> None:
        if self.progress is None or batches == 1:
            return
        now = time.perf_counter()
        if now - self.last_draw >= REFRESH_SECONDS:
            self.last_draw = now
            self.progress.update(self.task, completed=epoch - 1 + batch / batches)

    def on_epoch(self, row: dict[str, Any]) -> None:
        epoch = row["epoch"]
        if self.quiet:
            return
        if self.progress is not None:
            now = time.perf_counter()
            if now - self.last_draw >= REFRESH_SECONDS or epoch == self.epochs:
                self.last_draw = now
                self.progress.update(self.task, completed=epoch, metrics=metrics_text(row, brief=True),
                                     speed=self._speed(epoch))
        elif epoch % self.every == 0 or epoch == self.epochs or epoch == 1:
            width = len(str(self.epochs))
            self.console.print(f"epoch {epoch:>{width}}/{self.epochs}  {metrics_text(row)}  "
                               f"{row['seconds']:.2f}s", highlight=False)


def print_summary(console: Console, s: dict[str, Any], run_dir: str) -> None:
    """The end-of-training summary on stderr."""
    status = s["status"]
    console.print(f"[bold {STATUS_STYLE.get(status, 'white')}]{status}[/] after {s['epochs']} epochs "
                  f"({s['steps']} steps) in {s['wall_seconds']:.2f}s: {s['architecture']}, "
                  f"{s['parameters']} parameters", highlight=False)
    if s.get("message"):
        console.print(s["message"], highlight=False)
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("set")
    table.add_column("loss", justify="right")
    has_acc = any("accuracy" in m for m in s["evaluation"].values())
    if has_acc:
        table.add_column("accuracy", justify="right")
    for name, m in s["evaluation"].items():
        table.add_row(name, fmt(m["loss"]), *([fmt(m.get("accuracy"))] if has_acc else []))
    console.print(table)
    if s.get("best"):
        b = s["best"]
        console.print(f"best epoch {b['epoch']} ({b['monitor']} {fmt(b['value'])})", highlight=False)
    if s.get("predictions"):
        pt = Table(title="predictions", box=None, header_style="bold", title_justify="left")
        pt.add_column("input")
        pt.add_column("target", justify="right")
        pt.add_column("output", justify="right")
        for p in s["predictions"]:
            pt.add_row(" ".join(f"{v:g}" for v in p["input"]), " ".join(f"{v:g}" for v in p["target"]),
                       " ".join(fmt(float(v)) for v in p["output"]))
        console.print(pt)
    console.print(f"run directory: {run_dir}", highlight=False)


def plots_module():
    """nncli.plots, after checking matplotlib is installed (raises the error with the install hint when it is not)."""
    plots.pyplot()  # fail early, with the install hint, when matplotlib is missing
    return plots
