"""`nncli export RUN_DIR --format onnx|tensorboard [--out PATH]`: a trained run for other tools: the network
as an ONNX model (checked with onnxruntime on request), or TensorBoard event files of its metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .. import api
from ..exporting import EXPORT_FORMATS
from ..onnx_export import DEFAULT_OPSET
from .completion import run_dirs
from .errors import err_console, handle_errors
from .style import fmt


def export_formats(incomplete: str) -> list[str]:
    return [name for name in EXPORT_FORMATS.in_order() if name.startswith(incomplete)]


def export(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="a run directory made by nncli train", show_default=False,
                                   autocompletion=run_dirs),
    format: str = typer.Option("onnx", "--format", "-f", autocompletion=export_formats, help="what to write: "
                               + ", ".join(EXPORT_FORMATS.in_order())),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="onnx: the model file [default: "
                                       "RUN_DIR/model.onnx]; tensorboard: the log directory that gets a "
                                       "directory named like the run [default: tensorboard]",
                                       show_default=False),
    opset: Optional[int] = typer.Option(None, "--opset", help=f"ONNX opset version [default: {DEFAULT_OPSET}]",
                                        show_default=False),
    check: bool = typer.Option(False, "--check", help="run the ONNX model with onnxruntime on the run's test "
                               "rows (else validation, else training rows) and report the largest difference "
                               "from nncli's outputs; exit 1 if over the tolerance"),
    as_json: bool = typer.Option(False, "--json", help="print what was written as JSON on stdout"),
) -> None:
    """Export a trained run: the network as an ONNX model, or its curves as TensorBoard events."""
    with handle_errors():
        result = api.export(run_dir, format, out, opset=opset, check=check)
        if as_json:
            typer.echo(json.dumps(result.to_dict(), indent=2))
        else:
            _describe(result)
            typer.echo(str(result.path))
        if result.check is not None and not result.check.passed:
            raise typer.Exit(1)


def _describe(result) -> None:
    """What was written, on stderr (stdout carries only the path)."""
    d = result.details
    if result.format == "onnx":
        err_console.print(f"wrote an ONNX model (opset {d['opset']}, {d['dtype']}, {d['bytes']:,} bytes): input "
                          f"'{d['input']}' (batch, {d['input_shape'][1]}) -> output '{d['output']}' "
                          f"(batch, {d['output_shape'][1]})", highlight=False, markup=False)
    else:
        err_console.print(f"wrote TensorBoard events of {d['epochs']} epochs"
                          f"{' and the final weights' if d['histograms'] else ''}; view them with: "
                          f"tensorboard --logdir {result.path.parent}", highlight=False, markup=False)
    c = result.check
    if c is not None:
        verdict = "ok" if c.passed else "FAILED"
        err_console.print(f"check with {c.runtime} on {c.rows:,} {c.split} rows: max |onnx - nncli| = "
                          f"{fmt(c.max_abs, spec='.1e')}, max relative to max(1, |nncli|) = "
                          f"{fmt(c.max_error, spec='.1e')} (tolerance {fmt(c.tolerance, spec='.0e')}): {verdict}",
                          highlight=False, markup=False)
