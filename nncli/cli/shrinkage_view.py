"""The weight-decay lab's eigen-shrinkage table (numbers from nncli.shrinkage): the `nncli inspect` view of
the shrinkage section.

One row per eigen-direction q_i of H = Xc^T Xc / N: lambda_i, the components q_i^T w of the unregularised
solution w_star and of the trained weights, their measured ratio and the predicted lambda_i / (lambda_i + tau).
"""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..shrinkage import ShrinkageReport
from .style import fmt

MAX_ROWS = 24  # more directions than this: the largest and smallest MAX_ROWS // 2 eigenvalues are shown


def tau_text(report: ShrinkageReport) -> str:
    """Where tau comes from: `tau = weight_decay = 0.01`, `tau = input_noise^2 = 0.1^2 = 0.01`, or both."""
    parts, values = [], []
    if report.weight_decay:
        parts.append("weight_decay")
        values.append(f"{report.weight_decay:g}")
    if report.input_noise:
        parts.append("input_noise^2")
        values.append(f"{report.input_noise:g}^2")
    if not parts:
        return "tau = 0 (no weight decay, no input noise): the trained weights should reach w_star"
    lhs = " + ".join(parts)
    mid = " + ".join(values)
    return f"tau = {lhs} = " + (f"{mid} = " if mid != f"{report.tau:g}" else "") + f"{report.tau:g}"


def table(report: ShrinkageReport) -> Table:
    """lambda_i, w_star_i, trained w_i, measured w_i / w_star_i, predicted lambda_i / (lambda_i + tau)."""
    k = report.outputs
    t = Table(box=None, header_style="bold", pad_edge=False)
    t.add_column("i", justify="right")
    if k > 1:
        t.add_column("output", justify="right")
    for col in ("λ_i", "w*_i", "trained w_i", "measured w_i/w*_i", "predicted λ_i/(λ_i+τ)"):
        t.add_column(col, justify="right")
    d = report.n_features
    shown = list(range(d)) if d <= MAX_ROWS else list(range(MAX_ROWS // 2)) + list(range(d - MAX_ROWS // 2, d))
    for pos, i in enumerate(shown):
        if pos and i != shown[pos - 1] + 1:
            t.add_row("…", *([""] if k > 1 else []), f"({i - shown[pos - 1] - 1} more)", "", "", "", "")
        for j in range(k):
            measured = float(report.measured_ratio[i, j])
            predicted = float(report.predicted_ratio[i])
            close = not math.isnan(measured) and abs(measured - predicted) <= 0.01 * max(abs(predicted), 1e-12)
            t.add_row(str(i + 1) if j == 0 else "", *([str(j + 1)] if k > 1 else []),
                      fmt(float(report.eigenvalues[i]), spec=".4g") if j == 0 else "",
                      fmt(float(report.star_components[i, j]), spec="+.6f"),
                      fmt(float(report.trained_components[i, j]), spec="+.6f"),
                      Text(fmt(measured, spec=".6f"), style="green" if close else "yellow"),
                      fmt(predicted, spec=".6f"))
    return t


def render(report: ShrinkageReport) -> RenderableType:
    """The eigen-analysis as a header, the per-direction table and how close the weights are to the ridge
    solution."""
    head = Text()
    head.append(f"H = Xc^T Xc / N of the N = {report.n_samples} centred training inputs (the bias is not "
                f"decayed)\n{report.n_features} eigen-directions, condition number {report.condition:.4g}\n")
    head.append(tau_text(report), style="bold")
    if report.input_noise:
        head.append(f"\n(input noise of sd {report.input_noise:g} adds {report.input_noise:g}^2/2 ||W||^2 to "
                    f"the expected error)", style="dim")
    foot = Text()
    foot.append(f"trained vs ridge (tau = {report.tau:g}): ", style="bold")
    foot.append(f"rel. distance {report.distance_to_ridge:.2e}, max |diff| {report.max_abs_to_ridge:.2e}\n")
    foot.append("trained vs w_star (tau = 0): ", style="bold")
    foot.append(f"rel. distance {report.distance_to_star:.2e}\n")
    foot.append(f"gradient norm of the objective with decay tau at the trained weights: "
                f"{report.gradient_norm:.2e}", style="dim")
    return Group(head, table(report), foot)


def shrinkage_view(sec, ins, mono: bool):
    """The inspect view of the shrinkage section (see nncli.inspection)."""
    if "report" not in sec.arrays:
        return [Text(f"the training data could not be regenerated: {sec.data['error']}", style="yellow")], []
    return [render(sec.arrays["report"])], []
