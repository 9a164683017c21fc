"""Real data: one short epoch on a subset of Debian's Fashion-MNIST (package dataset-fashion-mnist, which
.ci/run installs). Skipped, with the reason, where the files are missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nncli.config import Spec
from nncli.data import datasets

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    not (DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not installed in {DEBIAN} (apt-get install dataset-fashion-mnist)")


def test_fashion_mnist_files_load_as_published():
    ds = datasets.load(Spec(name="fashion-mnist", path=str(DEBIAN)), np.random.default_rng(0), "float32")
    assert ds.X.shape == (60000, 784) and ds.X.dtype == np.float32
    assert ds.X_test.shape == (10000, 784)
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert np.bincount(ds.y).tolist() == [6000] * 10 and np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"


def test_two_short_epochs_on_a_subset_reach_80_percent(run_cli, tmp_path):
    """10,000 training images (9,000 after the validation split), two epochs of the shipped config
    (batch 128, Adam): accuracy on the full 10,000-image test set >= 0.80 (measured: 0.828; chance 0.10)."""
    r = run_cli("train", ROOT / "configs" / "fashion-mnist.yaml", "data.limit=10000", "train.epochs=2",
                "--out", tmp_path / "run", "--quiet", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    d = s["dataset"]
    assert d["train"] + d["val"] == 10000 and abs(d["val"] - 1000) <= 5 and d["test"] == 10000
    assert s["evaluation"]["test"]["accuracy"] >= 0.80
    ev = json.loads(run_cli("evaluate", tmp_path / "run", "--json").stdout)
    assert ev["accuracy"] == pytest.approx(s["evaluation"]["test"]["accuracy"])
    assert np.array(ev["confusion"]).sum() == 10000
