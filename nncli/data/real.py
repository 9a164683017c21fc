"""Datasets read from files: `mnist` and `fashion-mnist` (IDX files, see mnist.py), and users' own data as
`csv` or `npz`.

MNIST-format images become rows of n_rows * n_cols pixels scaled to [0, 1] in the training dtype
(x = pixel / 255), converted straight from the uint8 file arrays (one allocation in the training dtype);
the labels are the class numbers 0..9 (pipeline one-hots them for categorical cross-entropy); the test
set is the dataset's own t10k files.

`csv` and `npz` hold features and one target. The task is classification when the target is
integer-valued with at most MAX_AUTO_CLASSES distinct values (or, in a CSV, text labels), regression
otherwise; `task: classification | regression` forces it. Class labels other than 0..K-1 are mapped to
0..K-1 in sorted order and their original values kept as class names.
"""

from __future__ import annotations

import csv
import difflib
import os
import zipfile
from pathlib import Path
from typing import Literal, Union

import numpy as np
from pydantic import Field

from ..errors import DataError
from ..options import Options
from . import mnist
from .datasets import DATASETS, Dataset, DatasetSource

MAX_AUTO_CLASSES = 50  # an integer-valued target with at most this many distinct values is classification

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot"]
MNIST_CLASSES = [str(d) for d in range(10)]
CLASS_NAMES = {"mnist": MNIST_CLASSES, "fashion-mnist": FASHION_MNIST_CLASSES}


def scale_images(images: np.ndarray, dtype) -> np.ndarray:
    """uint8 images (N, ...) -> (N, prod(...)) in `dtype`, x = pixel / 255, in one allocation."""
    dtype = np.dtype(dtype)
    flat = images.reshape(len(images), -1)
    return np.divide(flat, dtype.type(255), dtype=dtype)


# -- MNIST and Fashion-MNIST --------------------------------------------------------------------
class MnistOptions(Options):
    path: str | None = Field(None, description="directory holding the four IDX files")
    limit: int | None = Field(None, ge=1, description="use a seeded random subset of this many training images")


class MnistFormat(DatasetSource):
    """Base of the MNIST-format datasets: 28x28 grey images, 10 classes, 60,000 training and 10,000 test."""

    Options = MnistOptions

    def load(self, rng, dtype):
        arrays = mnist.load_arrays(self.name, self.options.path)
        images, labels = arrays["train_images"], arrays["train_labels"]
        limit = self.options.limit
        if limit is not None and limit < len(images):
            keep = np.sort(rng.choice(len(images), size=limit, replace=False))
            images, labels = images[keep], labels[keep]
        return Dataset(
            self.name,
            scale_images(images, dtype),
            labels.astype(np.int64),
            n_classes=mnist.NUM_CLASSES,
            X_test=scale_images(arrays["test_images"], dtype),
            y_test=arrays["test_labels"].astype(np.int64),
            class_names=list(CLASS_NAMES[self.name]),
            source=str(arrays["dir"]),
            extra={"image_shape": list(images.shape[1:])},
        )


@DATASETS.register("mnist")
class Mnist(MnistFormat):
    """MNIST handwritten digits (LeCun et al.): `nncli data fetch mnist` downloads it."""

    name = "mnist"


@DATASETS.register("fashion-mnist")
class FashionMnist(MnistFormat):
    """Fashion-MNIST (Zalando): Debian's dataset-fashion-mnist package, or `nncli data fetch fashion-mnist`."""

    name = "fashion-mnist"


# -- users' own data -----------------------------------------------------------------------------
Task = Literal["auto", "classification", "regression"]


def _labels(values: np.ndarray, task: str, where: str, names: list[str] | None = None):
    """(task, y, n_classes, class_names) for a 1-D target; y: int labels 0..K-1 or float (N, 1)."""
    if values.dtype.kind in "US":  # text labels (CSV): classification by name
        if task == "regression":
            raise DataError("task is regression but the target column holds text labels; use a numeric "
                            "target or task: classification", where=where)
        classes, y = np.unique(values, return_inverse=True)
        return "classification", y.astype(np.int64), len(classes), [str(c) for c in classes]
    values = values.astype(np.float64, copy=False)
    integral = bool(np.all(np.isfinite(values))) and bool(np.all(values == np.round(values)))
    classes = np.unique(values) if integral else None
    if task == "auto":
        task = "classification" if integral and 2 <= len(classes) <= MAX_AUTO_CLASSES else "regression"
    if task == "regression":
        return "regression", values[:, None], None, None
    if not integral:
        bad = int(np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))[0])
        raise DataError(f"task is classification but the target of sample {bad} is {values[bad]:g}, not an "
                        f"integer class label; use integer labels or task: regression", where=where)
    if len(classes) < 2:
        raise DataError(f"classification needs at least 2 classes, but every target is {classes[0]:g}",
                        where=where)
    y = np.searchsorted(classes, values).astype(np.int64)
    return "classification", y, len(classes), [f"{c:g}" for c in classes]


def _map_test_labels(values: np.ndarray, class_names: list[str], where: str) -> np.ndarray:
    """Test targets -> the training set's class numbers; DataError for a class the training set lacks."""
    keys = values.astype(str) if values.dtype.kind in "US" else np.array([f"{float(v):g}" for v in values])
    lookup = {name: i for i, name in enumerate(class_names)}
    y = np.empty(len(keys), dtype=np.int64)
    for i, k in enumerate(keys):  # test files are small next to training; one dict lookup per label
        if k not in lookup:
            raise DataError(f"row {i} has class {str(k)!r}, which the training data does not have "
                            f"(classes: {', '.join(class_names)})", where=where)
        y[i] = lookup[k]
    return y


def _build(name: str, X, target, task, where, X_test=None, target_test=None, where_test=None) -> Dataset:
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
    target: Union[int, str] = Field(-1, description="the target column: a name from the header, or an index")
    header: bool | None = Field(None, description="first row is a header; default: detected")
    delimiter: str = Field(",", min_length=1, max_length=1)
    test_path: str | None = Field(None, description="a CSV file of the same columns used as the test set")
    task: Task = "auto"


def read_table(path: str | os.PathLike[str], header: bool | None = None,
               delimiter: str = ",") -> tuple[np.ndarray, list[str], list[int], bool]:
    """The cells of a CSV file as a string array (N, columns), the column names (from the header, else
    "0", "1", ...), each row's line number and whether the file has a header. A header is detected when header is None: a first row with
    a field that is not a number. DataError naming the file (and line) for unreadable, empty or ragged files."""
    path = Path(path)
    where = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=delimiter)
            rows, lines = [], []
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue  # blank lines
                rows.append(row)
                lines.append(reader.line_num)
    except FileNotFoundError:
        raise DataError("no such file; give the path of a CSV file", where=where) from None
    except IsADirectoryError:
        raise DataError("is a directory, not a CSV file", where=where) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not a UTF-8 text file ({e.reason} at byte {e.start}); is it really a CSV?",
                        where=where) from None
    except (OSError, csv.Error) as e:
        raise DataError(f"cannot read the CSV file: {e}", where=where) from None
    if not rows:
        raise DataError("the file is empty; expected a header (optional) and one row per sample", where=where)
    if header is None:
        header = any(not _is_number(cell) for cell in rows[0])
    names = [c.strip() for c in rows[0]] if header else [str(i) for i in range(len(rows[0]))]
    body, body_lines = (rows[1:], lines[1:]) if header else (rows, lines)
    if not body:
        raise DataError("the file has a header but no data rows", where=where)
    width = len(names)
    for row, line in zip(body, body_lines):
        if len(row) != width:
            raise DataError(f"line {line} has {len(row)} fields but the {'header' if header else 'first row'} "
                            f"has {width}; every row needs the same number of fields", where=where)
    return np.array(body, dtype=str), names, body_lines, header


def parse_numbers(cells: np.ndarray, names: list[str], lines: list[int], dtype, where: str) -> np.ndarray:
    """String cells (N, d) -> numbers in `dtype`; DataError naming the line and column of the first cell
    that is not a number."""
    try:
        return np.char.strip(cells).astype(np.float64).astype(dtype)
    except ValueError:
        for r, row in enumerate(cells):
            for c, cell in enumerate(row):
                if not _is_number(cell):
                    what = "is empty (a missing value)" if not cell.strip() else f"has {cell.strip()!r}"
                    raise DataError(f"line {lines[r]}, column {names[c]!r} {what}; features must be "
                                    f"numbers (fill in or drop missing values first)", where=where) from None
        raise


def read_csv(path: str | os.PathLike[str], target: int | str = -1, header: bool | None = None,
             delimiter: str = ",", dtype=np.float32) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features X (N, d) in `dtype`, the target column (N,) (float64, or text when not numeric) and the
    column names. DataError naming the file and line for a ragged row, an empty file, a non-numeric feature,
    or an unknown target column."""
    where = str(path)
    cells, names, lines, has_header = read_table(path, header, delimiter)
    width = len(names)
    if width < 2:
        raise DataError(f"the file has {width} column; expected features and a target column "
                        f"(is the delimiter {delimiter!r} right? set data.delimiter)", where=where)
    col = _column_index(target, names, has_header, where)
    target_cells = np.char.strip(cells[:, col])
    X = parse_numbers(np.delete(cells, col, axis=1), [n for i, n in enumerate(names) if i != col], lines,
                      dtype, where)
    try:
        y = target_cells.astype(np.float64)
    except ValueError:
        empty = np.flatnonzero(target_cells == "")
        if empty.size:
            raise DataError(f"line {lines[int(empty[0])]} has an empty target ({names[col]!r})",
                            where=where) from None
        y = target_cells  # text labels
    return X, y, names


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


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

    def load(self, rng, dtype):
        o = self.options
        X, t, names = read_csv(o.path, o.target, o.header, o.delimiter, dtype)
        X_test = t_test = None
        if o.test_path:
            X_test, t_test, test_names = read_csv(o.test_path, o.target, o.header, o.delimiter, dtype)
            if o.header is not False and test_names != names and len(test_names) == len(names):
                raise DataError(f"the test file's columns {test_names} differ from the training file's "
                                f"{names}", where=o.test_path)
        ds = _build("csv", X, t, o.task, o.path, X_test, t_test, o.test_path)
        ds.extra["columns"] = names
        return ds


class NpzOptions(Options):
    path: str = Field(description="the .npz file")
    x: str = Field("X", description="the name of the features array (N, d) or (N, ...)")
    y: str = Field("y", description="the name of the targets array (N,) or (N, k)")
    x_test: str = Field("X_test", description="features of the test set, used when present")
    y_test: str = Field("y_test", description="targets of the test set, used when present")
    task: Task = "auto"


def read_npz_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of an .npz, loaded with allow_pickle=False; DataError for missing or damaged files and
    for object arrays (which would need pickle)."""
    where = str(path)
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise DataError("is a single .npy array, not an .npz archive of named arrays; save with "
                            "numpy.savez(path, X=..., y=...)", where=where)
        with z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError("no such file; give the path of an .npz file (data.path)", where=where) from None
    except IsADirectoryError:
        raise DataError("is a directory, not an .npz file", where=where) from None
    except ValueError as e:
        raise DataError(f"refused: it holds pickled Python objects (object arrays), not plain numeric arrays "
                        f"({e}); save numeric arrays only", where=where) from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise DataError(f"not a readable .npz file (truncated or not an .npz?): {e}", where=where) from None


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
        ds = _build("npz", X, y, o.task, o.path, X_test, y_test, o.path)
        if ds.task == "regression":
            ds.y = ds.y.astype(dtype)
            ds.y_test = None if ds.y_test is None else ds.y_test.astype(dtype)
        return ds


# -- what is available ----------------------------------------------------------------------------
def catalog() -> list[dict]:
    """Every registered dataset: name, kind (generated | files), first docstring line, and for the
    MNIST-format ones where their files were found (or None) and where nncli looked."""
    out = []
    for name in DATASETS.names():
        cls = DATASETS.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        entry = {"name": name, "kind": "generated", "description": doc, "found": None}
        if name in mnist.SOURCES:
            entry["kind"] = "files"
            entry["looked_in"] = [str(d) for d in mnist.candidate_dirs(name)]
            try:
                entry["found"] = str(mnist.find_dir(name))
            except DataError:
                pass
        elif issubclass(cls, (Csv, Npz)):
            entry["kind"] = "your file"
        out.append(entry)
    return out


def info(name: str, options: dict | None = None, seed: int = 0, dtype="float32") -> dict:
    """Load a dataset (its options validated as in a config) and describe it: where it came from, sizes,
    task, features, class counts of the training and test sets, and the files for MNIST-format ones."""
    from ..config import validate

    raw = {"data": {"name": name, **(options or {})}, "model": {"layers": [{"units": 2, "activation": "softmax"}]},
           "loss": "categorical_crossentropy", "optimizer": {"lr": 0.1}, "train": {"epochs": 1}, "seed": seed}
    spec = validate(raw).data
    from .datasets import load

    ds = load(spec, np.random.default_rng(seed), dtype)
    out: dict = {"name": ds.name, "source": ds.source, "task": ds.task, "features": ds.n_features,
                 "train_samples": len(ds.X), "test_samples": 0 if ds.X_test is None else len(ds.X_test),
                 "options": spec.options}
    if ds.task == "classification":
        names = ds.class_names or [str(i) for i in range(ds.n_classes)]
        counts = {"train": np.bincount(ds.y, minlength=ds.n_classes).tolist()}
        if ds.y_test is not None:
            counts["test"] = np.bincount(ds.y_test, minlength=ds.n_classes).tolist()
        out.update(classes=ds.n_classes, class_names=names, class_counts=counts)
    else:
        out["targets"] = int(ds.y.shape[1])
    if name in mnist.SOURCES:
        directory = Path(ds.source)
        files = {role: mnist.file_in(directory, f) for role, f in mnist.FILES.items()}
        out["files"] = {role: {"path": str(p), "bytes": p.stat().st_size} for role, p in files.items()}
        out["image_shape"] = ds.extra.get("image_shape")
    out["memory_bytes"] = int(ds.X.nbytes + (0 if ds.X_test is None else ds.X_test.nbytes))
    return out
