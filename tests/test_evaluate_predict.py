"""`nncli evaluate` and `nncli predict` on trained runs (tiny MNIST-format fixture, CSV, regression)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from nncli import run as run_mod
from nncli import evaluation
from nncli.data.idx import read_idx, write_idx
from test_datasets_files import make_idx_dir

MNIST_LIKE = """seed: 0
data: {{name: mnist, path: {path}}}
model: {{layers: [{{units: 16, activation: relu}}, {{units: 10, activation: softmax}}]}}
loss: categorical_crossentropy
optimizer: {{name: adam, lr: 0.01}}
train: {{epochs: 3, batch_size: 16, validation_split: 0.2}}
"""


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    """A run trained 3 epochs on a 50-image MNIST-format fixture (validation split 0.2, 20 test images)."""
    from typer.testing import CliRunner

    from nncli.cli import app

    base = tmp_path_factory.mktemp("mnist-run")
    data = make_idx_dir(base / "data")
    cfg = base / "c.yaml"
    cfg.write_text(MNIST_LIKE.format(path=data))
    r = CliRunner().invoke(app, ["train", str(cfg), "--out", str(base / "run"), "--quiet"])
    assert r.exit_code == 0, r.output
    return base / "run", data


def test_evaluate_test_set_matches_the_training_summary(run_cli, mnist_run):
    run, _ = mnist_run
    r = run_cli("evaluate", run, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    summary = json.loads((run / "summary.json").read_text())
    assert d["split"] == "test" and d["samples"] == 20
    assert d["loss"] == pytest.approx(summary["evaluation"]["test"]["loss"], rel=1e-6)
    assert d["accuracy"] == pytest.approx(summary["evaluation"]["test"]["accuracy"])
    cm = np.array(d["confusion"])
    assert cm.shape == (10, 10) and cm.sum() == 20 and cm.sum(axis=1).tolist() == [2] * 10
    assert np.trace(cm) / 20 == pytest.approx(d["accuracy"])
    assert [c["support"] for c in d["per_class"]] == [2] * 10


def test_evaluate_validation_split_is_recomputed_exactly(run_cli, mnist_run):
    run, _ = mnist_run
    d = json.loads(run_cli("evaluate", run, "--split", "val", "--json").stdout)
    summary = json.loads((run / "summary.json").read_text())
    assert d["samples"] == summary["dataset"]["val"] == 10
    assert d["loss"] == pytest.approx(summary["evaluation"]["val"]["loss"], rel=1e-6)
    train = json.loads(run_cli("evaluate", run, "--split", "train", "--json").stdout)
    assert train["samples"] == 40
    assert train["loss"] == pytest.approx(summary["evaluation"]["train"]["loss"], rel=1e-6)


def test_evaluate_text_output_has_the_confusion_matrix(run_cli, mnist_run):
    run, _ = mnist_run
    r = run_cli("evaluate", run)
    assert r.exit_code == 0
    assert "mnist test set, 20 samples: loss" in r.stdout
    assert "confusion matrix (rows: true class, columns: predicted)" in r.stdout
    assert "recall" in r.stdout


def test_evaluate_on_other_data_via_overrides(run_cli, mnist_run, tmp_path):
    run, _ = mnist_run
    other = make_idx_dir(tmp_path / "other", n_train=30, n_test=10, seed=5)
    d = json.loads(run_cli("evaluate", run, "--data", f"path={other}", "--json").stdout)
    assert d["split"] == "test" and d["samples"] == 10
    whole = json.loads(run_cli("evaluate", run, "--data", str(other), "--split", "all", "--json").stdout)
    assert whole["split"] == "all" and whole["samples"] == 30


@pytest.mark.parametrize("args, expected", [
    (["--split", "bogus"], "unknown split 'bogus'"),
    (["--data", "notafile.txt"], "neither KEY=VALUE nor a .csv/.npz file"),
    (["--data", "limt=3"], "data.limt: unknown key; did you mean 'limit'?"),
    (["--data", "path=/nonexistent-dir"], "/nonexistent-dir (no such directory)"),
])
def test_evaluate_bad_input_exit_2(run_cli, mnist_run, args, expected):
    run, _ = mnist_run
    r = run_cli("evaluate", run, *args)
    assert r.exit_code == 2, r.output
    assert expected in " ".join(r.stderr.split())


def test_evaluate_a_directory_that_is_not_a_run(run_cli, tmp_path):
    r = run_cli("evaluate", tmp_path)
    assert r.exit_code == 2 and "not a run directory" in r.stderr


def test_predict_idx_images_scaled_like_training(run_cli, mnist_run, tmp_path):
    run, data = mnist_run
    loaded = run_mod.load_run(run)
    images = read_idx(data / "t10k-images-idx3-ubyte")
    r = run_cli("predict", run, data / "t10k-images-idx3-ubyte")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["class", "name"] + [f"p{i}" for i in range(10)]
    assert len(rows) == 21
    expected = loaded.network.forward(images.reshape(20, -1).astype(np.float32) / np.float32(255))
    assert [int(r[0]) for r in rows[1:]] == expected.argmax(axis=1).tolist()
    assert [r[1] for r in rows[1:]] == [str(c) for c in expected.argmax(axis=1)]
    np.testing.assert_allclose(np.array([r[2:] for r in rows[1:]], float), expected, rtol=1e-5, atol=1e-7)
    # the same images as .npy (uint8, scaled the same way) and as .npz, written to .npy and .csv files
    np.save(tmp_path / "x.npy", images)
    np.savez(tmp_path / "x.npz", X=images.reshape(20, -1))
    for source in ("x.npy", "x.npz"):
        out = tmp_path / f"{source}.pred.npy"
        r = run_cli("predict", run, tmp_path / source, "--out", out)
        assert r.exit_code == 0, r.output
        assert "20 predictions written to" in r.stderr
        np.testing.assert_array_equal(np.load(out), expected.argmax(axis=1))
    out_csv = tmp_path / "p.csv"
    assert run_cli("predict", run, data / "t10k-images-idx3-ubyte", "-o", out_csv).exit_code == 0
    assert out_csv.read_text().splitlines()[0] == "class,name," + ",".join(f"p{i}" for i in range(10))
    assert len(out_csv.read_text().splitlines()) == 21


@pytest.mark.parametrize("name, make, expected", [
    ("x.csv", lambda p: p.write_text("1,2\n3,4\n"),
     "inputs have 2 features per sample but the network of this run takes 12"),
    ("x.npy", lambda p: np.save(p, np.ones((3, 5))), "inputs have 5 features"),
    ("x.npy", lambda p: np.save(p, np.array(["a", "b"])), "must be numeric with one row per sample"),
    ("x.npy", lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "not a valid .npy file: refused: it holds pickled Python objects"),
    ("x.npz", lambda p: np.savez(p, A=np.ones((2, 12)), B=np.ones((2, 12))), "has no array 'X' (it holds A, B)"),
    ("x.idx", lambda p: p.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc"), "truncated"),
    ("x.idx", lambda p: write_idx(p, np.arange(5, dtype=np.uint8)), "holds a 1-D array of shape (5,) (labels?)"),
    ("x.npy", lambda p: np.save(p, np.full((2, 12), np.nan)), "NaN or infinite values (first at row 0)"),
    ("x.csv", lambda p: p.write_text(",".join("abcdefghijkl") + "\n" + ",".join(["1"] * 11 + ["x"]) + "\n"),
     "line 2, column 'l' has 'x'"),
])
def test_predict_bad_inputs_exit_2(run_cli, mnist_run, tmp_path, name, make, expected):
    run, _ = mnist_run
    path = tmp_path / name
    make(path)
    r = run_cli("predict", run, path)
    assert r.exit_code == 2, r.output
    assert expected in " ".join(r.stderr.split())
    assert "Traceback" not in r.output


def test_predict_output_suffix_and_missing_input(run_cli, mnist_run, tmp_path):
    run, data = mnist_run
    r = run_cli("predict", run, data / "t10k-images-idx3-ubyte", "--out", tmp_path / "p.txt")
    assert r.exit_code == 2 and "name the output FILE.csv or FILE.npy" in r.stderr
    r = run_cli("predict", run, tmp_path / "missing.npy")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_csv_run_predicts_class_names_and_drops_the_target_column(run_cli, tmp_path, write_config):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    lines = ["u,v,kind"] + [f"{a:.4f},{b:.4f},{'yes' if a > 0 else 'no'}" for a, b in X]
    data = tmp_path / "d.csv"
    data.write_text("\n".join(lines) + "\n")
    cfg = write_config(f"data: {{name: csv, path: {data}, target: kind}}\n"
                       "model: {layers: [{units: 2, activation: softmax}]}\n"
                       "loss: categorical_crossentropy\noptimizer: {name: adam, lr: 0.1}\n"
                       "train: {epochs: 80, batch_size: 16}\n")
    assert run_cli("train", cfg, "--out", tmp_path / "run", "-q").exit_code == 0
    r = run_cli("predict", tmp_path / "run", data)  # the training file itself: target column dropped
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 80
    truth = ["yes" if a > 0 else "no" for a, _ in X]
    assert np.mean([row["name"] == t for row, t in zip(rows, truth)]) >= 0.95
    features = tmp_path / "f.csv"
    features.write_text("u,v\n2,0\n-2,0\n")
    rows = list(csv.DictReader(io.StringIO(run_cli("predict", tmp_path / "run", features).stdout)))
    assert [row["name"] for row in rows] == ["yes", "no"]
    ev = json.loads(run_cli("evaluate", tmp_path / "run", "--json").stdout)
    assert ev["split"] == "train" and ev["class_names"] == ["no", "yes"] and ev["accuracy"] >= 0.95


def test_regression_run_predicts_outputs(run_cli, tmp_path, write_config):
    path = tmp_path / "r.npz"
    X = np.linspace(-1, 1, 40)[:, None]
    np.savez(path, X=X, y=np.hstack([2 * X, -X]))
    cfg = write_config(f"data: {{name: npz, path: {path}}}\ndtype: float64\n"
                       "model: {layers: [{units: 2, activation: linear}]}\n"
                       "loss: mse\noptimizer: {name: sgd, lr: 0.5}\ntrain: {epochs: 300}\n")
    assert run_cli("train", cfg, "--out", tmp_path / "run", "-q").exit_code == 0
    np.save(tmp_path / "in.npy", np.array([[0.5], [-0.25]]))
    r = run_cli("predict", tmp_path / "run", tmp_path / "in.npy")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["y0", "y1"]
    np.testing.assert_allclose(np.array(rows[1:], float), [[1.0, -0.5], [-0.5, 0.25]], atol=1e-3)
    ev = json.loads(run_cli("evaluate", tmp_path / "run", "--json").stdout)
    assert "accuracy" not in ev and ev["loss"] < 1e-6


def test_evaluation_library_confusion_matrix():
    cm = evaluation.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_one_sigmoid_unit_predicts_both_class_probabilities(run_cli, tmp_path):
    """XOR's single sigmoid output is P(class 1): predict lists p0 = 1 - y and p1 = y."""
    xor = Path(__file__).resolve().parents[1] / "configs" / "xor.yaml"
    assert run_cli("train", xor, "--out", tmp_path / "run", "-q").exit_code == 0
    np.save(tmp_path / "in.npy", np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]))
    r = run_cli("predict", tmp_path / "run", tmp_path / "in.npy")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["class", "p0", "p1"]
    values = np.array(rows[1:], float)
    assert values[:, 0].tolist() == [0, 1, 1, 0]
    np.testing.assert_allclose(values[:, 1] + values[:, 2], 1.0, atol=1e-5)
    net = run_mod.load_run(tmp_path / "run").network
    np.testing.assert_allclose(values[:, 2], net.forward(np.load(tmp_path / "in.npy"))[:, 0], rtol=1e-5)


def test_other_data_files_are_labelled_by_the_runs_classes(tmp_path):
    """A file with only some of a run's classes (one class, or two rows) is evaluated on the run's
    classes: the same rows give the same accuracy as the run's own predictions, and no split is made."""
    import nncli

    run = nncli.train(Path(__file__).resolve().parent.parent / "configs" / "spiral.yaml", {"train.epochs": 3},
                      out=tmp_path / "run")
    d = run.data()
    X, y = d.val.X, d.val.y
    for name, rows in (("two", y > 0), ("one", y == 2), ("tiny", np.arange(len(y)) < 2)):
        path = tmp_path / f"{name}.csv"
        np.savetxt(path, np.c_[X[rows], y[rows]], delimiter=",", fmt="%.9g")
        ev = run.evaluate(data=[str(path)])
        expected = np.mean(run.predict_classes(X[rows].astype(np.float32)) == y[rows])
        assert ev.split == "all" and ev.samples == int(rows.sum()) and ev.confusion.shape == (3, 3), name
        assert ev.accuracy == pytest.approx(expected, abs=1e-12), name
        assert ev.confusion.sum(axis=1)[0] == int((y[rows] == 0).sum()), name
