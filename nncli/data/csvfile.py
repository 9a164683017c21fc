"""CSV files read into arrays, with memory bounded by what they hold.

The file is read as text (a regular file of at most LIMITS["csv"] bytes, UTF-8, a byte-order mark
dropped) and parsed row by row: features go straight into one growing array of the training dtype (the
data's decoded size, no Python object per cell, and no fixed-width string array, whose width would be
that of the longest cell times every cell), the target column into an array of floats, or of labels
when it holds text. A header is detected when not given: a first row with a field that is not a number.
"""

from __future__ import annotations

import array
import csv
import os
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import DataError
from ..readers import is_number, read_text

#: chooses the target column from (column names, whether there is a header): an index, or None
TargetColumn = Callable[[list[str], bool], "int | None"]
_ARRAY_CODES = {np.dtype(np.float32): "f", np.dtype(np.float64): "d"}


@dataclass
class Table:
    """A CSV file's numbers: features X (N, d) in the asked dtype (every column but the target), the
    target column (N,) as float64, or as text labels (object array) when a cell is not a number, or None;
    the column names (from the header, else "0", "1", ...) and whether the first row was a header."""

    X: np.ndarray
    target: np.ndarray | None
    names: list[str]
    header: bool


def read_table(path: str | os.PathLike[str], header: bool | None = None, delimiter: str = ",",
               target: TargetColumn = lambda names, header: None, dtype=np.float32,
               keep_target: bool = True) -> Table:
    """The CSV file at `path` as a Table. `target(names, header)` picks the target column once the first
    row is read (None: every column is a feature); `keep_target=False` drops that column unread. DataError
    naming the file (and line and column) for unreadable, empty or ragged files and non-numeric features."""
    where = str(path)
    text = read_text(path, "csv", DataError, "a CSV file", missing="no such file; give the path of a CSV file")
    try:
        return _parse(text, where, header, delimiter, target, np.dtype(dtype), keep_target, labels=False)
    except _TextTarget:  # a target cell is not a number: read again, keeping the target as labels
        return _parse(text, where, header, delimiter, target, np.dtype(dtype), keep_target, labels=True)
    except csv.Error as e:
        raise DataError(f"cannot read the CSV file: {e}", where=where) from None


class _TextTarget(Exception):
    """The target column holds a cell that is not a number."""


def _parse(text: str, where: str, header: bool | None, delimiter: str, target: TargetColumn, dtype: np.dtype,
           keep_target: bool, labels: bool) -> Table:
    rows = _rows(text, delimiter)
    first = next(rows, None)
    if first is None:
        raise DataError("the file is empty; expected a header (optional) and one row per sample", where=where)
    line, cells = first
    if header is None:
        header = any(not is_number(cell) for cell in cells)
    width = len(cells)
    names = [c.strip() for c in cells] if header else [str(i) for i in range(width)]
    col = target(names, header)
    features = [i for i in range(width) if i != col]
    X = array.array(_ARRAY_CODES.get(dtype, "d"))
    y: array.array | list | None = None if col is None or not keep_target else ([] if labels else array.array("d"))
    interned: dict[str, str] = {}
    n = 0
    body = rows if header else _chain(first, rows)
    for line, cells in body:
        if len(cells) != width:
            raise DataError(f"line {line} has {len(cells)} fields but the {'header' if header else 'first row'} "
                            f"has {width}; every row needs the same number of fields", where=where)
        try:
            X.extend([float(cells[i]) for i in features])
        except ValueError:
            raise _not_a_number(cells, features, names, line, where) from None
        if y is not None:
            _add_target(y, cells[col].strip(), labels, interned, line, names[col], where)
        n += 1
    if n == 0:
        raise DataError("the file has a header but no data rows", where=where)
    values = np.frombuffer(X, dtype=np.float32 if X.typecode == "f" else np.float64).reshape(n, len(features))
    if values.dtype != dtype:
        values = values.astype(dtype)
    return Table(values, _target_array(y), names, header)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _rows(text: str, delimiter: str):
    """(line number, cells) of every row that is not blank. The text is handed to the csv module one line
    at a time (as a file opened with newline="" would be): io.StringIO would hold a second copy of it, at
    four bytes a character."""
    reader = csv.reader((m.group() for m in _LINE.finditer(text)), delimiter=delimiter)
    for cells in reader:
        if cells and any(cell.strip() for cell in cells):
            yield reader.line_num, cells


def _chain(first, rest):
    yield first
    yield from rest


def _add_target(y, cell: str, labels: bool, interned: dict[str, str], line: int, name: str, where: str) -> None:
    if labels:
        if not cell:
            raise DataError(f"line {line} has an empty target ({name!r})", where=where)
        y.append(interned.setdefault(cell, cell))  # one string per distinct label, not one per row
        return
    try:
        y.append(float(cell))
    except ValueError:
        raise _TextTarget() from None


def _target_array(y) -> np.ndarray | None:
    if y is None:
        return None
    if isinstance(y, array.array):
        return np.frombuffer(y, dtype=np.float64)
    out = np.empty(len(y), dtype=object)
    out[:] = y
    return out


def _not_a_number(cells: list[str], features: list[int], names: list[str], line: int, where: str) -> DataError:
    """DataError naming the line and column of the first feature cell that is not a number."""
    for i in features:
        if not is_number(cells[i]):
            cell = cells[i].strip()
            what = "is empty (a missing value)" if not cell else f"has {cell[:40]!r}"
            return DataError(f"line {line}, column {names[i]!r} {what}; features must be numbers (fill in or drop "
                             f"missing values first)", where=where)
    return DataError(f"line {line}: a feature is not a number", where=where)


def header_note(path: str, has_header: bool, names: list[str]) -> str:
    """One line saying what header detection decided for a CSV file."""
    if has_header:
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        return (f"{path}: the first row is a header (it holds text), columns {shown}; set data.header: false "
                f"if it is data")
    return (f"{path}: no header (the first row is all numbers), columns numbered 0..{len(names) - 1}; set "
            f"data.header: true if the first row is a header")
