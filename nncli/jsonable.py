"""JSON for numpy values: arrays and numpy scalars become lists and numbers, paths strings, and NaN or
infinity null (JSON has no NaN)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def default(o: Any) -> Any:
    """`json.dumps(..., default=default)`: numpy arrays and scalars, and paths."""
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def finite(o: Any) -> Any:
    """A copy of `o` with every NaN or infinite float replaced by None."""
    if isinstance(o, dict):
        return {k: finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [finite(v) for v in o]
    if isinstance(o, np.ndarray):
        return finite(o.tolist())
    if isinstance(o, (float, np.floating)) and not math.isfinite(o):
        return None
    return o


def dumps(o: Any) -> str:
    """Indented, strict JSON of `o`."""
    return json.dumps(finite(o), default=default, indent=2)
