"""The Typer app. Commands only parse arguments, call the library and render; errors from the library
(NncliError) are printed as one message without a traceback and mapped to the documented exit codes."""

from __future__ import annotations

import typer

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
        from .. import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


# command modules register themselves on import (one line per module):
from . import train as _train  # noqa: E402,F401
from . import gradcheck as _gradcheck  # noqa: E402,F401
from . import inspect as _inspect  # noqa: E402,F401
from . import compare as _compare  # noqa: E402,F401
from . import data as _data  # noqa: E402,F401
from . import evaluate as _evaluate  # noqa: E402,F401
from . import predict as _predict  # noqa: E402,F401


def main() -> None:
    app()
