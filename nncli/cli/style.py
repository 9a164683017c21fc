"""The one number formatter and the one status style of the command line."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

#: the colour of each run status, wherever a status is shown
STATUS_STYLE = {"completed": "green", "early_stopped": "green", "diverged": "red", "interrupted": "yellow",
                "incomplete": "yellow", "running": "yellow", "failed": "red"}


def fmt(v: Any, digits: int = 4, spec: str | None = None) -> str:
    """A value for people to read. Numbers: `digits` decimals (0.1234), or scientific notation when tiny or
    huge (1.235e-05); `spec="short"` gives `digits` significant digits instead (axes, ranges: 1234, 0.5);
    any other `spec` is a format spec (".1e" for errors, "g" for config values). None is "-", NaN "nan",
    lists and mappings JSON, everything else str()."""
    if v is None:
        return "-"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    if isinstance(v, (float, np.floating)) and math.isnan(v):
        return "nan"
    tiny_or_huge = v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5)
    if spec == "short":
        return f"{float(v):.{digits - 2}e}" if tiny_or_huge else f"{float(v):.{digits}g}"
    if isinstance(v, (int, np.integer)):
        return str(v)
    if spec:
        return format(v, spec)
    return f"{v:.{digits - 1}e}" if tiny_or_huge else f"{v:.{digits}f}"
