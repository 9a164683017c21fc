"""The training loop on mini-batches: the last partial batch, seeded per-epoch shuffling, early stopping
restoring the best weights, the lr of each epoch in metrics.csv, the stratified seeded validation split,
and no per-epoch copy of the training set."""

from __future__ import annotations

import csv
import tracemalloc

import numpy as np
import pytest

from nncli import config as config_mod
from nncli.data.splits import split_validation
from nncli.nn.activations import ACTIVATIONS
from nncli.nn.losses import LOSSES
from nncli.nn.network import Dense, Network
from nncli.nn.optimizers import OPTIMIZERS
from nncli.nn.schedules import SCHEDULES
from nncli.trainer import Split, TrainData, Trainer


def make_cfg(**train) -> config_mod.Config:
    return config_mod.validate({
        "seed": 0, "dtype": "float64", "data": "xor",
        "model": {"layers": [{"units": 3, "activation": "tanh"}, {"units": 2, "activation": "softmax"}]},
        "loss": "categorical_crossentropy", "optimizer": {"name": "sgd", "lr": 0.5},
        "train": {"epochs": 1, **train}})


def make_net(n_in=2, seed=0) -> Network:
    rng = np.random.default_rng(seed)
    return Network([Dense(rng.normal(0, 0.5, (n_in, 3)), np.zeros(3), ACTIVATIONS.get("tanh")()),
                    Dense(rng.normal(0, 0.5, (3, 2)), np.zeros(2), ACTIVATIONS.get("softmax")())])


def make_data(n=10, seed=1, n_in=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    y = (X[:, 0] > 0).astype(np.int64)
    T = np.eye(2)[y]
    return X, T, y


def trainer(net, cfg, seed=0, lr=0.5):
    return Trainer(net, cfg, LOSSES.get("cce")(), OPTIMIZERS.get("sgd")(), SCHEDULES.get("constant")(lr, 100),
                   np.random.default_rng(seed))


def test_last_partial_batch_is_a_step_on_the_remaining_rows():
    X, T, y = make_data(10)
    cfg = make_cfg(batch_size=4, shuffle=False, epochs=1)
    net = make_net()
    by_hand = make_net()
    result = trainer(net, cfg).fit(TrainData(Split(X, T, y)))
    assert result.state.step == 3  # 4 + 4 + 2 rows
    loss = LOSSES.get("cce")()
    losses = []
    for lo, hi in ((0, 4), (4, 8), (8, 10)):
        value, grads = by_hand.loss_and_gradients(X[lo:hi], T[lo:hi], loss)
        losses.append(value * (hi - lo))
        for p, g in zip(by_hand.parameters(), grads):
            p -= 0.5 * g
    for a, b in zip(net.parameters(), by_hand.parameters()):
        np.testing.assert_array_equal(a, b)
    assert result.state.rows[0]["loss"] == pytest.approx(sum(losses) / 10, rel=1e-12)


def test_shuffling_is_seeded_and_changes_every_epoch():
    X, T, y = make_data(40)
    cfg = make_cfg(batch_size=8, epochs=3)
    orders = []

    class Record:
        def __init__(self, state):
            self.state = state

        def on_batch(self, *a):
            pass

        def on_epoch(self, row):
            orders.append(self.state.perm.copy())

    from nncli.trainer import State

    state = State()
    t = trainer(make_net(), cfg, seed=7)
    t.fit(TrainData(Split(X, T, y)), Record(state), state=state)
    assert len(orders) == 3
    assert all(sorted(o) == list(range(40)) for o in orders)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    same, other = make_net(), make_net()
    trainer(same, cfg, seed=7).fit(TrainData(Split(X, T, y)))
    trainer(other, cfg, seed=8).fit(TrainData(Split(X, T, y)))
    for a, b in zip(same.parameters(), t.net.parameters()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(other.parameters(), same.parameters()))


def test_early_stopping_restores_the_best_weights():
    """Validation labels are the opposite of the training labels: val_loss gets worse as training fits."""
    X, T, y = make_data(40)
    cfg = make_cfg(batch_size=10, epochs=50,
                   early_stopping={"monitor": "val_loss", "patience": 3, "restore_best": True})
    net = make_net()
    val = Split(X, T[:, ::-1].copy(), 1 - y)
    snapshots = {}

    class Keep:
        def on_batch(self, *a):
            pass

        def on_epoch(self, row):
            snapshots[row["epoch"]] = [p.copy() for p in net.parameters()]

    result = trainer(net, cfg).fit(TrainData(Split(X, T, y), val), Keep())
    assert result.status == "early_stopped"
    best = result.state.best["epoch"]
    assert result.state.epoch == best + 3
    vals = [r["val_loss"] for r in result.state.rows]
    assert vals[best - 1] == min(vals)
    for a, b in zip(net.parameters(), snapshots[best]):
        np.testing.assert_array_equal(a, b)
    keep_last = make_net()
    cfg_last = make_cfg(batch_size=10, epochs=50,
                        early_stopping={"monitor": "val_loss", "patience": 3, "restore_best": False})
    trainer(keep_last, cfg_last).fit(TrainData(Split(X, T, y), val))
    for a, b in zip(keep_last.parameters(), snapshots[best + 3]):
        np.testing.assert_array_equal(a, b)


def test_lr_of_every_epoch_is_logged_in_metrics_csv(run_cli, tmp_path, write_config):
    cfg = write_config("data: xor\nmodel: {layers: [{units: 2, activation: tanh}, {units: 1, activation: sigmoid}]}\n"
                       "loss: binary_crossentropy\n"
                       "optimizer: {name: adam, lr: 0.1, schedule: {name: step, step_size: 2, gamma: 0.5, warmup: 1}}\n"
                       "train: {epochs: 6}\n")
    r = run_cli("train", cfg, "--out", tmp_path / "run", "-q")
    assert r.exit_code == 0, r.output
    with open(tmp_path / "run" / "metrics.csv") as f:
        lrs = [float(row["lr"]) for row in csv.DictReader(f)]
    # warm-up epoch 1: 0.1 * 1/2; then step: 0.1, 0.1, 0.05, 0.05, 0.025
    assert lrs == pytest.approx([0.05, 0.1, 0.1, 0.05, 0.05, 0.025])


def test_validation_split_is_stratified_seeded_and_shuffled():
    y = np.repeat([0, 1, 2], [50, 30, 20])  # sorted by class: the last rows are all class 2
    X = np.arange(100.0)[:, None]
    tr, va = split_validation(X, y, 0.2, np.random.default_rng(3), stratify=True)
    assert np.bincount(y[va]).tolist() == [10, 6, 4]
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 100
    tr2, va2 = split_validation(X, y, 0.2, np.random.default_rng(3), stratify=True)
    np.testing.assert_array_equal(va, va2)
    _, va3 = split_validation(X, y, 0.2, np.random.default_rng(4), stratify=True)
    assert not np.array_equal(va, va3)
    assert not np.array_equal(va, np.arange(80, 100))  # never silently the last rows
    _, plain = split_validation(X, y, 0.2, np.random.default_rng(3), stratify=False)
    assert len(plain) == 20 and not np.array_equal(plain, np.arange(80, 100))


def test_an_epoch_does_not_copy_the_training_set():
    """tracemalloc counts numpy's allocations: one epoch's peak extra memory stays far below the data."""
    rng = np.random.default_rng(0)
    X = rng.random((20000, 100), dtype=np.float32)
    y = rng.integers(0, 2, 20000)
    T = np.eye(2, dtype=np.float32)[y]
    cfg = config_mod.validate({
        "data": "xor", "model": {"layers": [{"units": 8, "activation": "relu"}, {"units": 2, "activation": "softmax"}]},
        "loss": "cce", "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
        "train": {"epochs": 1, "batch_size": 64}})
    net = Network([Dense(rng.normal(0, 0.1, (100, 8)).astype(np.float32), np.zeros(8, np.float32),
                         ACTIVATIONS.get("relu")()),
                   Dense(rng.normal(0, 0.1, (8, 2)).astype(np.float32), np.zeros(2, np.float32),
                         ACTIVATIONS.get("softmax")())])
    t = Trainer(net, cfg, LOSSES.get("cce")(), OPTIMIZERS.get("sgd")(momentum=0.9),
                SCHEDULES.get("constant")(0.1, 2), np.random.default_rng(0))
    data = TrainData(Split(X, T, y))
    result = t.fit(data)
    cfg.train.epochs = 2
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t.fit(data, state=result.state)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert peak < 0.05 * X.nbytes, f"one epoch allocated {peak} bytes at its peak; the data is {X.nbytes}"
