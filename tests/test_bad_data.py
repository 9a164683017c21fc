"""Bad data through `nncli train`: NaN/inf features, labels out of range, feature/label count mismatch,
empty data, truncated or corrupted IDX and gzip files, ragged CSV rows. Each exits 2 with one message
that names the file (and the row where it applies), no traceback and no run directory. A batch size
larger than the data is allowed: full batch, said once."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from nncli.data.idx import write_idx

MODEL = """
seed: 0
dtype: float64
model:
  layers: [{units: 3, activation: tanh}, {units: %d, activation: %s}]
loss: %s
optimizer: {name: sgd, lr: 0.1}
train: {epochs: 2, batch_size: 4}
"""


def config(tmp_path: Path, data: str, outputs: int = 1, task: str = "classification") -> Path:
    activation, loss = (("sigmoid", "binary_crossentropy") if outputs == 1 else
                        ("softmax", "categorical_crossentropy"))
    if task == "regression":
        activation, loss = "linear", "mse"
    path = tmp_path / "c.yaml"
    path.write_text(f"data: {data}\n" + MODEL % (outputs, activation, loss))
    return path


def good_xy(n=12, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % 2


def train(run_cli, cfg, tmp_path, *extra):
    runs = tmp_path / "runs"
    r = run_cli("train", cfg, "--runs-dir", runs, "-q", *extra)
    return r, runs


def assert_refused(r, runs, *phrases):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr  # one message
    for phrase in phrases:
        assert phrase in r.stderr, (phrase, r.stderr)
    assert not runs.exists() or not any(runs.iterdir())  # no run directory


# -- npz ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, phrase", [(np.nan, "features contain NaN or infinite values (first at row 7)"),
                                         (np.inf, "features contain NaN or infinite values (first at row 7)"),
                                         (-np.inf, "(first at row 7)")])
def test_non_finite_features_name_the_file_and_row(run_cli, tmp_path, bad, phrase):
    X, y = good_xy()
    X[7, 1] = bad
    np.savez(tmp_path / "d.npz", X=X, y=y)
    r, runs = train(run_cli, config(tmp_path, f"{{name: npz, path: {tmp_path / 'd.npz'}}}"), tmp_path)
    assert_refused(r, runs, phrase, str(tmp_path / "d.npz"))


def test_non_finite_regression_targets_name_the_row(run_cli, tmp_path):
    X, _ = good_xy()
    y = np.linspace(0, 1, 12)
    y[4] = np.nan
    np.savez(tmp_path / "d.npz", X=X, y=y[:, None])
    cfg = config(tmp_path, f"{{name: npz, path: {tmp_path / 'd.npz'}, task: regression}}", task="regression")
    r, runs = train(run_cli, cfg, tmp_path)
    assert_refused(r, runs, "targets contain NaN or infinite values (first at row 4)", str(tmp_path / "d.npz"))


def test_feature_and_label_counts_must_match(run_cli, tmp_path):
    X, y = good_xy()
    np.savez(tmp_path / "d.npz", X=X, y=y[:-2])
    r, runs = train(run_cli, config(tmp_path, f"{{name: npz, path: {tmp_path / 'd.npz'}}}"), tmp_path)
    assert_refused(r, runs, "'X' has 12 rows but 'y' has 10; they must match", str(tmp_path / "d.npz"))


@pytest.mark.parametrize("task", ["auto", "classification"])
def test_an_empty_dataset_is_refused(run_cli, tmp_path, task):
    np.savez(tmp_path / "d.npz", X=np.zeros((0, 2)), y=np.zeros(0, dtype=np.int64))
    cfg = config(tmp_path, f"{{name: npz, path: {tmp_path / 'd.npz'}, task: {task}}}")
    r, runs = train(run_cli, cfg, tmp_path)
    assert r.exit_code == 2, r.output
    assert_refused(r, runs, str(tmp_path / "d.npz"))
    assert "no samples" in r.stderr or "at least 2 classes" in r.stderr


def test_a_truncated_npz_is_refused(run_cli, tmp_path):
    X, y = good_xy()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(data[: len(data) // 2])
    r, runs = train(run_cli, config(tmp_path, f"{{name: npz, path: {tmp_path / 'd.npz'}}}"), tmp_path)
    assert_refused(r, runs, "not a readable .npz file", str(tmp_path / "d.npz"))


# -- a batch larger than the data ------------------------------------------------------------------
def test_a_batch_larger_than_the_data_becomes_full_batch_said_once(run_cli, tmp_path):
    X, y = good_xy()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    cfg = config(tmp_path, f"{{name: npz, path: {tmp_path / 'd.npz'}}}")
    runs = tmp_path / "runs"
    r = run_cli("train", cfg, "train.batch_size=100", "train.epochs=5", "--runs-dir", runs)
    assert r.exit_code == 0, r.output
    assert r.stderr.count("train.batch_size=100 is larger than the 12 training samples: every step uses "
                          "the full batch of 12") == 1
    run = Path(r.stdout.strip())
    s = json.loads((run / "summary.json").read_text())
    assert s["steps"] == 5  # one step an epoch


# -- CSV ------------------------------------------------------------------------------------------
def test_a_ragged_csv_row_names_the_file_and_line(run_cli, tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,6\n7,8,1\n")
    r, runs = train(run_cli, config(tmp_path, f"{{name: csv, path: {tmp_path / 'd.csv'}}}"), tmp_path)
    assert_refused(r, runs, str(tmp_path / "d.csv"), "line 4 has 2 fields")


def test_a_nan_in_a_csv_is_refused_with_its_row(run_cli, tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,nan,0\n7,8,1\n")
    r, runs = train(run_cli, config(tmp_path, f"{{name: csv, path: {tmp_path / 'd.csv'}}}"), tmp_path)
    assert r.exit_code == 2, r.output
    assert_refused(r, runs, str(tmp_path / "d.csv"))
    assert "line 4" in r.stderr or "row 2" in r.stderr


def test_an_empty_csv_is_refused(run_cli, tmp_path):
    (tmp_path / "d.csv").write_text("a,b,label\n")
    r, runs = train(run_cli, config(tmp_path, f"{{name: csv, path: {tmp_path / 'd.csv'}}}"), tmp_path)
    assert_refused(r, runs, str(tmp_path / "d.csv"), "no data rows")


# -- IDX (MNIST format) ---------------------------------------------------------------------------
def idx_dir(path: Path, labels=None) -> Path:
    rng = np.random.default_rng(0)
    path.mkdir()
    write_idx(path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 4, 3), dtype=np.uint8))
    write_idx(path / "train-labels-idx1-ubyte.gz",
              labels if labels is not None else (np.arange(30) % 10).astype(np.uint8))
    write_idx(path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 4, 3), dtype=np.uint8))
    write_idx(path / "t10k-labels-idx1-ubyte.gz", (np.arange(10) % 10).astype(np.uint8))
    return path


def mnist_config(tmp_path, d):
    return config(tmp_path, f"{{name: mnist, path: {d}}}", outputs=10)


def test_idx_files_that_are_fine_train(run_cli, tmp_path):
    r, _ = train(run_cli, mnist_config(tmp_path, idx_dir(tmp_path / "m")), tmp_path)
    assert r.exit_code == 0, r.output


def test_idx_labels_out_of_range_name_the_file_and_index(run_cli, tmp_path):
    labels = (np.arange(30) % 10).astype(np.uint8)
    labels[13] = 12
    d = idx_dir(tmp_path / "m", labels)
    r, runs = train(run_cli, mnist_config(tmp_path, d), tmp_path)
    assert_refused(r, runs, str(d / "train-labels-idx1-ubyte.gz"), "index 13 = 12", "0-9")


def test_idx_label_count_mismatch(run_cli, tmp_path):
    d = idx_dir(tmp_path / "m", (np.arange(29) % 10).astype(np.uint8))
    r, runs = train(run_cli, mnist_config(tmp_path, d), tmp_path)
    assert_refused(r, runs, str(d / "train-labels-idx1-ubyte.gz"), "29 labels for 30 images")


@pytest.mark.parametrize("damage, phrase", [
    ("magic", "magic"),
    ("truncate", "train-images-idx3-ubyte.gz"),
    ("gzip", "train-images-idx3-ubyte.gz"),
])
def test_corrupted_idx_files_are_refused(run_cli, tmp_path, damage, phrase):
    d = idx_dir(tmp_path / "m")
    path = d / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    if damage == "magic":
        path.write_bytes(gzip.compress(b"\x12\x34" + raw[2:]))
    elif damage == "truncate":
        path.write_bytes(gzip.compress(raw[: len(raw) - 50]))
    else:
        data = path.read_bytes()
        path.write_bytes(data[:20] + b"\xff" * 16 + data[36:])
    r, runs = train(run_cli, mnist_config(tmp_path, d), tmp_path)
    assert_refused(r, runs, str(path), phrase)
