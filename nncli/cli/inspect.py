"""`nncli inspect RUN_DIR`: what a trained network learned, drawn in the terminal (or as PNGs, or JSON).

The numbers of each section come from nncli.inspection (the library); cli/inspect_views.py draws them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from .. import api, jsonable
from ..inspection import SECTIONS, Inspection, sections
from .completion import run_dirs
from .errors import err_console, handle_errors
from .evolution_view import evolution_view  # noqa: F401 (registers the evolution section's view)
from .inspect_views import draw
from .render import plots_module


def inspect(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="a run directory, e.g. runs/xor-20260101-120000", show_default=False,
                                   autocompletion=run_dirs),
    as_json: bool = typer.Option(False, "--json", help="print the numbers as JSON on stdout instead"),
    png: Optional[Path] = typer.Option(None, "--png", help="also write the pictures as PNG files into DIR "
                                       "(needs matplotlib: pip install -e \".[plot]\")", metavar="DIR"),
    section: Optional[list[str]] = typer.Option(None, "--section", help="show only this section (repeatable): "
                                                + ", ".join(SECTIONS.in_order())),
    width: Optional[int] = typer.Option(None, "--width", min=60, max=1000, help="drawing width in columns "
                                        "[default: the terminal's, 100 when not a terminal]"),
) -> None:
    """Show what a trained network learned: summary, loss curve, weights, truth tables, decision maps, evolution."""
    with handle_errors():
        if png is not None:
            plots_module()
        console = Console(width=width, highlight=False) if width else Console(highlight=False)
        if not console.is_terminal and not width:
            console = Console(width=100, highlight=False)
        ins = Inspection(api.load_run(run_dir), width=console.width)
        secs = sections(ins, section)
        if as_json:
            typer.echo(jsonable.dumps({s.name: s.data for s in secs}))
        mono = console.color_system is None
        for s in secs:
            if as_json and png is None:
                break
            renderables, pictures = draw(s, ins, mono)
            if not as_json:
                console.print(Rule(Text(s.title, style="bold"), align="left", style="dim"))
                for r in renderables:
                    console.print(r)
            if png is not None:
                for name, write in pictures:
                    err_console.print(f"wrote {write(png / name)}", highlight=False)
