"""The dataset registry. A dataset class declares its `Options` and `load(options, rng, dtype)` returns a
`Dataset`: features X (N, d) in the training dtype and targets y: integer class labels (N,) for
classification, float targets (N, k) for regression; optionally the dataset's own test set.

The 2-D generators follow TensorFlow Playground's shapes; all randomness comes from the run's Generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from ..errors import DataError
from ..options import Options
from ..registry import Registry

DATASETS: Registry[type["DatasetSource"]] = Registry("dataset")


@dataclass
class Dataset:
    """Features and targets. `task` is "classification" (y: int labels) or "regression" (y: (N, k))."""

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str = "classification"
    n_classes: int | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    source: str = "generated"
    extra: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what loading decided, said once (CSV header detection)

    @property
    def n_features(self) -> int:
        return self.X.shape[1]


class DatasetSource:
    """A registered dataset: `load(rng, dtype)` with the validated options of the config's `data`.

    What a dataset is lives on its class, so nothing else tests its name: `kind` (for `nncli data list`),
    `input_format()` (how `nncli predict` reads inputs for a run trained on it), `locate()` and
    `files(ds)` (where its files are, for datasets read from a fixed set of files)."""

    name: str = ""
    Options = Options
    #: "generated" (built in), "files" (a published dataset found on disk or downloaded), "your file"
    kind: str = "generated"
    #: its inputs are the corners of a square (low and high in each of 2 inputs), so what a unit outputs
    #: on them is a truth table (`nncli inspect`'s truth_tables section)
    truth_table: bool = False

    def __init__(self, **options):
        self.options = self.Options(**options)

    def load(self, rng: np.random.Generator, dtype) -> Dataset:
        raise NotImplementedError

    def known_shape(self) -> tuple[int, int] | None:
        """(samples, features) of the data, when the options alone tell (generated data); None when only
        loading it does (files). Used to size a stack of networks before any data is loaded."""
        n = getattr(self.options, "n_samples", None)
        return (n, 2) if self.kind == "generated" and isinstance(n, int) else None  # the plane's toy sets

    def input_format(self) -> dict:
        """How to read new inputs for a network trained on this data: `delimiter` of CSV files, the CSV
        `target` column to drop when a file has it, the `npz_key` of the inputs array, and whether uint8
        arrays are `images` to scale by 1/255."""
        return {"delimiter": ",", "target": None, "npz_key": "X", "images": False}

    @classmethod
    def locate(cls) -> dict:
        """Where this dataset's files were looked for and found ({} for data that needs no files)."""
        return {}

    def files(self, ds: Dataset) -> dict:
        """The files a loaded dataset came from: role -> {path, bytes} ({} when not read from files)."""
        return {}


def load(spec, rng: np.random.Generator, dtype) -> Dataset:
    """Load the dataset a config's `data` section names and check what it returned."""
    source = DATASETS.get(spec.name, where="data.name")(**spec.options)
    ds = source.load(rng, np.dtype(dtype))
    check(ds)
    return ds


def check(ds: Dataset) -> None:
    """Empty data, NaN/inf features, label counts and ranges: DataError naming the dataset."""
    for part, X, y in (("train", ds.X, ds.y), ("test", ds.X_test, ds.y_test)):
        if X is None:
            continue
        where = f"{ds.source} ({part} set)"
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise DataError(f"no samples or no features (features have shape {X.shape})", where=where)
        if len(y) != len(X):
            raise DataError(f"{len(X)} feature rows but {len(y)} targets; they must match", where=where)
        bad = ~np.isfinite(X)
        if bad.any():
            row = int(np.argwhere(bad)[0, 0])
            raise DataError(f"features contain NaN or infinite values (first at row {row}); "
                            f"clean or impute them first", where=where)
        if ds.task == "classification":
            if y.ndim != 1 or (len(y) and (y.min() < 0 or y.max() >= ds.n_classes)):
                row = int(np.argmax((y < 0) | (y >= ds.n_classes))) if y.ndim == 1 else 0
                raise DataError(f"class labels must be integers 0..{ds.n_classes - 1}; row {row} has "
                                f"{y[row] if y.ndim == 1 else y.shape}", where=where)
        elif not np.isfinite(y).all():
            row = int(np.argwhere(~np.isfinite(y))[0, 0])
            raise DataError(f"targets contain NaN or infinite values (first at row {row})", where=where)


# -- built-in datasets ----------------------------------------------------------------------------
@DATASETS.register("xor")
class Xor(DatasetSource):
    """The lab's XOR: the four points of {-1, 1}^2, target 1 where exactly one input is 1."""

    truth_table = True

    def known_shape(self):
        return (4, 2)

    def load(self, rng, dtype):
        X = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=dtype)
        y = np.array([0, 1, 1, 0])
        return Dataset("xor", X, y, n_classes=2)


class ToyOptions(Options):
    n_samples: int = Field(200, ge=2, le=10_000_000, strict=True)  # generated in memory
    noise: float = Field(0.1, ge=0, le=100)  # the data lie within about [-1.5, 2.5]


@DATASETS.register("circles")
class Circles(DatasetSource):
    """A disc (class 1, radius < 0.5) inside a ring (class 0, radius 0.7 to 1); noise is added to x, y."""

    Options = ToyOptions

    def load(self, rng, dtype):
        n = self.options.n_samples
        inner = n // 2
        radius = np.concatenate([rng.uniform(0.0, 0.5, inner), rng.uniform(0.7, 1.0, n - inner)])
        angle = rng.uniform(0, 2 * np.pi, n)
        X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        X += rng.normal(0, self.options.noise, X.shape)
        y = np.concatenate([np.ones(inner, int), np.zeros(n - inner, int)])
        return Dataset("circles", X.astype(dtype), y, n_classes=2)


@DATASETS.register("moons")
class Moons(DatasetSource):
    """Two interleaving half circles (as scikit-learn's make_moons), Gaussian noise of sd `noise`."""

    Options = ToyOptions

    def load(self, rng, dtype):
        n = self.options.n_samples
        a = n // 2
        t0 = np.linspace(0, np.pi, a)
        t1 = np.linspace(0, np.pi, n - a)
        X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1),
                            np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
        X += rng.normal(0, self.options.noise, X.shape)
        y = np.concatenate([np.zeros(a, int), np.ones(n - a, int)])
        perm = rng.permutation(n)
        return Dataset("moons", X[perm].astype(dtype), y[perm], n_classes=2)


class SpiralOptions(ToyOptions):
    n_samples: int = Field(300, ge=2, le=10_000_000, strict=True)
    noise: float = Field(0.05, ge=0, le=100)
    classes: int = Field(2, ge=2, le=10_000, strict=True)
    turns: float = Field(1.25, gt=0)


@DATASETS.register("spiral")
class Spiral(DatasetSource):
    """`classes` interleaved spiral arms of `turns` turns from the centre to radius 1."""

    Options = SpiralOptions

    def load(self, rng, dtype):
        o = self.options
        k = np.arange(o.n_samples) % o.classes
        r = rng.uniform(0.05, 1.0, o.n_samples)
        angle = 2 * np.pi * (o.turns * r + k / o.classes)
        X = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
        X += rng.normal(0, o.noise, X.shape)
        return Dataset("spiral", X.astype(dtype), k, n_classes=o.classes)


class GaussOptions(ToyOptions):
    noise: float = Field(0.5, ge=0, le=100)


@DATASETS.register("gauss")
class Gauss(DatasetSource):
    """Two Gaussian blobs centred at (1, 1) (class 1) and (-1, -1) (class 0), sd `noise`."""

    Options = GaussOptions

    def load(self, rng, dtype):
        n = self.options.n_samples
        y = (np.arange(n) % 2).astype(int)
        centre = np.where(y[:, None] == 1, 1.0, -1.0)
        X = centre + rng.normal(0, self.options.noise, (n, 2))
        return Dataset("gauss", X.astype(dtype), y, n_classes=2)
