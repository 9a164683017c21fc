"""The Typer app. Commands only parse arguments, call the library and render; errors from the library
(NncliError) are printed as one message without a traceback and mapped to the documented exit codes.

Each command is a function in its own module, registered here with one line: `command(NAME, "module:function")`.
The module is imported only when its command runs (or when --help lists the commands), so `nncli train`
does not pay for importing every other command and what it needs (start-up time, see README
"Benchmarks"); the command modules never import this one.
"""

from __future__ import annotations

import importlib
import os
import sys
import platform
from typing import Any, Optional

import typer
import typer.main
from typer.core import TyperGroup

from .. import __version__
from . import completion

COMMANDS: dict[str, tuple[str, dict[str, Any]]] = {}  # name -> ("module:attribute", command settings)


def command(name: str, target: str, **settings: Any) -> None:
    """Register command `name` as `target` ("module:function" or "module:typer_app" in nncli.cli)."""
    COMMANDS[name] = (target, settings)


class LazyGroup(TyperGroup):
    """A command group whose commands are built from their modules on first use."""

    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, name: str):
        if name not in COMMANDS:
            return None
        target, settings = COMMANDS[name]
        module, attribute = target.split(":")
        # lazy on purpose: a command's module (and numpy, pydantic, Rich...) is imported only when it runs
        obj = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
        if isinstance(obj, typer.Typer):
            group = typer.main.get_group(obj)
            group.name = name
            return group
        # as the root app: plain-text help; add_completion=True would re-register Typer's completion classes
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(name=name, **settings)(obj)
        return typer.main.get_command(single)


completion.setup()
app = typer.Typer(
    name="nncli",
    cls=LazyGroup,
    help="Train dense neural networks written from scratch in numpy, from a YAML config.",
    no_args_is_help=True,
    add_completion=False,  # completion.py adds the options, taking the shell by name
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are printed as written: no Rich markup, no Markdown
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:  # numpy's version from its installed metadata: no need to import it
        from importlib.metadata import version as installed_version  # lazy on purpose: 40 ms of start-up

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


command("train", "train:train", context_settings={"allow_extra_args": False})
command("sweep", "sweep:sweep", context_settings={"allow_extra_args": False})
command("gradcheck", "gradcheck:gradcheck", context_settings={"allow_extra_args": False})
command("inspect", "inspect:inspect")
command("compare", "compare:compare")
command("data", "data:data_app")
command("evaluate", "evaluate:evaluate")
command("predict", "predict:predict")
command("export", "export:export")
command("config", "config:config")
command("trace", "trace:trace")


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        # stdout went to a pipe that closed early (`nncli compare ... | head -1`): what was read is the
        # answer. Point stdout at /dev/null so that Python's exit does not fail flushing it again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
