"""`nncli evaluate RUN_DIR [--data KEY=VALUE | --data FILE] [--split S] [--json]`: loss, accuracy and the
confusion matrix of a trained run on its test set (or validation split, or other data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .. import api, evaluation
from .completion import run_dirs
from .errors import handle_errors
from .style import fmt

out = Console(highlight=False, soft_wrap=True)


def evaluate(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", autocompletion=run_dirs, help="a run directory made by nncli train"),
    data: Optional[list[str]] = typer.Option(
        None, "--data", help="other data: KEY=VALUE overrides of the run's data section (repeatable, e.g. "
        "--data path=/data/fashion-mnist), or a .csv/.npz file or dataset directory"),
    split: str = typer.Option("auto", "--split", help="auto, test, val, train or all"),
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON on stdout"),
) -> None:
    """Evaluate a trained run: loss, accuracy and confusion matrix (classification)."""
    with handle_errors():
        result = api.load_run(run_dir).evaluate(split, data or [])
        if as_json:
            typer.echo(json.dumps({"run_dir": str(run_dir), **result.as_dict()}, indent=2))
            return
        line = f"{result.dataset} {result.split} set, {result.samples} samples: loss {fmt(result.loss)}"
        if result.accuracy is not None:
            line += f"  accuracy {fmt(result.accuracy)}"
        out.print(line)
        if result.confusion is not None:
            out.print(confusion_table(result))


def confusion_table(result: evaluation.Evaluation) -> Table:
    """Rows: true class; columns: predicted class (by number); then recall (per-class accuracy)."""
    cm = result.confusion
    table = Table(title="confusion matrix (rows: true class, columns: predicted)", title_justify="left",
                  box=None, header_style="bold", pad_edge=False)
    table.add_column("true", overflow="ellipsis", max_width=14)
    for j in range(len(cm)):
        table.add_column(str(j), justify="right")
    table.add_column("recall", justify="right")
    for i, name in enumerate(result.class_names):
        cells = [f"[bold]{v}[/]" if i == j else str(v) for j, v in enumerate(cm[i])]
        recall = result.per_class[i]["recall"]
        table.add_row(f"{i} {name}" if name != str(i) else name, *cells, fmt(recall, 3))
    return table
