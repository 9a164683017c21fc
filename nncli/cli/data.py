"""`nncli data list | info NAME [KEY=VALUE ...] | fetch NAME`: what datasets there are, where their files
were found, sizes and class counts; downloading the MNIST-format ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..config import parse_assignment
from ..data import catalog
from .data_fetch import fetch_command
from .completion import dataset_names
from .errors import handle_errors

data_app = typer.Typer(help="Datasets: list them, describe one, download MNIST or Fashion-MNIST.",
                       no_args_is_help=True, add_completion=False, rich_markup_mode=None)

out = Console(highlight=False, soft_wrap=True)


@data_app.command("list")
def list_datasets(as_json: bool = typer.Option(False, "--json", help="print JSON on stdout")) -> None:
    """Every dataset nncli knows, and where the files of MNIST and Fashion-MNIST were found."""
    with handle_errors():
        entries = catalog.catalog()
        if as_json:
            typer.echo(json.dumps(entries, indent=2))
            return
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("name", no_wrap=True, min_width=13)
        table.add_column("where", overflow="fold", min_width=24)
        table.add_column("description", overflow="fold")
        for e in entries:
            if e["kind"] == "files":
                status = e["found"] if e["found"] else f"missing: nncli data fetch {e['name']}"
            elif e["kind"] == "your file":
                status = "your file: data.path"
            else:
                status = "generated"
            table.add_row(e["name"], status, e["description"])
        out.print(table)


@data_app.command("info")
def info(
    name: str = typer.Argument(..., autocompletion=dataset_names, help="a dataset name (see nncli "
                               "data list)"),
    options: Optional[list[str]] = typer.Argument(None, help="dataset options as KEY=VALUE: path=my.csv "
                                                  "target=label", show_default=False),
    seed: int = typer.Option(0, "--seed", help="seed for generated datasets and subsets"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout"),
) -> None:
    """Load a dataset and describe it: where it came from, sizes, features, class counts."""
    with handle_errors():
        d = catalog.info(name, dict(parse_assignment(item, "a dataset option", "path=data.csv")
                                   for item in options or []), seed=seed)
        if as_json:
            typer.echo(json.dumps(d, indent=2))
            return
        out.print(f"[bold]{d['name']}[/]  {d['task']}, {d['features']} features, {d['train_samples']} "
                  f"training samples, {d['test_samples']} test samples")
        out.print(f"source: {d['source']}")
        if d.get("image_shape"):
            out.print(f"images: {'x'.join(map(str, d['image_shape']))} pixels, scaled to [0, 1]")
        out.print(f"memory: {d['memory_bytes'] / 2**20:.1f} MB as float32")
        for role, f in d.get("files", {}).items():
            out.print(f"  {role:<13} {f['path']} ({f['bytes']:,} bytes)")
        if d["task"] == "classification":
            table = Table(box=None, header_style="bold", pad_edge=False)
            table.add_column("class", justify="right")
            table.add_column("name")
            table.add_column("train", justify="right")
            if "test" in d["class_counts"]:
                table.add_column("test", justify="right")
            for i, cname in enumerate(d["class_names"]):
                cells = [str(i), cname, str(d["class_counts"]["train"][i])]
                if "test" in d["class_counts"]:
                    cells.append(str(d["class_counts"]["test"][i]))
                table.add_row(*cells)
            out.print(table)
        else:
            out.print(f"targets: {d['targets']} column(s) (regression)")


@data_app.command("fetch")
def fetch(
    name: str = typer.Argument(..., help="mnist or fashion-mnist"),
    dir: Optional[Path] = typer.Option(None, "--dir", help="where to put the files (default: the cache, "
                                       "$NNCLI_DATA/<name> or ~/.cache/nncli/<name>)"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="download from this mirror instead"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress, only the directory"),
) -> None:
    """Download a dataset's four IDX files, verify their checksums, and print the directory."""
    with handle_errors():
        fetch_command(name, dir, base_url, quiet)
