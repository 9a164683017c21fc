"""TensorBoard events, read back with TensorBoard's own reader: every metrics.csv column of every epoch
(float32, as TensorBoard stores scalars), weight histograms; written live (train.tensorboard, --tensorboard)
or exported from a finished run; bad input."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import nncli

from conftest import XOR

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_events(directory):
    """{tag: [(step, value), ...]} of the scalars, and {tag: [step, ...]} of the histograms."""
    acc = event_accumulator.EventAccumulator(str(directory), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in tags["scalars"]}
    histograms = {t: [e.step for e in acc.Histograms(t)] for t in tags["histograms"]}
    return scalars, histograms, acc


def assert_events_equal_metrics(scalars, run):
    """Every column but epoch, every epoch, exactly metrics.csv's value as TensorBoard stores it (float32)."""
    columns = [c for c in run.columns if c != "epoch"]
    assert sorted(scalars) == sorted(columns)
    for column in columns:
        expected = [(int(r["epoch"]), float(np.float32(r[column]))) for r in run.metrics]
        assert scalars[column] == expected, column


def test_live_events_equal_metrics_csv(tmp_path, run_cli, write_config):
    cfg = write_config(f"""
seed: 3
data: {{name: spiral, n_samples: 150, classes: 3}}
model: {{layers: [{{units: 8, activation: tanh}}, {{units: 3, activation: softmax}}]}}
loss: categorical_crossentropy
optimizer: {{name: adam, lr: 0.01, schedule: cosine}}
train: {{epochs: 40, batch_size: 32, validation_split: 0.2, tensorboard: {tmp_path / 'tb'},
         tensorboard_histograms: 10}}
""")
    result = run_cli("train", cfg, "--out", tmp_path / "spiral", "-q")
    assert result.exit_code == 0, result.output
    run = nncli.load_run(tmp_path / "spiral")
    assert {"val_loss", "val_accuracy", "lr", "accuracy"} <= set(run.columns)
    scalars, histograms, _ = read_events(tmp_path / "tb" / "spiral")  # one run per run directory name
    assert_events_equal_metrics(scalars, run)
    assert len({v for _, v in scalars["lr"]}) > 10  # the cosine schedule's lr, epoch by epoch
    assert sorted(histograms) == ["weights/W1", "weights/W2", "weights/b1", "weights/b2"]
    assert histograms["weights/W1"] == [0, 10, 20, 30, 40]  # start, every 10 epochs (the end is one)


def test_final_histogram_holds_the_final_weights(tmp_path, run_cli):
    result = run_cli("train", XOR, "train.epochs=25", "--tensorboard", tmp_path / "tb", "--out", tmp_path / "x", "-q")
    assert result.exit_code == 0, result.output
    _, histograms, acc = read_events(tmp_path / "tb" / "x")
    assert histograms["weights/W1"][-1] == 25 and histograms["weights/W1"][0] == 0
    W1 = nncli.load_run(tmp_path / "x").network.layers[0].W
    last = acc.Histograms("weights/W1")[-1].histogram_value
    assert last.num == W1.size and last.min == pytest.approx(W1.min()) and last.max == pytest.approx(W1.max())
    assert last.sum == pytest.approx(W1.sum())


def test_config_key_through_the_api_in_memory(tmp_path):
    """train.tensorboard is an ordinary config key: nncli.train honours it, in memory too (named by `name`)."""
    run = nncli.train(XOR, {"train.epochs": 12, "train.tensorboard": str(tmp_path / "tb")}, runs_dir=None,
                      name="lr-0.5")
    scalars, _, _ = read_events(tmp_path / "tb" / "lr-0.5")
    assert [step for step, _ in scalars["loss"]] == list(range(1, 13))
    assert [v for _, v in scalars["loss"]] == [float(np.float32(r["loss"])) for r in run.metrics]


def test_export_of_a_run_trained_without_events(tmp_path, run_cli):
    run_dir = tmp_path / "xor"
    assert run_cli("train", XOR, "train.epochs=30", "--out", run_dir, "-q").exit_code == 0
    result = run_cli("export", run_dir, "--format", "tensorboard", "--out", tmp_path / "tb", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == str(tmp_path / "tb" / "xor")
    scalars, histograms, _ = read_events(tmp_path / "tb" / "xor")
    assert_events_equal_metrics(scalars, nncli.load_run(run_dir))
    assert histograms["weights/W2"] == [30]  # the final weights only: earlier ones are not kept
    assert [p.name for p in (tmp_path / "tb").iterdir()] == ["xor"]  # no temporary directory left
    # the same events again would duplicate every point: refused, nothing changed
    before = sorted(p.name for p in (tmp_path / "tb" / "xor").iterdir())
    again = run_cli("export", run_dir, "--format", "tensorboard", "--out", tmp_path / "tb")
    assert again.exit_code == 2 and "already holds TensorBoard events" in again.stderr
    assert sorted(p.name for p in (tmp_path / "tb" / "xor").iterdir()) == before


def test_live_and_exported_events_agree(tmp_path, run_cli):
    result = run_cli("train", XOR, "train.epochs=20", "--tensorboard", tmp_path / "live", "--out", tmp_path / "r", "-q")
    assert result.exit_code == 0
    assert run_cli("export", tmp_path / "r", "-f", "tensorboard", "-o", tmp_path / "exported").exit_code == 0
    live, _, _ = read_events(tmp_path / "live" / "r")
    exported, _, _ = read_events(tmp_path / "exported" / "r")
    assert live == exported


def test_missing_extra_is_refused_before_the_run_starts(tmp_path, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    result = run_cli("train", XOR, "--tensorboard", tmp_path / "tb", "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 2 and 'pip install "nncli[tensorboard]"' in result.stderr
    assert not (tmp_path / "tb").exists() and not list((tmp_path / "runs").glob("*"))
    assert run_cli("train", XOR, "train.epochs=3", "--out", tmp_path / "r", "-q").exit_code == 0
    result = run_cli("export", tmp_path / "r", "--format", "tensorboard", "--out", tmp_path / "tb2")
    assert result.exit_code == 2 and 'pip install "nncli[tensorboard]"' in result.stderr
    assert not (tmp_path / "tb2").exists()


def test_unwritable_log_directory(tmp_path, run_cli):
    (tmp_path / "file").write_text("not a directory")
    result = run_cli("train", XOR, "--tensorboard", tmp_path / "file" / "tb", "--runs-dir", tmp_path / "runs", "-q")
    assert result.exit_code == 2 and "is a file" in result.stderr
    assert not list((tmp_path / "runs").glob("*"))


def test_export_into_missing_parent(tmp_path, run_cli):
    run_dir = tmp_path / "xor"
    assert run_cli("train", XOR, "train.epochs=3", "--out", run_dir, "-q").exit_code == 0
    result = run_cli("export", run_dir, "-f", "tensorboard", "--out", tmp_path / "a" / "b")
    assert result.exit_code == 2 and "does not exist; create it first" in result.stderr
    assert not (tmp_path / "a").exists()


def test_a_sweep_writes_one_tensorboard_run_per_run_directory(tmp_path, run_cli):
    """`nncli sweep --tensorboard DIR`: every point's events in DIR/<its run directory name>/, so the runs
    of a sweep appear side by side, each equal to its metrics.csv (runs with events train one at a time:
    they are not stacked, and the sweep says so)."""
    sweep = tmp_path / "sweep"
    r = run_cli("sweep", XOR, "-p", "optimizer.lr=0.25,1", "--seeds", "2", "train.epochs=30", "--workers", "1",
                "--tensorboard", tmp_path / "tb", "--out", sweep)
    assert r.exit_code == 0, r.output
    assert "4 runs on the worker pool: train.tensorboard writes events as a run trains" in r.stderr
    names = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == names and len(names) == 4
    for name in names:
        scalars, _, _ = read_events(tmp_path / "tb" / name)
        assert_events_equal_metrics(scalars, nncli.load_run(sweep / name))
