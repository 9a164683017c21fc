"""Turn library errors into one message on stderr and the documented exit code, never a traceback."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import NncliError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@contextlib.contextmanager
def handle_errors():
    """`with handle_errors(): ...` around a command body."""
    try:
        yield
    except NncliError as e:
        fail(e.text(flags=True), e.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        raise typer.Exit(130)
    except MemoryError:
        fail("out of memory; use a smaller batch_size or network, or dtype float32", 1)
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as e:  # a bug in nncli: say so plainly, show the traceback only on request
        if os.environ.get("NNCLI_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        fail(f"internal error ({type(e).__name__}: {e}); this is a bug in nncli, please report it "
             f"(set NNCLI_DEBUG=1 to see the traceback)", 1)
