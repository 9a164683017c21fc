"""What datasets there are (`nncli data list`) and what one holds (`nncli data info`). Never prints."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..config import check_seed, validate_data
from .datasets import DATASETS, load


def catalog() -> list[dict]:
    """Every registered dataset: name, kind (generated | files | your file), first docstring line, and for
    datasets read from a fixed set of files, where they were looked for and found (or None)."""
    out = []
    for name in DATASETS.names():
        cls = DATASETS.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        out.append({"name": name, "kind": cls.kind, "description": doc, "found": None, **cls.locate()})
    return out


def info(name: str, options: Mapping[str, Any] | None = None, seed: int = 0, dtype="float32") -> dict:
    """Load a dataset (its options validated as in a config's `data` section) and describe it: where it came
    from, sizes, task, features, class counts of the training and test sets, and the files it was read from."""
    spec = validate_data({"name": name, **(options or {})})
    ds = load(spec, np.random.default_rng(check_seed(seed)), dtype)
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
    files = DATASETS.get(spec.name)(**spec.options).files(ds)
    if files:
        out["files"] = files
    if "image_shape" in ds.extra:
        out["image_shape"] = ds.extra["image_shape"]
    out["memory_bytes"] = int(ds.X.nbytes + (0 if ds.X_test is None else ds.X_test.nbytes))
    return out
