"""Users' own data as `csv` or `npz` files: features and one target.

The task is classification when the target is integer-valued with at most MAX_AUTO_CLASSES distinct values
(or, in a CSV, text labels), regression otherwise; `task: classification | regression` forces it. Class
labels other than 0..K-1 are mapped to 0..K-1 in sorted order and their original values kept as class names.
"""

from __future__ import annotations

import difflib
import os
from typing import Literal, Union

import numpy as np
from pydantic import Field, StrictInt

from ..errors import DataError
from ..options import Options
from ..npyfiles import read_npz
from .csvfile import header_note, read_table
from .datasets import DATASETS, Dataset, DatasetSource

MAX_AUTO_CLASSES = 50  # an integer-valued target with at most this many distinct values is classification


Task = Literal["auto", "classification", "regression"]


def _labels(values: np.ndarray, task: str, where: str, names: list[str] | None = None):
    """(task, y, n_classes, class_names) for a 1-D target; y: int labels 0..K-1 or float (N, 1)."""
    if values.dtype.kind in "USO":  # text labels (CSV): classification by name
        if task == "regression":
            raise DataError("task is regression but the target column holds text labels; use a numeric "
                            "target or task: classification", where=where)
        classes, y = np.unique(values, return_inverse=True)
        if len(classes) < 2:
            raise DataError(_one_class(repr(str(classes[0])), len(values)), where=where)
        return "classification", y.astype(np.int64), len(classes), [str(c) for c in classes]
    values = values.astype(np.float64, copy=False)
    integral = bool(np.all(np.isfinite(values))) and bool(np.all(values == np.round(values)))
    classes = np.unique(values) if integral else None
    if task == "auto":
        if integral and len(classes) == 1:  # one class, or a constant: neither is worth training on
            raise DataError(_one_class(f"{classes[0]:g}", len(values)) + "; to fit a constant anyway, set "
                            "task: regression", where=where)
        task = "classification" if integral and 2 <= len(classes) <= MAX_AUTO_CLASSES else "regression"
    if task == "regression":
        return "regression", values[:, None], None, None
    if not integral:
        bad = int(np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))[0])
        raise DataError(f"task is classification but the target of sample {bad} is {values[bad]:g}, not an "
                        f"integer class label; use integer labels or task: regression", where=where)
    if len(classes) < 2:
        raise DataError(_one_class(f"{classes[0]:g}", len(values)), where=where)
    y = np.searchsorted(classes, values).astype(np.int64)
    return "classification", y, len(classes), [f"{c:g}" for c in classes]


def _one_class(label: str, n: int) -> str:
    return f"classification needs at least 2 classes, but every target is {label} ({n} samples)"


def _map_test_labels(values: np.ndarray, class_names: list[str], where: str) -> np.ndarray:
    """Test targets -> the training set's class numbers; DataError for a class the training set lacks."""
    keys = [str(v) for v in values] if values.dtype.kind in "USO" else [f"{float(v):g}" for v in values]
    lookup = {name: i for i, name in enumerate(class_names)}
    y = np.empty(len(keys), dtype=np.int64)
    for i, k in enumerate(keys):  # test files are small next to training; one dict lookup per label
        if k not in lookup:
            raise DataError(f"row {i} has class {str(k)!r}, which the training data does not have "
                            f"(classes: {', '.join(class_names)})", where=where)
        y[i] = lookup[k]
    return y


def _build(name: str, X, target, task, where, X_test=None, target_test=None, where_test=None,
           classes: list[str] | None = None) -> Dataset:
    """A Dataset of features and 1-D targets; `classes` (the class names in order) labels them by name
    instead of by the sorted labels the file holds (how a file is evaluated by a run of those classes)."""
    if classes:
        task, y, k, names = "classification", _map_test_labels(target, classes, where), len(classes), list(classes)
    else:
        task, y, k, names = _labels(target, task, where)
    y_test = None
    if target_test is not None:
        if task == "classification":
            y_test = _map_test_labels(target_test, names, where_test)
        else:
            y_test = target_test.astype(np.float64)[:, None]
    if X_test is not None and X_test.shape[1] != X.shape[1]:
        raise DataError(f"the test set has {X_test.shape[1]} features but the training set has "
                        f"{X.shape[1]}; they must match", where=where_test)
    return Dataset(name, X, y, task=task, n_classes=k, X_test=X_test, y_test=y_test,
                   class_names=names, source=where)


class CsvOptions(Options):
    path: str = Field(description="the CSV file")
    target: Union[StrictInt, str] = Field(-1, description="the target column: a name from the header, or an index")
    header: bool | None = Field(None, description="first row is a header; default: detected")
    delimiter: str = Field(",", min_length=1, max_length=1)
    test_path: str | None = Field(None, description="a CSV file of the same columns used as the test set")
    task: Task = "auto"
    classes: list[str] | None = Field(None, description="the class names in order, to label the targets by (default: "
                                      "the sorted labels the file holds)")


def read_csv(path: str | os.PathLike[str], target: int | str = -1, header: bool | None = None,
             delimiter: str = ",", dtype=np.float32) -> tuple[np.ndarray, np.ndarray, list[str], bool]:
    """Features X (N, d) in `dtype`, the target column (N,) (float64, or text labels when not numeric), the
    column names and whether the first row was a header. DataError naming the file and line for a ragged
    row, an empty file, a non-numeric feature, an empty target or an unknown target column."""
    where = str(path)

    def target_column(names: list[str], has_header: bool) -> int:
        if len(names) < 2:
            raise DataError(f"the file has {len(names)} column; expected features and a target column "
                            f"(is the delimiter {delimiter!r} right? set data.delimiter)", where=where)
        return _column_index(target, names, has_header, where)

    table = read_table(path, header, delimiter, target_column, dtype)
    return table.X, table.target, table.names, table.header


def _column_index(target: int | str, names: list[str], header: bool, where: str) -> int:
    width = len(names)
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        if not header:
            raise DataError(f"the target column is given by name ({target!r}) but the file has no header; "
                            f"give its index (0..{width - 1}, or -1 for the last)", where=where)
        if target not in names:
            close = difflib.get_close_matches(target, names, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(f"no column named {target!r}{hint} (columns: {', '.join(names)})", where=where)
        return names.index(target)
    index = int(target)
    if not -width <= index < width:
        raise DataError(f"target column {index} does not exist: the file has {width} columns "
                        f"(0..{width - 1}, or -1 for the last)", where=where)
    return index % width


@DATASETS.register("csv")
class Csv(DatasetSource):
    """Your own data as CSV: one row per sample, feature columns and one target column."""

    Options = CsvOptions
    kind = "your file"

    def input_format(self):
        return {**super().input_format(), "delimiter": self.options.delimiter, "target": self.options.target}

    def load(self, rng, dtype):
        o = self.options
        X, t, names, has_header = read_csv(o.path, o.target, o.header, o.delimiter, dtype)
        X_test = t_test = None
        if o.test_path:
            X_test, t_test, test_names, _ = read_csv(o.test_path, o.target, o.header, o.delimiter, dtype)
            if o.header is not False and test_names != names and len(test_names) == len(names):
                raise DataError(f"the test file's columns {test_names} differ from the training file's "
                                f"{names}", where=o.test_path)
        ds = _build("csv", X, t, o.task, o.path, X_test, t_test, o.test_path, o.classes)
        ds.extra["columns"] = names
        if o.header is None:
            ds.notes.append(header_note(o.path, has_header, names))
        return ds


class NpzOptions(Options):
    path: str = Field(description="the .npz file")
    x: str = Field("X", description="the name of the features array (N, d) or (N, ...)")
    y: str = Field("y", description="the name of the targets array (N,) or (N, k)")
    x_test: str = Field("X_test", description="features of the test set, used when present")
    y_test: str = Field("y_test", description="targets of the test set, used when present")
    task: Task = "auto"
    classes: list[str] | None = Field(None, description="the class names in order, to label the targets by (default: "
                                      "the sorted labels the file holds)")


def read_npz_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of an .npz dataset file (allow_pickle=False); DataError for missing or damaged files."""
    return read_npz(path, DataError, missing="no such file; give the path of an .npz file (data.path)")


def _npz_pair(arrays: dict, xkey: str, ykey: str, dtype, where: str) -> tuple[np.ndarray, np.ndarray]:
    for key, option in ((xkey, "x"), (ykey, "y")):
        if key not in arrays:
            close = difflib.get_close_matches(key, list(arrays), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}? (set data.{option})" if close else f" (set data.{option})"
            raise DataError(f"has no array {key!r}{hint}; it holds {', '.join(sorted(arrays)) or 'nothing'}",
                            where=where)
    X, y = arrays[xkey], arrays[ykey]
    if X.dtype.kind not in "biuf" or X.ndim < 2:
        raise DataError(f"array {xkey!r} must be numeric with one row per sample (N, d), got {X.dtype} of "
                        f"shape {X.shape}", where=where)
    if y.dtype.kind not in "biuf" or y.ndim not in (1, 2):
        raise DataError(f"array {ykey!r} must be numeric of shape (N,) or (N, k), got {y.dtype} of shape "
                        f"{y.shape}", where=where)
    if len(X) != len(y):
        raise DataError(f"{xkey!r} has {len(X)} rows but {ykey!r} has {len(y)}; they must match", where=where)
    if len(X) == 0:
        raise DataError(f"{xkey!r} and {ykey!r} have no samples (0 rows); an .npz dataset needs at least one "
                        f"row per array", where=where)
    X = X.reshape(len(X), -1).astype(dtype, copy=False)
    return X, y


@DATASETS.register("npz")
class Npz(DatasetSource):
    """Your own data as a numpy .npz: a features array and a targets array (and optionally a test set)."""

    Options = NpzOptions
    kind = "your file"

    def input_format(self):
        return {**super().input_format(), "npz_key": self.options.x}

    def load(self, rng, dtype):
        o = self.options
        arrays = read_npz_arrays(o.path)
        X, y = _npz_pair(arrays, o.x, o.y, dtype, o.path)
        X_test = y_test = None
        if o.x_test in arrays or o.y_test in arrays:
            X_test, y_test = _npz_pair(arrays, o.x_test, o.y_test, dtype, o.path)
        if y.ndim == 2 and y.shape[1] > 1:  # several target columns: regression
            if o.task == "classification":
                raise DataError(f"task is classification but {o.y!r} has shape {y.shape}; give class labels "
                                f"of shape (N,)", where=o.path)
            ds = Dataset("npz", X, y.astype(dtype), task="regression", X_test=X_test,
                         y_test=None if y_test is None else y_test.reshape(len(y_test), -1).astype(dtype),
                         source=o.path)
            if ds.y_test is not None and ds.y_test.shape[1] != y.shape[1]:
                raise DataError(f"{o.y_test!r} has {ds.y_test.shape[1]} columns but {o.y!r} has {y.shape[1]}",
                                where=o.path)
            return ds
        y = y.reshape(-1)
        y_test = None if y_test is None else y_test.reshape(-1)
        ds = _build("npz", X, y, o.task, o.path, X_test, y_test, o.path, o.classes)
        if ds.task == "regression":
            ds.y = ds.y.astype(dtype)
            ds.y_test = None if ds.y_test is None else ds.y_test.astype(dtype)
        return ds
