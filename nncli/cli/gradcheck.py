"""`nncli gradcheck [CONFIG [KEY=VALUE ...]]`: back-propagation against central finite differences.

Without a config, the built-in suite (every registered activation x loss x depth) and its matrix; with a
config, the network it builds on a few rows of its data, one table row per parameter tensor.
Exit 0 when every checked entry is within tolerance, 1 when one is not, 2 for bad usage or config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import api
from .. import gradient_check as gc
from .. import gradient_suite as suite_mod
from ..errors import ConfigError, GradcheckFailed, argument
from ..nn.activations import ACTIVATIONS
from ..nn.losses import LOSSES
from .completion import config_argument, overrides_argument
from .errors import handle_errors
from .style import fmt

FAILURES_LISTED = 20  # failing suite networks listed under the matrix (all of them are in --json)


def _e(v: float | None) -> str:
    return fmt(v, spec=".1e")


def _verdict_style(passed: bool) -> str:
    return "[bold green]PASS[/]" if passed else "[bold red]FAIL[/]"


def render_report(console: Console, report: gc.Report, source: str) -> None:
    """The per-tensor table and the verdict line of a config's check."""
    tol = report.tolerance
    console.print(f"[bold]gradcheck {escape(source)}[/]: {escape(report.architecture)}, {report.loss}, "
                  f"weight decay {report.weight_decay:g}; {escape(report.data)}; trains in {report.dtype}, "
                  f"checked in {report.checked_dtype} (eps {tol.eps:g}, tol {tol.tol:g}, floor {tol.floor:g})",
                  highlight=False)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), collapse_padding=True)
    for name, justify in (("param", "left"), ("layer", "left"), ("shape", "right"), ("checked/size", "right"),
                          ("skipped", "right"), ("max abs", "right"), ("max rel", "right"), ("result", "left")):
        table.add_column(name, justify=justify, no_wrap=True)
    for t in report.tensors:
        if not t.passed:
            result = f"[bold red]FAIL[/] ({t.failed})"
        elif t.checked == 0:
            result = "[yellow]none checked[/]"
        else:
            result = "[green]ok[/]"
        table.add_row(t.name, f"{t.layer} {t.activation}", "x".join(map(str, t.shape)), f"{t.checked}/{t.size}",
                      str(t.skipped), _e(t.max_abs_error if t.checked else None),
                      _e(t.max_rel_error if t.checked else None), result)
    console.print(table)
    totals = report.totals()
    skipped = f", {totals['skipped']} skipped at kinks" if totals["skipped"] else ""
    if report.passed:
        console.print(f"{_verdict_style(True)}: {totals['checked']} entries of {totals['tensors']} tensors "
                      f"checked{skipped}; max rel error {_e(totals['max_rel_error'])} <= tol {tol.tol:g}",
                      highlight=False)
    else:
        console.print(f"{_verdict_style(False)}: {totals['failed']} of {totals['checked']} entries over "
                      f"tolerance in {', '.join(report.failing)}{skipped}; max rel error "
                      f"{_e(totals['max_rel_error'])} > tol {tol.tol:g}", highlight=False)


def render_suite(console: Console, suite: suite_mod.SuiteReport) -> None:
    """The matrix: rows hidden activation x depth, columns output activation / loss; a cell shows the
    largest relative error over its weight decays, or FAIL. Failing cases are listed below it."""
    tol = suite.tolerance
    console.print(f"[bold]gradcheck built-in suite[/]: {len(suite.hidden)} hidden activations x depths "
                  f"{', '.join(map(str, suite.depths))} x {len(suite.outputs)} output/loss pairs x weight decay "
                  f"{' and '.join(f'{w:g}' for w in suite.weight_decays)} = {len(suite.cases)} networks, float64 "
                  f"(eps {tol.eps:g}, tol {tol.tol:g}, floor {tol.floor:g}); cells: max rel error", highlight=False)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), collapse_padding=True)
    table.add_column("hidden", no_wrap=True)
    for out, loss in suite.outputs:
        # names split at "_" over lines (leaky_relu -> leaky / relu) so eight columns fit 80 characters
        header = "\n".join(suite_mod.short_name(ACTIVATIONS, out).split("_") + [suite_mod.short_name(LOSSES, loss)])
        table.add_column(header, justify="right")
    for hidden in suite.hidden:
        for depth in suite.depths:
            cells = []
            for out, loss in suite.outputs:
                cases = suite.cell(hidden, depth, out, loss)
                worst = max(c.max_rel_error for c in cases)
                cells.append(f"{worst:.0e}" if all(c.passed for c in cases) else f"[bold red]FAIL[/] {worst:.0e}")
            table.add_row(f"{suite_mod.short_name(ACTIVATIONS, hidden)} x{depth}", *cells)
    console.print(table)
    skipped = sum(t.skipped for c in suite.cases for t in c.tensors)
    failing = suite.failing
    for c in failing[:FAILURES_LISTED]:
        tensors = ", ".join(f"{t.name} ({t.max_rel_error:.1e})" for t in c.tensors if not t.passed)
        console.print(f"[red]FAIL[/] {_case(c)}: {tensors}", highlight=False)
    if len(failing) > FAILURES_LISTED:
        console.print(f"... and {len(failing) - FAILURES_LISTED} more failing networks (--json lists them all)")
    worst = max((c.max_rel_error for c in suite.cases), default=0.0)
    if not failing:
        console.print(f"{_verdict_style(True)}: all {len(suite.cases)} networks within tol {tol.tol:g} "
                      f"(max rel error {worst:.1e}; {skipped} entries skipped at kinks)", highlight=False)
    else:
        console.print(f"{_verdict_style(False)}: {len(failing)} of {len(suite.cases)} networks over tol "
                      f"{tol.tol:g}", highlight=False)


def _case(c: suite_mod.SuiteCase) -> str:
    return (f"hidden {c.depth} x {c.hidden}, output {c.units} {c.output}, {c.loss}, "
            f"weight decay {c.weight_decay:g}")


def _suite_failure(suite: suite_mod.SuiteReport) -> str:
    first = suite.failing[0]
    names = sorted({f"{c.hidden}/{c.output}/{c.loss}" for c in suite.failing})
    return (f"gradient check failed for {len(suite.failing)} of {len(suite.cases)} suite networks "
            f"(hidden/output/loss: {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}); first: "
            f"{_case(first)}, tensors {', '.join(first.failing)}")


def gradcheck(
    config: Optional[Path] = config_argument("YAML config to check (none: the built-in suite)"),
    overrides: Optional[list[str]] = overrides_argument("KEY=VALUE overrides, e.g. model.layers.0.units=16"),
    samples: Optional[int] = typer.Option(
        None, "--samples", help=f"rows of the training data in the batch (default {gc.DEFAULT_SAMPLES})",
        show_default=False),
    max_params: int = typer.Option(gc.DEFAULT_MAX_PARAMS, "--max-params",
                                   help="check at most N seeded random entries per tensor (0: every entry)"),
    eps: float = typer.Option(gc.DEFAULT_EPS, "--eps", help="finite-difference step"),
    tol: float = typer.Option(gc.DEFAULT_TOL, "--tol", help="largest relative error that passes"),
    floor: float = typer.Option(gc.DEFAULT_FLOOR, "--floor",
                                help="denominator floor of the relative error (tol x floor is an absolute floor)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="override the config's seed (suite: default 0)"),
    random_data: bool = typer.Option(False, "--random-data",
                                     help="if the config's data cannot be loaded, use random inputs instead"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON on stdout"),
) -> None:
    """Compare back-propagation with central finite differences (float64); exit 1 if any entry disagrees."""
    with handle_errors():
        tolerance = gc.Tolerance(eps=eps, tol=tol, floor=floor)
        tolerance.validate()
        if max_params < 0:
            raise ConfigError(f"must be 0 (every entry) or a positive number, got {max_params}",
                              where=argument("max_params"))
        console = Console(highlight=False)
        if config is not None and "=" in config.name and not config.exists():
            raise ConfigError(f"{config} looks like a KEY=VALUE override, and overrides need a config first: "
                              f"nncli gradcheck configs/xor.yaml {config}")
        if config is None:
            _suite_usage(overrides, random_data, samples)
            suite = api.gradcheck(None, eps=eps, tol=tol, floor=floor, max_params=max_params, seed=seed)
            if as_json:
                typer.echo(json.dumps(suite.to_dict(), indent=2, allow_nan=False))
            else:
                render_suite(console, suite)
            if not suite.passed:
                raise GradcheckFailed(_suite_failure(suite))
            return
        report = api.gradcheck(config, overrides or [], seed=seed, eps=eps, tol=tol, floor=floor,
                               samples=gc.DEFAULT_SAMPLES if samples is None else samples, max_params=max_params,
                               random_data=random_data)
        if as_json:
            typer.echo(json.dumps({"config": str(config), **report.to_dict()}, indent=2, allow_nan=False))
        else:
            render_report(console, report, str(config))
        if not report.passed:
            raise GradcheckFailed(_report_failure(report, config))


def _suite_usage(overrides: list[str] | None, random_data: bool, samples: int | None) -> None:
    """The options that need a config, refused for the built-in suite."""
    if overrides:
        raise ConfigError(f"overrides ({' '.join(overrides)}) need a config: "
                          f"nncli gradcheck configs/xor.yaml {' '.join(overrides)}")
    if random_data:
        raise ConfigError(f"{argument('random_data')} needs a config (the built-in suite always uses random data)")
    if samples is not None:
        raise ConfigError(f"{argument('samples')} needs a config (the built-in suite uses "
                          f"{suite_mod.SUITE_SAMPLES} random rows per network)")


def _report_failure(report: gc.Report, config: Path) -> str:
    """The failing tensors of a config's check and its worst entry, for the one-line error."""
    worst = max((t for t in report.tensors if not t.passed), key=lambda t: t.max_rel_error)
    return (f"gradient check failed for {', '.join(report.failing)} of {config} (worst: {worst.name}["
            + ", ".join(map(str, worst.worst["index"])) + f"], back-propagation {worst.worst['analytic']:.6g} "
            f"vs finite differences {worst.worst['numerical']:.6g}, rel error {worst.max_rel_error:.1e} > "
            f"tol {report.tolerance.tol:g})")
