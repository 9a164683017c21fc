"""The MNIST-format datasets `mnist` and `fashion-mnist` (IDX files; mnist.py finds, checks and reads them).

Images become rows of n_rows * n_cols pixels scaled to [0, 1] in the training dtype (x = pixel / 255),
converted straight from the uint8 file arrays (one allocation in the training dtype); the labels are the
class numbers 0..9; the test set is the dataset's own t10k files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from ..errors import DataError
from ..options import Options
from .mnist import FILES, NUM_CLASSES, candidate_dirs, file_in, find_dir, load_arrays
from .datasets import DATASETS, Dataset, DatasetSource

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot"]
MNIST_CLASSES = [str(d) for d in range(10)]


def scale_images(images: np.ndarray, dtype) -> np.ndarray:
    """uint8 images (N, ...) -> (N, prod(...)) in `dtype`, x = pixel / 255, in one allocation."""
    dtype = np.dtype(dtype)
    flat = images.reshape(len(images), -1)
    return np.divide(flat, dtype.type(255), dtype=dtype)


# -- MNIST and Fashion-MNIST --------------------------------------------------------------------
class MnistOptions(Options):
    path: str | None = Field(None, description="directory holding the four IDX files")
    limit: int | None = Field(None, ge=1, strict=True, description="use a seeded random subset of this many training images")


class MnistFormat(DatasetSource):
    """Base of the MNIST-format datasets: 28x28 grey images, 10 classes, 60,000 training and 10,000 test."""

    Options = MnistOptions
    kind = "files"
    class_names: list[str] = []

    def load(self, rng, dtype):
        arrays = load_arrays(self.name, self.options.path)
        images, labels = arrays["train_images"], arrays["train_labels"]
        limit = self.options.limit
        if limit is not None and limit < len(images):
            keep = np.sort(rng.choice(len(images), size=limit, replace=False))
            images, labels = images[keep], labels[keep]
        return Dataset(
            self.name,
            scale_images(images, dtype),
            labels.astype(np.int64),
            n_classes=NUM_CLASSES,
            X_test=scale_images(arrays["test_images"], dtype),
            y_test=arrays["test_labels"].astype(np.int64),
            class_names=list(self.class_names),
            source=str(arrays["dir"]),
            extra={"image_shape": list(images.shape[1:])},
        )


    def input_format(self):
        return {**super().input_format(), "images": True}

    @classmethod
    def locate(cls) -> dict:
        found = None
        try:
            found = str(find_dir(cls.name))
        except DataError:
            pass
        return {"looked_in": [str(d) for d in candidate_dirs(cls.name)], "found": found}

    def files(self, ds):
        directory = Path(ds.source)
        paths = {role: file_in(directory, f) for role, f in FILES.items()}
        return {role: {"path": str(p), "bytes": p.stat().st_size} for role, p in paths.items() if p is not None}


@DATASETS.register("mnist")
class Mnist(MnistFormat):
    """MNIST handwritten digits (LeCun et al.): `nncli data fetch mnist` downloads it."""

    name = "mnist"
    class_names = MNIST_CLASSES


@DATASETS.register("fashion-mnist")
class FashionMnist(MnistFormat):
    """Fashion-MNIST (Zalando): Debian's dataset-fashion-mnist package, or `nncli data fetch fashion-mnist`."""

    name = "fashion-mnist"
    class_names = FASHION_MNIST_CLASSES
