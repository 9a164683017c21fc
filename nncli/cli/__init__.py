"""The Typer app. Commands only parse arguments, call the library and render; errors from the library
(NncliError) are printed as one message without a traceback and mapped to the documented exit codes.

Each command is a function in its own module; this module imports them and registers each with one line
(the command modules never import this one)."""

from __future__ import annotations

import typer

from .. import __version__
from . import compare, data, evaluate, gradcheck, inspect, predict, trace, train

app = typer.Typer(
    name="nncli",
    help="Train dense neural networks written from scratch in numpy, from a YAML config.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", help="print the version and exit")) -> None:
    """Train dense neural networks written from scratch in numpy, from a YAML config."""
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)


app.command(context_settings={"allow_extra_args": False})(train.train)
app.command(context_settings={"allow_extra_args": False})(gradcheck.gradcheck)
app.command()(inspect.inspect)
app.command()(compare.compare)
app.add_typer(data.data_app, name="data")
app.command()(evaluate.evaluate)
app.command()(predict.predict)
app.command()(trace.trace)


def main() -> None:
    app()
