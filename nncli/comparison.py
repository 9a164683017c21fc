"""The table of `nncli compare`: many runs read back, the config keys whose values differ between them
(from their resolved config.yaml, as the dotted paths overrides use), their status, final and best metrics
and time; sorting best first. Never prints."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .config import flatten
from .errors import ConfigError, argument
from .metrics import final_metrics, higher_is_better
from .run import load_run
from .runs import CONFIG


def expand(paths: list[Path]) -> list[Path]:
    """Run directories; a directory that is not a run itself but holds runs (a sweep's --runs-dir)
    stands for the runs inside it, in name order."""
    out = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / CONFIG).exists():
            inner = sorted(p for p in path.iterdir() if p.is_dir() and (p / CONFIG).is_file())
            if inner:
                out += inner
                continue
        out.append(path)
    return out


def read_runs(paths: list[Path]) -> list[dict[str, Any]]:
    """{"run", "config", "summary", "rows", "columns"} per run directory; RunDirError (exit 2) on the first
    missing, foreign or damaged one."""
    out = []
    for path in expand(paths):
        run = load_run(path, require_weights=False)
        out.append({"run": str(path), "config": run.config.model_dump(mode="json"), "summary": run.summary,
                    "rows": run.metrics, "columns": run.columns})
    return out


def short_keys(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix naming each key uniquely, not starting with a list index:
    optimizer.lr -> lr, model.layers.0.units -> layers.0.units."""
    parts = {k: k.split(".") for k in keys}
    out = {}
    for k, p in parts.items():
        for n in range(1, len(p) + 1):
            cand = p[-n:]
            if cand[0].isdigit() and n < len(p):
                continue
            suffix = ".".join(cand)
            if not any(o != k and (o == suffix or o.endswith("." + suffix)) for o in keys):
                out[k] = suffix
                break
        else:
            out[k] = k
    return out


MISSING = object()


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """The dotted keys whose values are not the same in all the (nested) configs, in order of first
    appearance; a key present in some configs only differs too."""
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    return [k for k in keys if len({repr(f.get(k, MISSING)) for f in flat}) > 1]


def run_time(summary: dict[str, Any], rows: list[dict[str, Any]]) -> float | None:
    """Wall time from summary.json, else the training seconds of the last metrics row (killed runs)."""
    if summary.get("wall_seconds") is not None:
        return float(summary["wall_seconds"])
    if rows and rows[-1].get("seconds") is not None:
        return float(rows[-1]["seconds"])
    return None


def status(summary: dict[str, Any]) -> str:
    """summary.json's status; `incomplete` when there is no summary.json (killed, or still running)."""
    return str(summary.get("status") or "incomplete")


def compare_rows(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The table of `nncli compare`. Each run is {"run": name, "config": nested dict, "summary": dict,
    "rows": metrics rows}. Returns {"keys": differing config keys, "metrics": metric names, "rows":
    [{"run", "config": {key: value}, "status", "epochs", "final": {...}, "best": {...}, "seconds"}]}."""
    keys = differing_keys([r["config"] for r in runs])
    table, metrics = [], []
    for r in runs:
        flat = flatten(r["config"])
        s, rows = r["summary"], r["rows"]
        final = final_metrics(s.get("final") or (rows[-1] if rows else {}))
        metrics += [k for k in final if k not in metrics]
        epochs = s.get("epochs", int(rows[-1]["epoch"]) if rows and rows[-1].get("epoch") is not None else 0)
        table.append({"run": r["run"], "config": {k: flat.get(k) for k in keys}, "status": status(s),
                      "epochs": epochs, "final": final, "best": s.get("best"), "seconds": run_time(s, rows)})
    return {"keys": keys, "metrics": metrics, "rows": table}


def sort_key_value(row: dict[str, Any], key: str) -> Any:
    """The value of `key` in a compare row: `final.loss`, `loss` or `val_accuracy` (final metrics),
    `best.value`, `best.epoch`, `epochs`, `seconds`, `status`, `run`, or a differing config key."""
    if key in ("epochs", "seconds", "status", "run"):
        return row.get(key)
    if key.startswith("final."):
        return row["final"].get(key[6:])
    if key.startswith("best."):
        return (row.get("best") or {}).get(key[5:])
    if key in row["final"]:
        return row["final"][key]
    if key in row["config"]:
        return row["config"][key]
    return MISSING


def sort_rows(table: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The rows sorted by `key`, best first: ascending for losses, times and config values, descending
    for accuracies and best.value of an accuracy; runs without the value go last. ConfigError (exit 2)
    for a key no row has, listing the valid ones."""
    rows = table["rows"]
    values = [sort_key_value(r, key) for r in rows]
    if all(v is MISSING for v in values):
        valid = (["final." + m for m in table["metrics"]] + table["metrics"] +
                 ["best.value", "best.epoch", "epochs", "seconds", "status", "run"] + table["keys"])
        raise ConfigError(f"cannot sort by {key!r}; choose one of: {', '.join(dict.fromkeys(valid))}",
                          where=argument("sort"))
    descending = higher_is_better(key) or (key == "best.value" and any(
        higher_is_better((r.get("best") or {}).get("monitor", "")) for r in rows))

    def rank(item):
        v = item[1]
        absent = v is MISSING or v is None or (isinstance(v, float) and not math.isfinite(v))
        if absent:
            return (1, 0, "")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (0, -v if descending else v, "")
        return (0, 0, str(v))

    return [r for r, _ in sorted(zip(rows, values), key=rank)]
