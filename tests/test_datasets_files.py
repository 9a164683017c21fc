"""Datasets read from files (nncli.data.files, nncli.data.images): csv and npz (good files and every malformed case) and the
MNIST-format datasets on tiny IDX fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nncli import config as config_mod
from nncli.config import Spec
from nncli.data import datasets
from nncli.data.idx import write_idx
from nncli.data.images import FASHION_MNIST_CLASSES, scale_images
from nncli.errors import ConfigError, DataError


def load(name: str, dtype="float32", seed=0, **options) -> datasets.Dataset:
    return datasets.load(Spec(name=name, **options), np.random.default_rng(seed), dtype)


def write(tmp_path: Path, text: str, name: str = "d.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- csv: good files ------------------------------------------------------------------------------
def test_csv_with_header_integer_target_is_classification(tmp_path):
    path = write(tmp_path, "a,b,label\n0.5,1,0\n-2,3e-1,1\n4,5,2\n1,1,1\n")
    ds = load("csv", path=path)
    assert ds.task == "classification" and ds.n_classes == 3
    assert ds.X.dtype == np.float32 and ds.X.shape == (4, 2)
    np.testing.assert_allclose(ds.X, [[0.5, 1], [-2, 0.3], [4, 5], [1, 1]], rtol=1e-7)
    np.testing.assert_array_equal(ds.y, [0, 1, 2, 1])
    assert ds.class_names == ["0", "1", "2"]
    assert ds.extra["columns"] == ["a", "b", "label"]


def test_csv_target_by_name_and_by_index_no_header_and_delimiter(tmp_path):
    by_name = load("csv", path=write(tmp_path, "y,x1,x2\n1,2,3\n0,5,6\n"), target="y")
    np.testing.assert_array_equal(by_name.y, [1, 0])
    np.testing.assert_array_equal(by_name.X, [[2, 3], [5, 6]])
    no_header = load("csv", path=write(tmp_path, "1;2;3\n0;5;6\n", "n.csv"), target=0, delimiter=";")
    np.testing.assert_array_equal(no_header.y, [1, 0])
    np.testing.assert_array_equal(no_header.X, [[2, 3], [5, 6]])
    forced = load("csv", path=write(tmp_path, "1,2,3\n4,5,6\n7,8,9\n", "f.csv"), header=True)  # first row as header
    assert forced.X.shape == (2, 2)


def test_csv_labels_are_mapped_to_0_k_and_text_labels_become_class_names(tmp_path):
    ds = load("csv", path=write(tmp_path, "x,y\n1,-1\n2,1\n3,-1\n"))
    np.testing.assert_array_equal(ds.y, [0, 1, 0])
    assert ds.class_names == ["-1", "1"]
    text = load("csv", path=write(tmp_path, "x,species\n1,setosa\n2,virginica\n3,setosa\n", "t.csv"))
    assert text.task == "classification" and text.class_names == ["setosa", "virginica"]
    np.testing.assert_array_equal(text.y, [0, 1, 0])


def test_csv_regression_automatic_and_forced(tmp_path):
    ds = load("csv", path=write(tmp_path, "x,y\n1,0.5\n2,1.25\n3,2\n"))
    assert ds.task == "regression" and ds.y.shape == (3, 1)
    np.testing.assert_allclose(ds.y[:, 0], [0.5, 1.25, 2])
    forced = load("csv", path=write(tmp_path, "x,y\n1,0\n2,1\n3,2\n", "r.csv"), task="regression")
    assert forced.task == "regression"
    np.testing.assert_allclose(forced.y[:, 0], [0, 1, 2])


def test_csv_test_path_uses_the_training_classes(tmp_path):
    train = write(tmp_path, "x,c\n1,a\n2,b\n3,a\n")
    test = write(tmp_path, "x,c\n5,b\n6,a\n", "test.csv")
    ds = load("csv", path=train, test_path=test)
    np.testing.assert_array_equal(ds.y_test, [1, 0])
    np.testing.assert_array_equal(ds.X_test, [[5], [6]])


def test_csv_dataset_trains_end_to_end(run_cli, tmp_path, write_config):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    lines = ["u,v,cls"] + [f"{a:.4f},{b:.4f},{int(a + b > 0)}" for a, b in X]
    path = write(tmp_path, "\n".join(lines) + "\n")
    cfg = write_config(f"data: {{name: csv, path: {path}, target: cls}}\n"
                       "model: {layers: [{units: 4, activation: tanh}, {units: 2, activation: softmax}]}\n"
                       "loss: categorical_crossentropy\noptimizer: {name: adam, lr: 0.05}\n"
                       "train: {epochs: 60, batch_size: 16}\n")
    result = run_cli("train", cfg, "--out", tmp_path / "run", "--quiet", "--json")
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads(result.stdout)
    assert summary["evaluation"]["train"]["accuracy"] >= 0.9


# -- csv: malformed -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, options, expected", [
    ("", {}, "the file is empty"),
    ("\n\n", {}, "the file is empty"),
    ("a,b,c\n", {}, "header but no data rows"),
    ("a,b,c\n1,2,3\n4,5\n", {}, "line 3 has 2 fields but the header has 3"),
    ("1,2,3\n4,5,6,7\n", {}, "line 2 has 4 fields but the first row has 3"),
    ("a,b,c\n1,2,3\n4,x,6\n", {}, "line 3, column 'b' has 'x'; features must be numbers"),
    ("a,b,c\n1,2,3\n4,,6\n", {}, "line 3, column 'b' is empty (a missing value)"),
    ("a,b,c\n1,2,3\n4,5,\n", {}, "line 3 has an empty target ('c')"),
    ("a,b,label\n1,2,3\n", {"target": "lable"}, "no column named 'lable'; did you mean 'label'?"),
    ("1,2,3\n4,5,6\n", {"target": "label"}, "the file has no header"),
    ("1,2,3\n4,5,6\n", {"target": 5}, "target column 5 does not exist: the file has 3 columns"),
    ("1;2;3\n4;5;6\n", {}, "the file has 1 column; expected features and a target column"),
    ("x,y\n1,0.5\n2,1.5\n", {"task": "classification"}, "the target of sample 0 is 0.5, not an integer class label"),
    ("x,y\n1,a\n2,b\n", {"task": "regression"}, "task is regression but the target column holds text"),
    ("x,y\n1,3\n2,3\n", {"task": "classification"}, "at least 2 classes, but every target is 3"),
])
def test_csv_malformed_files_name_file_and_line(tmp_path, text, options, expected):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as e:
        load("csv", path=path, **options)
    assert expected in str(e.value)
    assert str(e.value).startswith(path)


def test_csv_missing_file_directory_and_binary(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load("csv", path=str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="is a directory"):
        load("csv", path=str(tmp_path))
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(DataError, match="is not UTF-8 text"):
        load("csv", path=str(binary))


def test_csv_test_file_with_an_unknown_class_or_other_width(tmp_path):
    train = write(tmp_path, "x,c\n1,a\n2,b\n")
    with pytest.raises(DataError, match="row 1 has class 'z', which the training data does not have"):
        load("csv", path=train, test_path=write(tmp_path, "x,c\n1,a\n2,z\n", "t.csv"))
    with pytest.raises(DataError, match="the test set has 2 features but the training set has 1"):
        load("csv", path=train, test_path=write(tmp_path, "x,w,c\n1,2,a\n", "u.csv"))


def test_csv_unknown_option_is_a_config_error_with_the_closest_key(write_config):
    cfg = write_config("data: {name: csv, path: d.csv, targte: y}\n"
                       "model: {layers: [{units: 2, activation: softmax}]}\n"
                       "loss: categorical_crossentropy\noptimizer: {lr: 0.1}\ntrain: {epochs: 1}\n")
    with pytest.raises(ConfigError, match=r"data\.targte: unknown key; did you mean 'target'\?"):
        config_mod.load(cfg)


# -- npz ------------------------------------------------------------------------------------------
def test_npz_classification_images_are_flattened_and_test_set_used(tmp_path):
    path = tmp_path / "d.npz"
    X = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    np.savez(path, X=X, y=np.array([3, 5, 3, 5, 5]), X_test=X[:2], y_test=np.array([5, 3]))
    ds = load("npz", path=str(path))
    assert ds.task == "classification" and ds.n_classes == 2 and ds.class_names == ["3", "5"]
    assert ds.X.shape == (5, 6) and ds.X.dtype == np.float32
    np.testing.assert_array_equal(ds.X[1], np.arange(6, 12))
    np.testing.assert_array_equal(ds.y, [0, 1, 0, 1, 1])
    np.testing.assert_array_equal(ds.y_test, [1, 0])


def test_npz_custom_keys_and_regression(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, features=np.ones((4, 3)), targets=np.arange(8.0).reshape(4, 2))
    ds = load("npz", path=str(path), x="features", y="targets", dtype="float64")
    assert ds.task == "regression" and ds.y.shape == (4, 2) and ds.X.dtype == np.float64
    one = tmp_path / "one.npz"
    np.savez(one, X=np.ones((3, 1)), y=np.array([0.1, 0.2, 0.3]))
    reg = load("npz", path=str(one))
    assert reg.task == "regression" and reg.y.shape == (3, 1)
    forced = tmp_path / "forced.npz"
    np.savez(forced, X=np.ones((3, 1)), y=np.array([0, 1, 1]))
    assert load("npz", path=str(forced), task="regression").task == "regression"


@pytest.mark.parametrize("arrays, options, expected", [
    ({"X": np.ones((3, 2))}, {}, "has no array 'y' (set data.y); it holds X"),
    ({"X": np.ones((3, 2)), "label": np.zeros(3)}, {"y": "lable"}, "did you mean 'label'?"),
    ({"X": np.array(["a", "b"]), "y": np.zeros(2)}, {}, "array 'X' must be numeric with one row per sample"),
    ({"X": np.ones(3), "y": np.zeros(3)}, {}, "array 'X' must be numeric with one row per sample (N, d)"),
    ({"X": np.ones((3, 2)), "y": np.zeros((3, 1, 1))}, {}, "array 'y' must be numeric of shape (N,) or (N, k)"),
    ({"X": np.ones((3, 2)), "y": np.zeros(4)}, {}, "'X' has 3 rows but 'y' has 4"),
    ({"X": np.ones((3, 2)), "y": np.zeros((3, 2))}, {"task": "classification"}, "give class labels of shape"),
    ({"X": np.ones((3, 2)), "y": np.zeros(3), "X_test": np.ones((2, 2))}, {}, "has no array 'y_test'"),
    ({"X": np.ones((3, 2)), "y": np.array([0, 1, 0]), "X_test": np.ones((2, 5)), "y_test": np.zeros(2)}, {},
     "the test set has 5 features but the training set has 2"),
    ({"X": np.array([[1.0], [np.nan]]), "y": np.array([0, 1])}, {}, "NaN or infinite values (first at row 1)"),
])
def test_npz_malformed_arrays(tmp_path, arrays, options, expected):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as e:
        load("npz", path=str(path), **options)
    assert expected in str(e.value)
    assert str(path) in str(e.value)


def test_npz_pickled_objects_missing_and_damaged_files(tmp_path):
    obj = tmp_path / "obj.npz"
    np.savez(obj, X=np.array([{"a": 1}, None], dtype=object), y=np.zeros(2))
    with pytest.raises(DataError, match="refused: it holds pickled Python objects"):
        load("npz", path=str(obj))
    with pytest.raises(DataError, match="no such file"):
        load("npz", path=str(tmp_path / "none.npz"))
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataError, match="not a readable .npz file"):
        load("npz", path=str(junk))
    npy = tmp_path / "single.npz"
    with open(npy, "wb") as f:
        np.save(f, np.ones((2, 2)))
    with pytest.raises(DataError, match="single .npy array, not an .npz archive"):
        load("npz", path=str(npy))


# -- MNIST-format datasets on tiny IDX files -----------------------------------------------------
def make_idx_dir(path: Path, n_train=50, n_test=20, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    write_idx(path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 4, 3), dtype=np.uint8))
    write_idx(path / "train-labels-idx1-ubyte.gz", (np.arange(n_train) % 10).astype(np.uint8))
    write_idx(path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 4, 3), dtype=np.uint8))
    write_idx(path / "t10k-labels-idx1-ubyte.gz", (np.arange(n_test) % 10).astype(np.uint8))
    return path


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mnist_format_scaled_to_unit_interval_with_its_own_test_set(tmp_path, dtype):
    d = make_idx_dir(tmp_path / "fm")
    ds = load("fashion-mnist", dtype=dtype, path=str(d))
    assert ds.X.shape == (50, 12) and ds.X.dtype == np.dtype(dtype)
    assert ds.X_test.shape == (20, 12) and ds.y_test.shape == (20,)
    assert 0.0 <= ds.X.min() and ds.X.max() <= 1.0
    from nncli.data.idx import read_idx

    raw = read_idx(d / "train-images-idx3-ubyte.gz").reshape(50, -1)
    np.testing.assert_array_equal(ds.X, raw.astype(dtype) / np.dtype(dtype).type(255))
    np.testing.assert_array_equal(ds.y, np.arange(50) % 10)
    assert ds.class_names == FASHION_MNIST_CLASSES and ds.n_classes == 10
    assert ds.source == str(d)


def test_mnist_format_limit_is_a_seeded_subset(tmp_path):
    d = make_idx_dir(tmp_path / "m")
    a = load("mnist", path=str(d), limit=10, seed=1)
    b = load("mnist", path=str(d), limit=10, seed=1)
    c = load("mnist", path=str(d), limit=10, seed=2)
    assert a.X.shape == (10, 12) and a.X_test.shape == (20, 12)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    full = load("mnist", path=str(d))
    rows = {r.tobytes() for r in full.X}
    assert all(r.tobytes() in rows for r in a.X)  # a subset of the training rows
    assert load("mnist", path=str(d), limit=500).X.shape == (50, 12)  # larger than the data: all of it


def test_mnist_format_missing_files_say_where_it_looked_and_how_to_get_them(tmp_path, monkeypatch):
    with pytest.raises(DataError) as e:
        load("mnist", path=str(tmp_path / "empty"))
    assert f"looked in: {tmp_path / 'empty'} (no such directory)" in str(e.value)
    monkeypatch.setenv("NNCLI_DATA", str(tmp_path))
    with pytest.raises(DataError) as e:
        load("mnist")
    assert "nncli data fetch mnist" in str(e.value)


def test_scale_images_is_one_allocation_in_the_training_dtype():
    images = np.array([[[0, 255], [51, 1]]], dtype=np.uint8)
    X = scale_images(images, np.float32)
    assert X.dtype == np.float32 and X.shape == (1, 4) and X.flags.owndata
    np.testing.assert_array_equal(X, np.float32([[0, 1, 0.2, 1 / 255]]))
