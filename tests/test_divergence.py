"""Divergence end to end: a huge learning rate stops training at once with exit 1; the run directory keeps
the metrics up to the last finite epoch and the last finite weights (bit for bit those of the same run
stopped one step earlier); summary.json says status diverged, the epoch and the step, and the message
suggests a smaller learning rate. A weight that turns infinite while the loss stays finite is caught too."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, XOR
from nncli import run as run_mod
from nncli import config as C
from nncli import runner

DIVERGE = ["loss=mse", "model.layers.1.activation=linear", "optimizer.lr=1e6", "train.epochs=50"]


def weights(run):
    with np.load(run / "weights.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def rows(run):
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_huge_learning_rate_diverges_with_exit_1_and_keeps_the_last_finite_state(run_cli, tmp_path):
    run = tmp_path / "run"
    r = run_cli("train", XOR, *DIVERGE, "--out", run)
    assert r.exit_code == 1, r.output
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "diverged"
    # full batch: one step per epoch; the loss of epoch 26's forward pass overflows to inf
    assert s["diverged_at"] == {"epoch": 26, "step": 26}
    assert s["epochs"] == 25 and s["steps"] == 25
    assert s["message"].startswith("training diverged at epoch 26, step 26: the loss became inf.")
    assert "Try a smaller learning rate (optimizer.lr=1e+06 -> 100000)" in s["message"]
    assert "Try a smaller learning rate" in r.stderr and "Traceback" not in r.output
    assert "RuntimeWarning" not in r.stderr  # divergence is detected, not warned about
    m = rows(run)
    assert [int(row["epoch"]) for row in m] == list(range(1, 26))
    assert all(math.isfinite(float(row["loss"])) for row in m)
    assert float(m[-1]["loss"]) > 1e300  # it was on its way
    w = weights(run)
    assert all(np.isfinite(a).all() for a in w.values())
    # the last finite weights: exactly those after 25 steps
    ref = tmp_path / "ref"
    assert run_cli("train", XOR, *DIVERGE[:-1], "train.epochs=25", "--out", ref, "-q").exit_code == 0
    for k, a in weights(ref).items():
        assert np.array_equal(a, w[k]), k
    # and the run directory reads back
    loaded = run_mod.load_run(run)
    assert loaded.summary["status"] == "diverged"


def test_json_and_quiet_runs_print_the_message_once_on_stderr(run_cli, tmp_path):
    r = run_cli("train", XOR, *DIVERGE, "--out", tmp_path / "run", "--json", "-q")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["status"] == "diverged"
    assert r.stderr.count("training diverged at epoch 26") == 1


def test_mini_batch_divergence_stops_inside_the_epoch(run_cli, tmp_path, write_config):
    cfg = write_config("""
seed: 1
dtype: float64
data: {name: gauss, n_samples: 64}
model:
  layers: [{units: 8, activation: relu}, {units: 1, activation: linear}]
loss: mse
optimizer: {name: sgd, lr: 1000.0, momentum: 0.9}
train: {epochs: 100, batch_size: 4}
""")
    run = tmp_path / "run"
    r = run_cli("train", cfg, "--out", run, "-q")
    assert r.exit_code == 1, r.output
    s = json.loads((run / "summary.json").read_text())
    at = s["diverged_at"]
    assert s["status"] == "diverged" and at["epoch"] == s["epochs"] + 1
    assert len(rows(run)) == s["epochs"]
    assert (at["step"] - 1) // 16 == s["epochs"]  # 16 steps an epoch: the step lies in the epoch after
    assert s["steps"] == at["step"] - 1
    assert all(np.isfinite(a).all() for a in weights(run).values())


def test_an_infinite_weight_with_a_finite_loss_is_caught(tmp_path):
    """tanh saturates: W1 = inf keeps the loss finite, but the weights are gone. The weights of the start
    of that epoch are kept."""
    cfg = C.load(XOR, ["train.epochs=10"])
    p = runner.prepare(cfg)
    opt = p.trainer.optimizer
    original = opt.step
    after_2 = {}

    def step(params, grads, lr):
        original(params, grads, lr)
        if opt.t == 2:
            after_2.update({k: v.copy() for k, v in p.net.state().items()})
        if opt.t == 3:
            params[0][0, 0] = np.inf

    opt.step = step
    run = runner.start(p, "x", out=tmp_path / "run")
    s = runner.execute(p, run)
    assert s["status"] == "diverged" and s["diverged_at"] == {"epoch": 3, "step": 3}
    assert "a weight became NaN or infinite" in s["message"]
    w = weights(tmp_path / "run")
    for k, a in after_2.items():
        assert np.array_equal(w[k], a), k


def test_a_nan_gradient_stops_before_the_step(tmp_path):
    cfg = C.load(XOR, ["train.epochs=10"])
    p = runner.prepare(cfg)
    net = p.net
    original = net.backprop
    calls = []

    def backprop(X, T, loss, wd, work=None):
        value, grads, Y = original(X, T, loss, wd, work=work)
        calls.append(1)
        if len(calls) == 4:
            grads[1][0] = np.nan
        return value, grads, Y

    net.backprop = backprop
    before = {}

    class Events:
        def on_batch(self, epoch, batch, batches):
            before.update({k: v.copy() for k, v in net.state().items()})

        def on_epoch(self, row):
            pass

    s = runner.execute(p, runner.start(p, "x", out=tmp_path / "run"), Events())
    assert s["status"] == "diverged" and "a gradient became NaN or infinite" in s["message"]
    assert s["diverged_at"] == {"epoch": 4, "step": 4}
    for k, a in weights(tmp_path / "run").items():
        assert np.array_equal(a, before[k])  # the weights after step 3, untouched by the bad gradient


def test_divergence_in_a_real_process(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "nncli", "train", str(XOR), *DIVERGE, "--out", str(run)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert "diverged after 25 epochs" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout.strip() == str(run)


def test_an_init_beyond_the_dtypes_range_is_refused_before_training(run_cli, tmp_path):
    """float32 holds up to about 3.4e38: weights drawn with std 1e39 are infinite, so the run could only
    'diverge' with infinite weights.npz; it is refused before anything is written, without numpy's warning."""
    r = run_cli("train", ROOT / "configs" / "spiral.yaml", "model.init={name: normal, std: 1e39}",
                "train.epochs=2", "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 2, r.output
    assert "model.init: gives layer 0 weights beyond the range of float32" in r.stderr
    assert "Warning" not in r.stderr and not (tmp_path / "runs").exists()
    r = run_cli("train", ROOT / "configs" / "spiral.yaml", "model.init={name: normal, std: 1e39}", "dtype=float64",
                "train.epochs=1", "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code in (0, 1), r.output  # float64 holds them: training decides
