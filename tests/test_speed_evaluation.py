"""When the test set is evaluated: validation every epoch; the test set only in the last epoch (planned,
or the one early stopping ends), every train.test_every epochs, or every epoch when early stopping
monitors a test metric. metrics.csv keeps its columns, empty where a set was not evaluated; evaluation in
reused arrays gives the numbers of a plain forward pass."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from nncli.data.splits import Split
from nncli.metrics import evaluate
from nncli.nn.losses import LOSSES
from nncli.nn.network import Network

CONFIG = """\
seed: 1
data: {{name: npz, path: {path}}}
model:
  layers:
    - {{units: 6, activation: relu}}
    - {{units: 3, activation: softmax}}
loss: categorical_crossentropy
optimizer: {{name: sgd, lr: 0.1}}
train:
  epochs: 5
  batch_size: 16
  validation_split: 0.25
"""


@pytest.fixture
def config(tmp_path, write_config):
    rng = np.random.default_rng(0)
    X, X_test = rng.normal(size=(60, 4)), rng.normal(size=(30, 4))
    label = lambda A: (A[:, 0] > 0).astype(int) + (A[:, 1] > 0.5).astype(int)  # noqa: E731
    np.savez(tmp_path / "d.npz", X=X, y=label(X), X_test=X_test, y_test=label(X_test))
    return write_config(CONFIG.format(path=tmp_path / "d.npz"))


def rows(run) -> tuple[list[str], list[dict[str, str]]]:
    with open(run / "metrics.csv", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def train(run_cli, config, tmp_path, name, *overrides):
    r = run_cli("train", config, "--out", tmp_path / name, "--quiet", *overrides)
    assert r.exit_code == 0, r.output
    return tmp_path / name


def evaluated_test_epochs(run) -> list[int]:
    columns, table = rows(run)
    assert columns == ["epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy", "test_loss",
                       "test_accuracy", "lr", "seconds"]
    assert all(r["val_loss"] and r["val_accuracy"] for r in table)  # validation: every epoch
    assert all(bool(r["test_loss"]) == bool(r["test_accuracy"]) for r in table)
    return [int(r["epoch"]) for r in table if r["test_loss"]]


def test_the_test_set_is_evaluated_at_the_end_by_default(run_cli, config, tmp_path):
    run = train(run_cli, config, tmp_path, "default")
    assert evaluated_test_epochs(run) == [5]
    s = json.loads((run / "summary.json").read_text())
    last = rows(run)[1][-1]
    assert s["final"]["test_loss"] == float(last["test_loss"])
    assert s["final"]["test_accuracy"] == pytest.approx(s["evaluation"]["test"]["accuracy"])
    assert s["final"]["test_loss"] == pytest.approx(s["evaluation"]["test"]["loss"], rel=1e-12)


def test_test_every_logs_it_every_n_epochs_and_at_the_end(run_cli, config, tmp_path):
    assert evaluated_test_epochs(train(run_cli, config, tmp_path, "every2", "train.test_every=2")) == [2, 4, 5]
    every1 = train(run_cli, config, tmp_path, "every1", "train.test_every=1")
    assert evaluated_test_epochs(every1) == [1, 2, 3, 4, 5]
    # evaluating the test set does not change training: the same weights and training metrics
    default = train(run_cli, config, tmp_path, "default")
    for a, b in zip(rows(default)[1], rows(every1)[1]):
        assert a["loss"] == b["loss"] and a["val_loss"] == b["val_loss"]
    with np.load(default / "weights.npz") as wa, np.load(every1 / "weights.npz") as wb:
        assert all(np.array_equal(wa[k], wb[k]) for k in wa.files)


def test_early_stopping_evaluates_the_test_set_in_its_last_epoch(run_cli, config, tmp_path):
    # an improvement must beat the best by 100: none does, so epoch 1 stays best and epoch 3 stops
    es = "train.early_stopping={patience: 2, min_delta: 100}"
    run = train(run_cli, config, tmp_path, "es", es)
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "early_stopped" and s["epochs"] == 3
    assert evaluated_test_epochs(run) == [3]
    run = train(run_cli, config, tmp_path, "es_test", "train.early_stopping={patience: 2, monitor: test_loss}")
    assert evaluated_test_epochs(run) == list(range(1, json.loads((run / "summary.json").read_text())["epochs"] + 1))


def test_test_every_must_be_a_whole_number_of_epochs(run_cli, config, tmp_path):
    for bad in ("train.test_every=-1", "train.test_every=1.5", "train.test_every=often"):
        r = run_cli("train", config, "--out", tmp_path / "bad", bad)
        assert r.exit_code == 2 and "train.test_every" in r.stderr and "Traceback" not in r.stderr, bad
        assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_evaluation_in_reused_chunks_equals_one_plain_forward_pass(dtype):
    rng = np.random.default_rng(3)
    net = Network.from_arrays([(rng.normal(size=(4, 7)).astype(dtype), rng.normal(size=7).astype(dtype)),
                               (rng.normal(size=(7, 3)).astype(dtype), rng.normal(size=3).astype(dtype))],
                              ["tanh", "softmax"])
    y = rng.integers(0, 3, 2500)
    split = Split(rng.normal(size=(2500, 4)).astype(dtype), np.eye(3, dtype=dtype)[y], y)
    loss = LOSSES.get("categorical_crossentropy")()
    got = evaluate(net, split, loss)  # chunks of 1024, 1024 and 452 rows in one workspace
    Y = net.forward(split.X)
    assert got["accuracy"] == np.mean(Y.argmax(axis=1) == y)
    Zs, _ = net.forward_all(split.X)
    assert got["loss"] == pytest.approx(loss.fused_value(Zs[-1], split.T), rel=1e-5 if dtype == np.float32 else 1e-12)
    # inputs of another dtype are evaluated in the network's dtype
    other = Split(split.X.astype(np.float64 if dtype == np.float32 else np.float32), split.T, y)
    assert evaluate(net, other, loss)["accuracy"] == pytest.approx(got["accuracy"], abs=2 / 2500)
