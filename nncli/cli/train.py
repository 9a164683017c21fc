"""`nncli train CONFIG [KEY=VALUE ...]`: train a network and write a run directory.
`nncli train --resume RUN_DIR [KEY=VALUE ...]`: continue an interrupted or killed run in place."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Iterator, Optional

import typer

from .. import api, jsonable
from ..errors import ConfigError, argument
from .completion import config_argument, overrides_argument, run_dirs
from .errors import err_console, handle_errors
from .render import TrainProgress, print_summary

EXIT_BY_STATUS = {"completed": 0, "early_stopped": 0, "diverged": 1, "interrupted": 130}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Signal handlers for the time of training. The first SIGINT or SIGTERM only sets a flag (training
    finishes the current batch, saves a checkpoint and exits 130); a second one raises KeyboardInterrupt
    at once (every file is written atomically, so none is left half-written)."""

    #: what the first signal does, said on stderr
    what = "finishing the current batch and saving a checkpoint"

    def __init__(self) -> None:
        self.signals = 0

    def __call__(self) -> bool:
        return self.signals > 0

    def handle(self, signum: int, frame) -> None:
        self.signals += 1
        if self.signals > 1:
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        # os.write: safe inside a signal handler, whatever the console was doing
        os.write(2, f"\n{name}: {self.what} (press Ctrl-C again to quit at once)\n".encode())


@contextlib.contextmanager
def stop_on_signals(request: StopRequest | None = None) -> Iterator[StopRequest]:
    """Install `request` (a new StopRequest) for SIGINT and SIGTERM; restore the previous handlers afterwards."""
    request = request or StopRequest()
    previous = {s: signal.signal(s, request.handle) for s in STOP_SIGNALS}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def train(
    config: Optional[Path] = config_argument(),
    overrides: Optional[list[str]] = overrides_argument(),
    out: Optional[Path] = typer.Option(None, "--out", help="the run directory itself (must not exist)"),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="parent of automatically named run dirs"),
    seed: Optional[int] = typer.Option(None, "--seed", help="override the config's seed"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress, only the result"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON on stdout"),
    log_every: Optional[int] = typer.Option(None, "--log-every", min=1,
                                            help="in logs (stderr not a terminal): a line every K epochs"),
    tensorboard: Optional[Path] = typer.Option(None, "--tensorboard", metavar="DIR", show_default=False, help="also "
                                               "write TensorBoard events into DIR/<run name>/ (train.tensorboard)"),
    resume: Optional[Path] = typer.Option(
        None, "--resume", help="continue this run directory from its checkpoint (no CONFIG; KEY=VALUE "
        "overrides such as train.epochs=50 may follow)", show_default=False, autocompletion=run_dirs),
) -> None:
    """Train the network a config describes; print the run directory (stdout) and a summary (stderr)."""
    with handle_errors():
        command = ["nncli", *sys.argv[1:]]
        if tensorboard is not None:  # as an override; a JSON string is a YAML string, whatever the path holds
            overrides = [*(overrides or []), f"train.tensorboard={json.dumps(str(tensorboard))}"]
        if resume is not None:
            if out is not None or seed is not None:
                raise ConfigError(f"{argument('resume')} continues RUN_DIR in place with its own seed; "
                                  f"{argument('out')} and {argument('seed')} cannot be used with it")
            # with --resume there is no CONFIG: every positional argument is a KEY=VALUE override
            args = ([str(config)] if config is not None else []) + list(overrides or [])
            name = resume.name
        elif config is None:
            raise ConfigError(f"give a config file: nncli train configs/xor.yaml [KEY=VALUE ...] (or "
                              f"{argument('resume')} RUN_DIR)")
        else:
            cfg = api.load_config(config, overrides or [], seed=seed)
            name = config.stem
        progress = TrainProgress(err_console, name, live=err_console.is_terminal, every=log_every, quiet=quiet)
        with stop_on_signals() as stop, progress:
            if resume is not None:
                run = api.resume(resume, args, events=progress, should_stop=stop, command=command)
            else:
                run = api.train(cfg, runs_dir=runs_dir, out=out, name=name, events=progress, should_stop=stop,
                                command=command)
        raise typer.Exit(_report(run, as_json, quiet))


def _report(run, as_json: bool, quiet: bool) -> int:
    """Print the run's result (stdout: the run directory or JSON; stderr: the summary) and return the
    exit code its status means."""
    if not run.trained:  # the answer itself ("already completed"), so said even with --quiet
        for note in run.notes:
            err_console.print(note, highlight=False, markup=False)
    summary = run.summary
    if as_json:
        typer.echo(jsonable.dumps({"run_dir": str(run.path), **summary}))
    else:
        if not quiet and run.trained:
            print_summary(err_console, summary, str(run.path))
        typer.echo(str(run.path))
    if not run.trained:
        return 0
    code = EXIT_BY_STATUS.get(summary["status"], 1)
    if code == 1 and summary.get("message") and (quiet or as_json):  # else print_summary said it
        err_console.print(f"[bold red]error:[/] {summary['message']}", highlight=False)
    if code == 130:
        err_console.print(f"interrupted: checkpoint saved; continue with: nncli train --resume {run.path}",
                          highlight=False)
    return code
