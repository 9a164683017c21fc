"""Aggregates over seeds: runs grouped by the values of some config keys, and per group the mean,
standard deviation (n - 1 in the denominator), min, max and count of every final metric and of the best
value, how many runs diverged or failed, and for classification how many solved the task (final training
accuracy 1.0) and how many epochs they took to first reach it. Never prints."""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

import numpy as np

from .comparison import MISSING, flatten
from .errors import ConfigError, argument
from .history import Columns
from .metrics import final_metrics, higher_is_better

SOLVED = 1.0  # the training accuracy that counts as solved
FINISHED = ("completed", "early_stopped", "diverged")  # runs whose final metrics are results


def first_solved_epoch(rows: list[dict[str, Any]]) -> int | None:
    """The first epoch whose training accuracy is 1.0 (None when none is, or without accuracy)."""
    if isinstance(rows, Columns):  # a stack member's rows: the column whole
        accuracy = rows.column("accuracy")
        hits = np.flatnonzero(accuracy[0] >= SOLVED) if accuracy is not None else []
        return int(rows.values["epoch"][hits[0]]) if len(hits) else None
    for row in rows:
        if row.get("accuracy") is not None and row["accuracy"] >= SOLVED:
            return int(row["epoch"])
    return None


def record(summary: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What aggregation needs of one run, from its summary.json and metrics.csv rows (or in-memory ones):
    status, final metrics, best value, epochs, and for classification `solved` and `solved_at`."""
    final = final_metrics(summary.get("final") or (rows[-1] if rows else {}))
    status = str(summary.get("status") or "incomplete")
    out = {"status": status, "final": final, "best": summary.get("best"), "epochs": summary.get("epochs"),
           "solved": None, "solved_at": None}
    if "accuracy" in final:
        out["solved"] = final["accuracy"] is not None and final["accuracy"] >= SOLVED
        out["solved_at"] = first_solved_epoch(rows) if out["solved"] else None
    return out


def stats(values: list[float]) -> dict[str, Any]:
    """mean, sd (sample standard deviation, n - 1; None for fewer than 2 values), min, max and n of the
    finite values."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if not n:
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0}
    # in units of a power of two near the largest magnitude (dividing by it is exact), so that values near
    # the largest float (a diverged run's loss) overflow neither the sum nor the squares
    e = math.frexp(max(abs(x) for x in xs))[1]
    units = [math.ldexp(x, -e) for x in xs]
    mean_units = math.fsum(units) / n
    sd = math.ldexp(math.sqrt(math.fsum((u - mean_units) ** 2 for u in units) / (n - 1)), e) if n > 1 else None
    return {"mean": math.ldexp(mean_units, e), "sd": sd, "min": min(xs), "max": max(xs), "n": n}


def value_key(v: Any) -> str:
    """A hashable, order-independent text for a config value (lists and mappings included)."""
    return json.dumps(v, sort_keys=True, default=str)


def group(entries: list[tuple[dict[str, Any], dict[str, Any]]], keys: list[str]) -> list[dict[str, Any]]:
    """Runs (their `keys` values, their `record`) grouped by those values, in order of first appearance:
    [{"values", "n", "finished", "unfinished", "statuses", "metrics": {name: stats}, "best": {"monitor",
    **stats}, "diverged", "failed", "solved", "solved_at": stats}]. Metrics, best values and solved counts
    are those of the finished runs (completed, early stopped, diverged): an interrupted or running run
    counts as unfinished, a failed one as failed; "solved" and "solved_at" are None unless the runs
    classify."""
    groups: dict[tuple, list[tuple[dict, dict]]] = {}
    for values, rec in entries:
        groups.setdefault(tuple(value_key(values.get(k)) for k in keys), []).append((values, rec))
    out = []
    for members in groups.values():
        every = [rec for _, rec in members]
        recs = [rec for rec in every if rec["status"] in FINISHED]  # an interrupted run's metrics are not results
        names = list(dict.fromkeys(m for rec in recs for m in rec["final"]))
        monitors = list(dict.fromkeys(rec["best"]["monitor"] for rec in recs if rec.get("best")))
        statuses: dict[str, int] = {}
        for rec in every:
            statuses[rec["status"]] = statuses.get(rec["status"], 0) + 1
        classify = any(rec["solved"] is not None for rec in recs)
        out.append({
            "values": {k: members[0][0].get(k) for k in keys},
            "n": len(every),
            "finished": len(recs),
            "unfinished": len(every) - len(recs) - statuses.get("failed", 0),
            "statuses": statuses,
            "metrics": {m: stats([rec["final"].get(m) for rec in recs]) for m in names},
            "best": {"monitor": ", ".join(monitors) or None,
                     **stats([rec["best"]["value"] for rec in recs if rec.get("best")])},
            "diverged": statuses.get("diverged", 0),
            "failed": statuses.get("failed", 0),
            "solved": sum(bool(rec["solved"]) for rec in recs) if classify else None,
            "solved_at": stats([rec["solved_at"] for rec in recs if rec["solved"]]) if classify else None,
        })
    return out


def csv_rows(groups: list[dict[str, Any]], keys: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The groups as flat CSV columns: keys, n, <metric>_mean/_sd/_min/_max, best_value_*, solved,
    solved_at_*, diverged, failed."""
    metrics = list(dict.fromkeys(m for g in groups for m in g["metrics"]))
    columns = [*keys, "n"]
    for m in metrics + ["best_value"]:
        columns += [f"{m}_{s}" for s in ("mean", "sd", "min", "max")]
    classify = any(g["solved"] is not None for g in groups)
    if classify:
        columns += ["solved", "solved_at_mean", "solved_at_sd", "solved_at_min", "solved_at_max"]
    columns += ["diverged", "failed", "unfinished"]
    rows = []
    for g in groups:
        row: dict[str, Any] = {k: g["values"][k] for k in keys}
        row["n"] = g["n"]
        for m in metrics:
            row.update({f"{m}_{s}": (g["metrics"].get(m) or {}).get(s) for s in ("mean", "sd", "min", "max")})
        row.update({f"best_value_{s}": g["best"].get(s) for s in ("mean", "sd", "min", "max")})
        if classify:
            row["solved"] = g["solved"]
            row.update({f"solved_at_{s}": (g["solved_at"] or {}).get(s) for s in ("mean", "sd", "min", "max")})
        row["diverged"], row["failed"], row["unfinished"] = g["diverged"], g["failed"], g["unfinished"]
        rows.append(row)
    return columns, rows


# -- grouping runs read back (nncli compare --group-by) --------------------------------------------
def config_value(config: dict[str, Any], key: str) -> Any:
    """The value at a dotted key in a nested config (list items by index): `optimizer.lr`, `model.init`
    ({"name": ...}), `model.layers.0.activation`; MISSING when there is none."""
    node: Any = config
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


def group_runs(runs: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """Runs read back by nncli.comparison.read_runs, grouped by the values of `keys` in their configs.
    ConfigError (exit 2) for a key no run has, with the closest one."""
    for key in keys:
        if all(config_value(r["config"], key) is MISSING for r in runs):
            known = list(dict.fromkeys(k for r in runs for k in flatten(r["config"])))
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"no run has the config key {key!r}{hint}", where=argument("group_by"))
    entries = []
    for r in runs:
        values = {k: _plain(config_value(r["config"], k)) for k in keys}
        entries.append((values, record(r["summary"], r["rows"])))
    entries.sort(key=lambda e: [_order(e[0][k]) for k in keys])  # numbers numerically, then by text
    return group(entries, keys)


def _plain(v: Any) -> Any:
    """A config value as it was swept: `{"name": "he_normal"}` (a resolved `model.init`) is he_normal."""
    if v is MISSING:
        return None
    return v["name"] if isinstance(v, dict) and set(v) == {"name"} else v


def _order(v: Any) -> tuple:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0.0, value_key(v))


def sort_groups(groups: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Groups best first by the mean of a final metric (`loss`, `final.val_accuracy`), `best.value` or
    `solved`; groups without the value go last. ConfigError for another key."""
    name = key.removeprefix("final.")
    metrics = list(dict.fromkeys(m for g in groups for m in g["metrics"]))
    if name in metrics:
        value, descending = (lambda g: (g["metrics"].get(name) or {}).get("mean")), higher_is_better(name)
    elif key == "best.value":
        value = lambda g: g["best"].get("mean")  # noqa: E731
        descending = any(higher_is_better(g["best"].get("monitor") or "") for g in groups)
    elif key == "solved":
        value, descending = (lambda g: g["solved"]), True
    else:
        raise ConfigError(f"cannot sort groups by {key!r}; choose one of: "
                          f"{', '.join(metrics + ['best.value', 'solved'])}", where=argument("sort"))
    present = [g for g in groups if value(g) is not None]
    return sorted(present, key=value, reverse=descending) + [g for g in groups if value(g) is None]
