"""The Typer app. Commands only parse arguments, call the library and render; errors from the library
(NncliError) are printed as one message without a traceback and mapped to the documented exit codes.

Each command is a function in its own module; this module imports them and registers each with one line
(the command modules never import this one)."""

from __future__ import annotations

import platform
from importlib.metadata import version as installed_version
from typing import Optional

import typer

from .. import __version__
from . import compare, completion, config, data, evaluate, export, gradcheck, inspect, predict, train

completion.setup()
app = typer.Typer(
    name="nncli",
    help="Train dense neural networks written from scratch in numpy, from a YAML config.",
    no_args_is_help=True,
    add_completion=False,  # completion.py adds the options, taking the shell by name
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are printed as written: no Rich markup, no Markdown
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:  # numpy's version from its installed metadata: no need to import it
        typer.echo(f"nncli {__version__} (numpy {installed_version('numpy')}, Python {platform.python_version()})")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, expose_value=False, callback=_version,
                                 help="print the versions of nncli, numpy and Python, and exit"),
    show: Optional[completion.Shell] = typer.Option(
        None, "--show-completion", metavar="SHELL", is_eager=True, expose_value=False,
        callback=completion.show_completion, help="print the completion script for SHELL (bash, zsh, fish), to "
        "source it or install it yourself: eval \"$(nncli --show-completion bash)\""),
    install: Optional[completion.Shell] = typer.Option(
        None, "--install-completion", metavar="SHELL", is_eager=True, expose_value=False,
        callback=completion.install_completion, help="install completion for SHELL (bash, zsh, fish) in your "
        "shell's start-up files"),
) -> None:
    """Train dense neural networks written from scratch in numpy, from a YAML config."""


app.command(context_settings={"allow_extra_args": False})(train.train)
app.command(context_settings={"allow_extra_args": False})(gradcheck.gradcheck)
app.command()(inspect.inspect)
app.command()(compare.compare)
app.add_typer(data.data_app, name="data")
app.command()(evaluate.evaluate)
app.command()(predict.predict)
app.command()(export.export)
app.command()(config.config)


def main() -> None:
    app()
