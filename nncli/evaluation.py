"""Evaluating and using a trained network: its loss, accuracy and confusion matrix on a dataset, and its
predictions for new inputs read from .npy, .npz, .csv or IDX files. Never prints.

Which set `evaluate` uses: with other data, the dataset's own test set if it has one, else all of it;
without, the run's test set, else its validation split, else its training set, each exactly as training
made it (`runner.run_data`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .config import Config, parse_assignment, validate_data
from .data import DATASETS
from .data.idx import read_idx
from .data.images import scale_images
from .data.csvfile import read_table
from .data.files import read_npz_arrays
from .data.splits import Split
from .errors import ConfigError, DataError, argument
from .metrics import evaluate as split_metrics, outputs, predicted_classes
from .nn.losses import LOSSES
from .nn.network import Network
from .npyfiles import read_npy
from .runner import run_data

SPLITS = ("auto", "test", "val", "train", "all")


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


def with_data(cfg: Config, data: list[str], classes: list[str] | None = None) -> tuple[Config, bool]:
    """`cfg` with its data section changed by `data`: KEY=VALUE overrides of it (`path=...`, `limit=100`),
    or one data file (.csv -> csv, .npz -> npz, a directory -> the same dataset from there). A data file
    is labelled by the run's `classes` (so a file with some of them means the same classes). Returns the
    config and whether anything was changed."""
    if not data:
        return cfg, False
    spec = {"name": cfg.data.name, **cfg.data.options}
    if len(data) == 1 and "=" not in data[0]:
        path = Path(data[0])
        if path.is_dir():
            data = [f"path={path}"]
        elif path.suffix.lower() in (".csv", ".npz"):
            if spec["name"] != path.suffix.lower()[1:]:
                spec = {"name": path.suffix.lower()[1:]}
            data = [f"path={path}"]
        else:
            raise ConfigError(f"{data[0]!r} is neither KEY=VALUE nor a .csv/.npz file or a dataset directory",
                              where=argument("data"))
    for item in data:
        key, value = parse_assignment(item, "a data option", "path=data.csv")
        spec[key] = value
    options = DATASETS.get(spec["name"], where="data.name").Options.model_fields
    if classes and "classes" in options and spec.get("classes") is None:
        spec["classes"] = list(classes)
    new = cfg.model_copy(deep=True)
    new.data = validate_data({k: v for k, v in spec.items() if v is not None})
    return new, True


def evaluate(cfg: Config, net: Network, data: list[str] | None = None, split: str = "auto",
             classes: list[str] | None = None) -> Evaluation:
    """Loss, accuracy and confusion matrix of `net` (trained with `cfg` on `classes`) on a dataset (see the
    module docstring). split: auto, train, val, test, or all (train and val together, the test set
    excluded). Other data is split into train and val only when one of those is asked for."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use {', '.join(SPLITS)}", where=argument("split"))
    cfg, changed = with_data(cfg, list(data or []), classes)
    if changed and split not in ("train", "val"):
        cfg.train.validation_split = 0.0  # all of the other data (or its own test set): no split to make
    d = run_data(cfg, trainable=not changed)  # a file to evaluate on may hold one sample
    ds = d.dataset
    if ds.n_features != net.sizes[0]:
        raise DataError(f"the data has {ds.n_features} features per sample but the network of this run takes "
                        f"{net.sizes[0]}", where=ds.source)
    sets = {name: d.get(name) for name in ("train", "val", "test") if d.get(name) is not None}
    sets["all"] = _concat(d.train, d.val) if d.val is not None else d.train
    if split == "auto":
        order = ("test", "all") if changed else ("test", "val", "train")
        split = next(s for s in order if s in sets)
    if split not in sets:
        have = ", ".join(s for s in ("train", "val", "test", "all") if s in sets)
        raise ConfigError(f"{ds.name} has no {split} set here (available: {have})", where=argument("split"))
    target = sets[split]
    metrics = split_metrics(net, target, LOSSES.get(cfg.loss)())
    result = Evaluation(split, ds.name, len(target), float(metrics["loss"]))
    if ds.task == "classification":
        _add_confusion(result, target, predicted_classes(outputs(net, target.X)), ds.n_classes, ds.class_names)
        result.accuracy = float(metrics["accuracy"])
    return result


def _concat(a: Split, b: Split) -> Split:
    return Split(np.concatenate([a.X, b.X]), np.concatenate([a.T, b.T]),
                 None if a.y is None else np.concatenate([a.y, b.y]))


def _add_confusion(result: Evaluation, target: Split, pred: np.ndarray, k: int, names: list[str] | None) -> None:
    cm = confusion_matrix(target.y, pred, k)
    result.confusion = cm
    result.class_names = names = names or [str(i) for i in range(k)]
    for i in range(k):
        support, predicted = int(cm[i].sum()), int(cm[:, i].sum())
        result.per_class.append({"class": names[i], "support": support,
                                 "recall": cm[i, i] / support if support else None,
                                 "precision": cm[i, i] / predicted if predicted else None})


# -- prediction -----------------------------------------------------------------------------------
def read_inputs(path: str | Path, cfg: Config, n_in: int) -> np.ndarray:
    """Inputs (N, n_in) in the config's dtype from a .npy, .npz, .csv or IDX file, prepared as in training
    (the dataset's class says how: `DatasetSource.input_format`): uint8 images are scaled to [0, 1] by
    / 255; other numbers are used as they are (the csv and npz datasets do not transform features)."""
    path = Path(path)
    where = str(path)
    dtype = np.dtype(cfg.dtype)
    fmt = DATASETS.get(cfg.data.name)(**cfg.data.options).input_format()
    if not path.exists():
        raise DataError("no such file; give a .npy, .npz, .csv or IDX images file", where=where)
    if path.is_dir():
        raise DataError("is a directory; give a .npy, .npz, .csv or IDX images file", where=where)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        def target(names: list[str], header: bool) -> int | None:  # a file with the target column too
            wanted = len(names) == n_in + 1 and fmt["target"] is not None
            return _target_column(fmt["target"], names) if wanted else None

        X = read_table(path, None, fmt["delimiter"], target, dtype, keep_target=False).X
    elif suffix in (".npz", ".npy"):
        X = _numeric(_array(path, suffix, fmt["npz_key"]), fmt["images"], dtype, where)
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


def _target_column(target: int | str, names: list[str]) -> int:
    if isinstance(target, str) and target in names:
        return names.index(target)
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        return len(names) - 1
    return int(target) % len(names)


def _array(path: Path, suffix: str, key: str) -> np.ndarray:
    """The inputs array of an .npz (array `key`, or its only array) or of an .npy file."""
    where = str(path)
    if suffix == ".npz":
        arrays = read_npz_arrays(path)
        if key not in arrays and len(arrays) == 1:
            key = next(iter(arrays))
        if key not in arrays:
            raise DataError(f"has no array {key!r} (it holds {', '.join(sorted(arrays))}); name the inputs "
                            f"{key!r} or save only one array", where=where)
        return arrays[key]
    return read_npy(path, DataError, missing="no such file; give a .npy, .npz, .csv or IDX file of inputs")


def _numeric(array: np.ndarray, images: bool, dtype, where: str) -> np.ndarray:
    if array.dtype.kind not in "biuf" or array.ndim == 0:
        raise DataError(f"the inputs must be numeric with one row per sample, got {array.dtype} of shape "
                        f"{array.shape}", where=where)
    if array.ndim == 1:
        array = array[None, :]
    if array.size == 0:
        raise DataError(f"holds no inputs (an array of shape {array.shape}); give at least one row", where=where)
    if array.dtype == np.uint8 and images:
        return scale_images(array, dtype)
    return array.reshape(len(array), -1).astype(dtype)


def class_names(cfg: Config, summary: dict[str, Any]) -> list[str] | None:
    """The class names of a classification run (from summary.json, else the dataset's own), or None."""
    dataset = summary.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("class_names"), list):
        return [str(n) for n in dataset["class_names"]]
    names = getattr(DATASETS.get(cfg.data.name), "class_names", None)
    return list(names) if names else None


def is_classification(cfg: Config, summary: dict[str, Any]) -> bool:
    dataset = summary.get("dataset")
    task = dataset.get("task") if isinstance(dataset, dict) else None
    if task:
        return task == "classification"
    return LOSSES.get(cfg.loss).classification


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

    def rows(self) -> Iterator[list[str]]:
        """CSV rows (lists of strings)."""
        fmt = np.vectorize(lambda v: f"{v:.6g}", otypes=[str])
        values = fmt(self.outputs) if len(self.outputs) else np.zeros((0, self.outputs.shape[1]), str)
        for i, vals in enumerate(values):
            if self.classes is None:
                yield list(vals)
            else:
                c = int(self.classes[i])
                yield [str(c)] + ([self.class_names[c]] if self.class_names else []) + list(vals)


def predict(net: Network, X: np.ndarray, classification: bool, names: list[str] | None) -> Predictions:
    """Outputs for inputs X (N, n_0); classes (argmax, or > 0.5 for one unit) when the network classifies."""
    Y = outputs(net, X)
    if not classification:
        return Predictions(Y, None, None)
    if names is not None and len(names) != max(Y.shape[1], 2):
        names = None
    classes = predicted_classes(Y)
    if Y.shape[1] == 1:  # one sigmoid unit gives P(class 1): list both probabilities
        Y = np.concatenate([1 - Y, Y], axis=1)
    return Predictions(Y, classes, names)
