"""The table of runs aggregated over seeds (`nncli sweep`'s result, `nncli compare --group-by`): one row
per group with mean ± sd of the final metrics and the best value, solved counts and epochs to solve."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .. import grid
from ..comparison import short_keys
from .style import fmt


def mean_sd(s: dict[str, Any] | None, digits: int = 3) -> str:
    """`0.0123 ± 0.004`, `0.0123` for one value, `-` for none (`digits` significant digits)."""
    if not s or s.get("mean") is None:
        return "-"
    text = fmt(s["mean"], digits=digits, spec="short")
    return text + (f" ± {fmt(s['sd'], digits=digits, spec='short')}" if s.get("sd") is not None else "")


def value_text(v: Any) -> str:
    """A group's config value: 0.25, he_normal ({name: he_normal} too), 8-tanh+3-softmax (a list of layers,
    as in run names)."""
    if isinstance(v, dict) and set(v) == {"name"}:
        v = v["name"]
    if isinstance(v, (list, dict)):
        return grid.value_text(v)
    return fmt(v, spec="g")


def group_table(groups: list[dict[str, Any]], keys: list[str]) -> Table:
    """Columns: the group's values, n, mean ± sd of each final metric and of best.value over the finished
    runs, solved (k of the finished) and mean epochs to solve for classification, diverged counts, and
    failed and unfinished counts when any."""
    names = short_keys(keys)
    metrics = list(dict.fromkeys(m for g in groups for m in g["metrics"]))
    monitors = list(dict.fromkeys(g["best"]["monitor"] for g in groups if g["best"].get("monitor")))
    classify = any(g["solved"] is not None for g in groups)
    failed = any(g["failed"] for g in groups)
    unfinished = any(g["unfinished"] for g in groups)
    t = Table(header_style="bold", box=None, pad_edge=False, show_edge=False, collapse_padding=True)
    for k in keys:
        t.add_column(names[k], overflow="fold")
    t.add_column("n", justify="right")
    for m in metrics:
        t.add_column(m.replace("accuracy", "acc").replace("_", " "), justify="right")
    # the best value is worth a column unless it is the final value of the same metric in every group
    show_best = any(g["best"].get("mean") is not None and mean_sd(g["best"]) != mean_sd(
        g["metrics"].get(g["best"].get("monitor") or "")) for g in groups)
    if show_best:
        t.add_column("best " + (monitors[0] if len(monitors) == 1 else "value").replace("accuracy", "acc")
                     .replace("_", " "), justify="right")
    if classify:
        t.add_column("solved", justify="right")
        t.add_column("epochs to solve", justify="right")  # mean ± sd over the solved runs
    t.add_column("diverged", justify="right")
    if failed:
        t.add_column("failed", justify="right")
    if unfinished:
        t.add_column("unfinished", justify="right")  # interrupted or running: not in the numbers
    for g in groups:
        cells = [value_text(g["values"][k]) for k in keys] + [str(g["n"])]
        cells += [mean_sd(g["metrics"].get(m)) for m in metrics] + ([mean_sd(g["best"])] if show_best else [])
        if classify:
            cells += [f"{g['solved']}/{g['finished']}" if g["solved"] is not None else "-", mean_sd(g["solved_at"], 4)]
        cells.append(str(g["diverged"]))
        if failed:
            cells.append(str(g["failed"]))
        if unfinished:
            cells.append(str(g["unfinished"]))
        t.add_row(*cells)
    return t
