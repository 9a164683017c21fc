"""Evaluating and using a trained run: its loss, accuracy and confusion matrix on a dataset, and its
predictions for new inputs read from .npy, .npz, .csv or IDX files. Never prints.

Which set `evaluate_run` uses: with data overrides (other data), the dataset's own test set if it has one,
else all of it; without, the run's test set, else its validation split (recomputed from the seed exactly as
in training), else its training set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import config as config_mod
from .data import datasets
from .data.idx import read_idx
from .data.real import CLASS_NAMES, parse_numbers, read_npz_arrays, read_table, scale_images
from .errors import ConfigError, DataError
from .nn.losses import LOSSES
from .nn.network import Network
from .pipeline import LoadedRun, rngs
from .data.splits import Split, split_validation, targets
from .metrics import evaluate, outputs, predicted_classes

MNIST_FORMAT = ("mnist", "fashion-mnist")


@dataclass
class Evaluation:
    """Metrics of a run on one set. `confusion[i, j]`: samples of true class i predicted as class j."""

    split: str  # test | val | train | all
    dataset: str
    samples: int
    loss: float
    accuracy: float | None = None
    confusion: np.ndarray | None = None
    class_names: list[str] | None = None
    per_class: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"split": self.split, "dataset": self.dataset, "samples": self.samples,
                               "loss": self.loss}
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy
            out["class_names"] = self.class_names
            out["confusion"] = self.confusion.tolist()
            out["per_class"] = self.per_class
        return out


def confusion_matrix(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def data_spec(loaded: LoadedRun, data: list[str]) -> tuple[config_mod.Spec, bool]:
    """The run's data section with `data` applied: KEY=VALUE overrides of it (`path=...`, `limit=100`), or
    one data file (.csv -> csv, .npz -> npz, a directory -> the same dataset from there). Returns the
    validated spec and whether anything was changed."""
    raw = loaded.cfg.model_dump(mode="json")
    if not data:
        return loaded.cfg.data, False
    if len(data) == 1 and "=" not in data[0]:
        path = Path(data[0])
        if path.is_dir():
            data = [f"path={path}"]
        elif path.suffix.lower() in (".csv", ".npz"):
            if raw["data"]["name"] != path.suffix.lower()[1:]:
                raw["data"] = {"name": path.suffix.lower()[1:]}
            data = [f"path={path}"]
        else:
            raise ConfigError(f"{data[0]!r} is neither KEY=VALUE nor a .csv/.npz file or a dataset directory",
                              where="--data")
    raw = config_mod.apply_overrides(raw, [f"data.{item}" for item in data])
    raw["data"] = {k: v for k, v in raw["data"].items() if v is not None}
    cfg = config_mod.validate(raw)
    return cfg.data, True


def evaluate_run(loaded: LoadedRun, data: list[str] | None = None, split: str = "auto") -> Evaluation:
    """Loss, accuracy and confusion matrix of a run's network on a dataset (see the module docstring).

    split: auto, train, val, test, or all (the whole dataset, its own test set excluded)."""
    cfg = loaded.cfg
    spec, changed = data_spec(loaded, list(data or []))
    stream = rngs(cfg.seed)["data"]
    ds = datasets.load(spec, stream, cfg.dtype)
    n_in = loaded.net.sizes[0]
    if ds.n_features != n_in:
        raise DataError(f"the data has {ds.n_features} features per sample but the network of this run takes "
                        f"{n_in}", where=ds.source)
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {"all": (ds.X, ds.y)}
    if ds.X_test is not None:
        sets["test"] = (ds.X_test, ds.y_test)
    if cfg.train.validation_split > 0:
        tr, va = split_validation(ds.X, ds.y, cfg.train.validation_split, stream,
                                           stratify=ds.task == "classification")
        sets["val"], sets["train"] = (ds.X[va], ds.y[va]), (ds.X[tr], ds.y[tr])
    else:
        sets["train"] = (ds.X, ds.y)
    if split == "auto":
        order = ("test", "all") if changed else ("test", "val", "train")
        split = next(s for s in order if s in sets)
    if split not in sets:
        have = ", ".join(s for s in ("train", "val", "test", "all") if s in sets)
        raise ConfigError(f"{ds.name} has no {split} set here (available: {have})", where="--split")
    X, y = sets[split]
    units = loaded.net.sizes[-1]
    loss = LOSSES.get(cfg.loss)()
    T = targets(ds, y, units, cfg.dtype, f"model.layers.{len(cfg.model.layers) - 1}.units")
    target = Split(X, T, y if ds.task == "classification" else None)
    metrics = evaluate(loaded.net, target, loss)
    result = Evaluation(split, ds.name, len(X), float(metrics["loss"]))
    if ds.task == "classification":
        k = ds.n_classes
        pred = predicted_classes(outputs(loaded.net, X))
        cm = confusion_matrix(y, pred, k)
        names = ds.class_names or [str(i) for i in range(k)]
        result.accuracy = float(metrics["accuracy"])
        result.confusion = cm
        result.class_names = names
        for i in range(k):
            support = int(cm[i].sum())
            predicted = int(cm[:, i].sum())
            result.per_class.append({
                "class": names[i], "support": support,
                "recall": cm[i, i] / support if support else None,
                "precision": cm[i, i] / predicted if predicted else None})
    return result


# -- prediction -----------------------------------------------------------------------------------
def read_inputs(path: str | Path, loaded: LoadedRun) -> np.ndarray:
    """Inputs (N, n_0) in the run's dtype from a .npy, .npz, .csv or IDX file, prepared as in training:
    uint8 images (IDX files, or uint8 arrays for an MNIST-format run) are scaled to [0, 1] by / 255;
    other numbers are used as they are (the csv and npz datasets do not transform features)."""
    path = Path(path)
    where = str(path)
    cfg = loaded.cfg
    dtype = np.dtype(cfg.dtype)
    n_in = loaded.net.sizes[0]
    if not path.exists():
        raise DataError("no such file; give a .npy, .npz, .csv or IDX images file", where=where)
    if path.is_dir():
        raise DataError("is a directory; give a .npy, .npz, .csv or IDX images file", where=where)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        delimiter = cfg.data.options.get("delimiter", ",") if cfg.data.name == "csv" else ","
        cells, names, lines, _ = read_table(path, None, delimiter)
        if cells.shape[1] == n_in + 1 and cfg.data.name == "csv":  # a file with the target column too
            target = cfg.data.options.get("target", -1)
            col = names.index(target) if isinstance(target, str) and target in names else int(
                target if not isinstance(target, str) or target.lstrip("-").isdigit() else -1) % len(names)
            cells = np.delete(cells, col, axis=1)
            names = [n for i, n in enumerate(names) if i != col]
        X = parse_numbers(cells, names, lines, dtype, where)
    elif suffix == ".npz":
        arrays = read_npz_arrays(path)
        key = cfg.data.options.get("x", "X") if cfg.data.name == "npz" else "X"
        if key not in arrays and len(arrays) == 1:
            key = next(iter(arrays))
        if key not in arrays:
            raise DataError(f"has no array {key!r} (it holds {', '.join(sorted(arrays))}); name the inputs "
                            f"{key!r} or save only one array", where=where)
        X = _numeric(arrays[key], cfg.data.name, dtype, where, f"array {key!r}")
    elif suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise DataError(f"refused or unreadable .npy file ({e}); save a plain numeric array",
                            where=where) from None
        except (OSError, EOFError) as e:
            raise DataError(f"not a readable .npy file: {e}", where=where) from None
        X = _numeric(array, cfg.data.name, dtype, where, "the array")
    else:
        images = read_idx(path)  # IDX, gzipped or raw: any other name (DataError if it is not IDX)
        if images.ndim < 2:
            raise DataError(f"holds a 1-D array of shape {images.shape} (labels?); give an images file "
                            f"(count x rows x cols)", where=where)
        X = scale_images(images, dtype) if images.dtype == np.uint8 else \
            images.reshape(len(images), -1).astype(dtype)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise DataError(f"inputs have {X.shape[1] if X.ndim == 2 else X.shape} features per sample but the "
                        f"network of this run takes {n_in}", where=where)
    if not np.isfinite(X).all():
        row = int(np.argwhere(~np.isfinite(X))[0, 0])
        raise DataError(f"inputs contain NaN or infinite values (first at row {row})", where=where)
    return X


def _numeric(array: np.ndarray, dataset: str, dtype, where: str, what: str) -> np.ndarray:
    if array.dtype.kind not in "biuf" or array.ndim == 0:
        raise DataError(f"{what} must be numeric with one row per sample, got {array.dtype} of shape "
                        f"{array.shape}", where=where)
    if array.ndim == 1:
        array = array[None, :]
    if array.dtype == np.uint8 and dataset in MNIST_FORMAT:
        return scale_images(array, dtype)
    return array.reshape(len(array), -1).astype(dtype)


def class_names(loaded: LoadedRun) -> list[str] | None:
    """The class names of a classification run (from summary.json, else the dataset's own), or None."""
    dataset = loaded.summary.get("dataset", {})
    if dataset.get("class_names"):
        return list(dataset["class_names"])
    return list(CLASS_NAMES[loaded.cfg.data.name]) if loaded.cfg.data.name in CLASS_NAMES else None


def is_classification(loaded: LoadedRun) -> bool:
    task = loaded.summary.get("dataset", {}).get("task")
    if task:
        return task == "classification"
    return loaded.cfg.loss in ("categorical_crossentropy", "binary_crossentropy")


@dataclass
class Predictions:
    outputs: np.ndarray  # (N, units)
    classes: np.ndarray | None  # (N,) for classification
    class_names: list[str] | None

    def columns(self) -> list[str]:
        if self.classes is None:
            return [f"y{i}" for i in range(self.outputs.shape[1])]
        names = ["class"] + (["name"] if self.class_names else [])
        return names + [f"p{i}" for i in range(self.outputs.shape[1])]

    def rows(self):
        """CSV rows (lists of strings)."""
        fmt = np.vectorize(lambda v: f"{v:.6g}", otypes=[str])
        values = fmt(self.outputs) if len(self.outputs) else np.zeros((0, self.outputs.shape[1]), str)
        for i, vals in enumerate(values):
            if self.classes is None:
                yield list(vals)
            else:
                c = int(self.classes[i])
                yield [str(c)] + ([self.class_names[c]] if self.class_names else []) + list(vals)


def predict(loaded: LoadedRun, X: np.ndarray) -> Predictions:
    """The run's outputs for inputs X (N, n_0); classes (argmax, or > 0.5 for one unit) when it classifies."""
    Y = outputs(loaded.net, X)
    if not is_classification(loaded):
        return Predictions(Y, None, None)
    names = class_names(loaded)
    if names is not None and len(names) != max(Y.shape[1], 2):
        names = None
    classes = predicted_classes(Y)
    if Y.shape[1] == 1:  # one sigmoid unit gives P(class 1): list both probabilities
        Y = np.concatenate([1 - Y, Y], axis=1)
    return Predictions(Y, classes, names)
