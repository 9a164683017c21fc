"""The MNIST-format datasets (MNIST, Fashion-MNIST): file names, published sources and checksums, where
the files are looked for, and loading them as arrays.

Where files are looked for (`candidate_dirs`): data.path if given; otherwise $NNCLI_DATA/<name> if
NNCLI_DATA is set, else the user cache ($XDG_CACHE_HOME or ~/.cache)/nncli/<name>; and, for
fashion-mnist, Debian's /usr/share/datasets/fashion-mnist (package dataset-fashion-mnist).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import DataError
from .idx import read_idx

# Role -> published file name. A directory may also hold the un-gzipped files (name without .gz).
FILES: Mapping[str, str] = MappingProxyType({
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
})

NUM_CLASSES = 10
SYSTEM_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Source:
    """Where a dataset is published and the checksums of its four .gz files.

    `urls` are base URLs (ending in /) tried in order; `md5` maps each .gz file name to the MD5 published
    for it; `raw_sha256` (where known) maps each file name to the SHA-256 of its decompressed content,
    which stays the same when a distribution recompresses the files.
    """

    name: str
    urls: tuple[str, ...]
    md5: Mapping[str, str]
    raw_sha256: Mapping[str, str] | None = None
    system_dirs: tuple[Path, ...] = ()  # where a distribution installs the files (after the cache)


# MNIST: MD5s as listed by torchvision's MNIST dataset (the LeCun site publishes none), with its
# mirrors (the S3 one first: the original site often refuses downloads).
# Fashion-MNIST: MD5s from the "Get the Data" table of github.com/zalandoresearch/fashion-mnist's README
# (torchvision lists the same). Debian's dataset-fashion-mnist recompresses the .gz files, so their MD5s
# differ, but their decompressed content has exactly the `raw_sha256` below.
SOURCES: Mapping[str, Source] = MappingProxyType({
    "mnist": Source(
        name="mnist",
        urls=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        md5=MappingProxyType({
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        }),
    ),
    "fashion-mnist": Source(
        name="fashion-mnist",
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5=MappingProxyType({
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        }),
        raw_sha256=MappingProxyType({
            "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        }),
        system_dirs=(SYSTEM_FASHION_MNIST_DIR,),  # Debian's dataset-fashion-mnist
    ),
})


def source(name: str) -> Source:
    """The Source of a dataset; DataError naming the choices (and the closest one) if unknown."""
    try:
        return SOURCES[name]
    except KeyError:
        choices = sorted(SOURCES)
        message = f"unknown MNIST-format dataset {name!r}"
        close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
        if close:
            message += f"; did you mean {close[0]!r}?"
        raise DataError(message + f" (choices: {', '.join(choices)})") from None


def cache_dir(name: str) -> Path:
    """Where `nncli data fetch NAME` stores a dataset: $NNCLI_DATA/<name>, else
    ($XDG_CACHE_HOME or ~/.cache)/nncli/<name>."""
    source(name)
    data_root = os.environ.get("NNCLI_DATA")
    if data_root:
        return Path(data_root).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "nncli" / name


def candidate_dirs(name: str, path: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories searched for a dataset's files, in order (see the module docstring)."""
    src = source(name)
    if path is not None:
        return [Path(path).expanduser()]
    return [cache_dir(name), *src.system_dirs]


def file_in(directory: Path, filename: str) -> Path | None:
    """The file `filename` (a .gz name) in directory, gzipped or not (the .gz preferred); None if absent."""
    for candidate in (directory / filename, directory / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def find_dir(name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """The first candidate directory that holds all four files (each gzipped or not).

    DataError listing each place looked in and what was missing there otherwise.
    """
    looked = []
    for directory in candidate_dirs(name, path):
        missing = [f for f in FILES.values() if file_in(directory, f) is None]
        if not missing:
            return directory
        if not directory.is_dir():
            looked.append(f"{directory} (no such directory)")
        else:
            looked.append(f"{directory} (missing {', '.join(missing)})")
    advice = ("set data.path to the directory holding them" if path is not None
              else f"run `nncli data fetch {name}` or set data.path to a directory holding them")
    raise DataError(
        f"the {name} files ({', '.join(FILES.values())}, gzipped or not) were not found; looked in: "
        + "; ".join(looked) + f". To fix: {advice}"
    )


def _repair_hint(name: str, directory: Path) -> str:
    if directory == SYSTEM_FASHION_MNIST_DIR:
        return (f"reinstall the Debian package dataset-fashion-mnist, or run `nncli data fetch {name}` "
                "to use a fresh copy")
    return f"delete it and run `nncli data fetch {name}`"


def load_arrays(name: str, path: str | os.PathLike[str] | None = None) -> dict:
    """Load a dataset's four files.

    Returns {"train_images": (N, rows, cols) uint8, "train_labels": (N,) uint8, "test_images":
    (M, rows, cols) uint8, "test_labels": (M,) uint8, "dir": Path}. DataError naming the file if a file
    is malformed, images and labels disagree in count, a label is >= 10, or shapes/dtypes are wrong.
    """
    directory = find_dir(name, path)
    hint = _repair_hint(name, directory)
    files = {role: file_in(directory, filename) for role, filename in FILES.items()}
    arrays: dict = {role: read_idx(file, hint=hint) for role, file in files.items()}

    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        images_file, labels_file = files[f"{split}_images"], files[f"{split}_labels"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(f"expected 3-D uint8 images (count x rows x cols), found {images.ndim}-D "
                            f"{images.dtype} of shape {images.shape}; {hint}", where=str(images_file))
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise DataError(f"expected 1-D uint8 labels, found {labels.ndim}-D {labels.dtype} of shape "
                            f"{labels.shape}; {hint}", where=str(labels_file))
        if len(images) != len(labels):
            raise DataError(f"{len(labels)} labels for {len(images)} images in {images_file.name}; expected "
                            f"one label per image; {hint}", where=str(labels_file))
        bad = np.flatnonzero(labels >= NUM_CLASSES)
        if bad.size:
            first = f"first: index {bad[0]} = {labels[bad[0]]}"
            raise DataError(f"{bad.size} labels are >= {NUM_CLASSES} ({first}); expected class numbers "
                            f"0-{NUM_CLASSES - 1}; {hint}", where=str(labels_file))
    train_shape, test_shape = arrays["train_images"].shape[1:], arrays["test_images"].shape[1:]
    if train_shape != test_shape:
        raise DataError(f"test images are {test_shape[0]}x{test_shape[1]} but training images are "
                        f"{train_shape[0]}x{train_shape[1]}; expected the same size; {hint}",
                        where=str(files["test_images"]))
    arrays["dir"] = directory
    return arrays
