"""`nncli train CONFIG [KEY=VALUE ...]`: train a network and write a run directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from .. import config as config_mod
from .. import pipeline, runs
from ..errors import ConfigError
from . import app
from .errors import err_console, handle_errors
from .render import TrainProgress, print_summary

EXIT_BY_STATUS = {"completed": 0, "early_stopped": 0, "diverged": 1, "interrupted": 130}


@app.command(context_settings={"allow_extra_args": False})
def train(
    config: Optional[Path] = typer.Argument(None, help="YAML config, e.g. configs/xor.yaml", show_default=False),
    overrides: Optional[list[str]] = typer.Argument(
        None, help="KEY=VALUE overrides with dotted paths and YAML values: optimizer.lr=0.5 "
        "model.layers.0.units=4", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", help="the run directory itself (must not exist)"),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="parent of automatically named run dirs"),
    seed: Optional[int] = typer.Option(None, "--seed", help="override the config's seed"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress, only the result"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON on stdout"),
    log_every: Optional[int] = typer.Option(None, "--log-every", min=1,
                                            help="in logs (stderr not a terminal): a line every K epochs"),
) -> None:
    """Train the network a config describes; print the run directory (stdout) and a summary (stderr)."""
    with handle_errors():
        if config is None:
            raise ConfigError("give a config file: nncli train configs/xor.yaml [KEY=VALUE ...]")
        cfg = config_mod.load(config, overrides or [], seed=seed)
        prepared = pipeline.prepare(cfg)
        run = runs.create(config.stem, runs_dir=runs_dir, out=out)
        progress = TrainProgress(err_console, cfg.train.epochs, config.stem, live=err_console.is_terminal,
                                 every=log_every, quiet=quiet)
        with progress:
            summary = pipeline.execute(prepared, run, progress, command=["nncli", *sys.argv[1:]])
        if as_json:
            typer.echo(json.dumps({"run_dir": str(run.path), **summary}, indent=2))
        else:
            if not quiet:
                print_summary(err_console, summary, str(run.path))
            typer.echo(str(run.path))
        code = EXIT_BY_STATUS.get(summary["status"], 1)
        if code == 1 and summary.get("message"):
            err_console.print(f"[bold red]error:[/] {summary['message']}", highlight=False)
        raise typer.Exit(code)
