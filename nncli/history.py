"""Metrics rows kept as columns. A stack of networks (nncli/stacking.py) records each epoch's metrics for
all its members at once into arrays; `Columns` is one member's rows: a read-only sequence of row dicts
like the list a single run keeps (`State.rows`), whose columns are also there whole for whoever can use
them so (metrics.csv, the first solved epoch), without building thousands of dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .metrics import metric_columns

INTEGER_COLUMNS = ("epoch", "step")
SHARED_COLUMNS = ("epoch", "step", "lr", "seconds")  # alike for many members of a stack: rendered once
FEW_VALUES = ("accuracy", "lr")  # columns of a few distinct values (k / n, a schedule's rates)


class Columns(Sequence):
    """Rows of metrics.csv as columns: `names` in order; `values[name]` a 1-D array (n,); `present[name]`
    a boolean array, or None when every row has the column."""

    def __init__(self, names: list[str], values: dict[str, np.ndarray], present: dict[str, np.ndarray | None],
                 rendered: dict | None = None):
        self.names, self.values, self.present = names, values, present
        self.n = len(values[names[0]]) if names else 0
        self.rendered = rendered  # cells of columns met before (a stack's members share epoch, step, seconds)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        row = {}
        for name in self.names:
            mask = self.present[name]
            if mask is None or mask[i]:
                v = self.values[name][i]
                row[name] = int(v) if name in INTEGER_COLUMNS else float(v)
        return row

    def cells(self, name: str) -> list[str]:
        """A column as metrics.csv writes it: repr of each float (once per distinct value), integers as
        such, "" where a row does not have it."""
        values, present = self.values[name], self.present[name]
        if self.rendered is None or name not in SHARED_COLUMNS:
            return self._cells(name, values, present)
        key = (name, values.tobytes())
        if key not in self.rendered:
            self.rendered[key] = self._cells(name, values, present)
        return self.rendered[key]

    @staticmethod
    def _cells(name: str, values: np.ndarray, present: np.ndarray | None) -> list[str]:
        if name in INTEGER_COLUMNS:
            out = list(map(str, values.astype(np.int64).tolist()))
        elif name.endswith(FEW_VALUES):  # each distinct value written once
            distinct, index = np.unique(values, return_inverse=True)
            out = np.array(list(map(repr, distinct.tolist())), dtype=object)[index.reshape(-1)].tolist()
        else:
            out = list(map(repr, values.tolist()))
        if present is not None:
            out = [c if p else "" for c, p in zip(out, present.tolist())]
        return out

    def column(self, name: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(values, present) of a column, None when there is no such column."""
        return (self.values[name], self.present[name]) if name in self.values else None


class StackHistory:
    """The metrics rows of K members over up to `epochs` epochs (the columns of metrics.csv for their
    data), one array (K, epochs) per column; test columns have a presence mask (the test set is evaluated
    at some epochs only). Members resumed from a checkpoint start with the rows it holds."""

    def __init__(self, members: int, epochs: int, data, states):
        self.names = metric_columns(data)
        self.values = {name: np.full((members, epochs), np.nan) for name in self.names}
        self.present = {name: (np.zeros((members, epochs), bool) if name.startswith("test_") else None)
                        for name in self.names}
        self.count = np.zeros(members, np.int64)
        self.rendered: dict = {}  # metrics.csv cells the members share (see Columns.cells)
        for k, state in enumerate(states):
            for e, row in enumerate(state.rows):
                self._set(k, e, row)
            self.count[k] = len(state.rows)

    def _set(self, k: int, e: int, row: dict[str, Any]) -> None:
        for name, v in row.items():
            if name in self.values and v is not None:
                self.values[name][k, e] = v
                if self.present[name] is not None:
                    self.present[name][k, e] = True

    def record(self, epoch: int, step: int, ids: np.ndarray, row: dict[str, Any]) -> None:
        """Epoch `epoch`'s row of the members `ids`: row[name] an array over them, or (values, present)
        for a column only some of them have."""
        e = epoch - 1
        if len(ids) == len(self.count):  # every member: a slice, not a gather
            ids = slice(None)
        self.values["epoch"][ids, e] = epoch
        self.values["step"][ids, e] = step
        for name, v in row.items():
            mask = None
            if isinstance(v, tuple):
                v, mask = v
            self.values[name][ids, e] = v
            if self.present[name] is not None:
                self.present[name][ids, e] = True if mask is None else mask
        self.count[ids] = epoch

    def rows(self, k: int) -> Columns:
        """Member k's rows so far."""
        n = int(self.count[k])
        return Columns(self.names, {name: self.values[name][k, :n].copy() for name in self.names},
                       {name: None if m is None else m[k, :n].copy() for name, m in self.present.items()},
                       self.rendered)
