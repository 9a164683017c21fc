"""`nncli predict RUN_DIR INPUT [--out FILE]`: a trained run's predictions for the inputs in a .npy, .npz,
.csv or IDX images file; CSV on stdout by default, or a .csv/.npy file."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .. import api
from ..atomic import write_bytes
from ..errors import ConfigError, DataError, argument
from .completion import run_dirs
from .errors import err_console, handle_errors


def predict(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", autocompletion=run_dirs, help="a run directory made by nncli train"),
    input: Path = typer.Argument(..., metavar="INPUT", help="inputs: .npy, .npz, .csv, or an IDX images file (gz or raw)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write to FILE.csv or FILE.npy (classes "
                                       "for classification, outputs otherwise) instead of stdout"),
) -> None:
    """Predict with a trained run. CSV columns: class, name, p0..pK-1 (classification) or y0..yk-1."""
    with handle_errors():
        if out is not None and out.suffix.lower() not in (".csv", ".npy"):
            raise ConfigError(f"cannot write {out.suffix or 'a file without suffix'}; name the output "
                              f"FILE.csv or FILE.npy", where=argument("out"))
        run = api.load_run(run_dir)
        X = run.read_inputs(input)
        result = run.predictions(X)
        if out is not None and out.suffix.lower() == ".npy":
            array = result.classes if result.classes is not None else result.outputs
            buf = io.BytesIO()
            np.save(buf, array, allow_pickle=False)
            _write(out, buf.getvalue())
        else:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(result.columns())
            writer.writerows(result.rows())
            if out is None:
                sys.stdout.write(text.getvalue())
                sys.stdout.flush()
                return
            _write(out, text.getvalue().encode("utf-8"))
        err_console.print(f"{len(X)} predictions written to {out}", highlight=False)


def _write(path: Path, data: bytes) -> None:
    if path.parent and not path.parent.is_dir():
        raise DataError("the directory does not exist", where=str(path.parent))
    try:
        write_bytes(path, data)
    except OSError as e:
        raise DataError(f"cannot write: {e.strerror or e}", where=str(path)) from None
