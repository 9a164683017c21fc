"""`nncli train`: the run directory's four files, XOR solved, stdout/stderr split, --json, --out,
--seed, reproducibility, plain progress lines in logs, and exit code 2 with one message (no traceback,
no run directory) for every bad input."""

import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import ROOT, XOR
from nncli import config as C

SUMMARY_KEYS = {"status", "message", "epochs", "steps", "final", "best", "evaluation", "architecture",
                "parameters", "dataset", "train_seconds", "wall_seconds", "samples_per_second", "seed",
                "versions", "command", "predictions"}
XOR_SHAPES = {"W1": (2, 2), "b1": (2,), "W2": (2, 1), "b2": (1,)}
XOR_TARGETS = {(-1.0, -1.0): 0, (-1.0, 1.0): 1, (1.0, -1.0): 1, (1.0, 1.0): 0}


def load_weights(run_dir):
    with np.load(run_dir / "weights.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def xor_outputs(w):
    X = np.array(list(XOR_TARGETS))
    return 1 / (1 + np.exp(-(np.tanh(X @ w["W1"] + w["b1"]) @ w["W2"] + w["b2"])))[:, 0]


def check_xor_run(run_dir, epochs):
    """The files of a finished XOR run (snapshots.npz: the default for 2-D data), with the documented
    contents; XOR solved."""
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.yaml", "metrics.csv", "snapshots.npz",
                                                         "summary.json", "weights.npz"]
    # weights.npz: W1, b1, W2, b2 of the lab's shapes, and they solve XOR
    w = load_weights(run_dir)
    assert {k: v.shape for k, v in w.items()} == XOR_SHAPES
    assert list(w) == ["W1", "b1", "W2", "b2"]
    out = xor_outputs(w)
    assert list(out > 0.5) == [bool(t) for t in XOR_TARGETS.values()], out
    # metrics.csv: one row per epoch, the documented columns
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "step", "loss", "accuracy", "lr", "seconds"]
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    assert [int(r["step"]) for r in rows] == list(range(1, epochs + 1))  # full batch: one step per epoch
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert float(rows[-1]["accuracy"]) == 1.0 and float(rows[0]["lr"]) == 0.25
    # summary.json: the documented keys, and the predictions agree with the weights
    s = json.loads((run_dir / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(s)
    assert s["status"] == "completed" and s["epochs"] == epochs and s["steps"] == epochs
    assert s["parameters"] == 9 and s["architecture"] == "2 -> [2 tanh] -> [1 sigmoid]"
    assert s["evaluation"]["train"]["accuracy"] == 1.0
    assert s["final"]["loss"] == float(rows[-1]["loss"])
    preds = {tuple(p["input"]): (p["target"][0], p["output"][0]) for p in s["predictions"]}
    assert {k: t for k, (t, _) in preds.items()} == XOR_TARGETS
    np.testing.assert_allclose([preds[k][1] for k in XOR_TARGETS], out, rtol=1e-12)
    # config.yaml: the resolved config, loadable as is
    cfg = C.load(run_dir / "config.yaml")
    assert cfg.model.input == 2 and cfg.train.epochs == epochs and cfg.seed == 0
    return s


# -- the happy path --------------------------------------------------------------------------------
def test_train_xor_with_cli_runner(run_cli, runs_dir):
    result = run_cli("train", XOR, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.stderr
    (run_dir,) = runs_dir.iterdir()
    assert result.stdout == f"{run_dir}\n"  # stdout carries only the run directory
    assert run_dir.name.startswith("xor-")
    epochs = C.load(XOR).train.epochs
    check_xor_run(run_dir, epochs)
    assert "completed after" in result.stderr and "predictions" in result.stderr
    assert f"run directory: {run_dir}" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_xor_as_a_real_subprocess(tmp_path):
    out = tmp_path / "xor-run"
    env = {**os.environ, "COLUMNS": "100"}
    proc = subprocess.run([sys.executable, "-m", "nncli", "train", str(XOR), "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{out}\n"
    s = check_xor_run(out, C.load(XOR).train.epochs)
    assert s["command"][1:] == ["train", str(XOR), "--out", str(out)]
    # stderr is not a terminal: plain progress lines, no Rich live-display control codes
    assert "\x1b[" not in proc.stderr
    assert re.match(r"epoch +1/2000 +loss \d", proc.stderr.splitlines()[0]), proc.stderr[:200]
    assert not (tmp_path / "runs").exists()  # --out names the run directory itself


def test_json_output(run_cli, runs_dir):
    result = run_cli("train", XOR, "train.epochs=20", "--runs-dir", runs_dir, "--json", "--quiet")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    (run_dir,) = runs_dir.iterdir()
    assert data["run_dir"] == str(run_dir)
    assert data["status"] == "completed" and data["epochs"] == 20
    assert SUMMARY_KEYS <= set(data)
    assert data == {"run_dir": str(run_dir), **json.loads((run_dir / "summary.json").read_text())}
    assert result.stderr == ""  # --quiet: no progress and no summary


def test_overrides_reach_the_run(run_cli, tmp_path):
    out = tmp_path / "run"
    result = run_cli("train", XOR, "optimizer.lr=0.5", "model.layers.0.units=4", "train.epochs=3", "--out", out,
                     "-q")
    assert result.exit_code == 0, result.stderr
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["optimizer"]["lr"] == 0.5 and cfg["model"]["layers"][0]["units"] == 4
    assert load_weights(out)["W1"].shape == (2, 4)
    with open(out / "metrics.csv") as f:
        assert [r["lr"] for r in csv.DictReader(f)] == ["0.5"] * 3


def test_same_config_and_seed_give_bit_identical_weights(run_cli, tmp_path, write_config):
    # a config with shuffled mini-batches, so that data generation, init and shuffling are all seeded
    moons = write_config("seed: 5\ndata: {name: moons, n_samples: 40}\nmodel:\n  layers:\n"
                         "    - {units: 6, activation: relu}\n    - {units: 2, activation: softmax}\n"
                         "loss: categorical_crossentropy\noptimizer: {name: adam, lr: 0.01}\n"
                         "train: {epochs: 5, batch_size: 8, validation_split: 0.25}\n", "moons.yaml")
    for config in (XOR, moons):
        runs = []
        for i in range(2):
            out = tmp_path / f"{config.stem}-{i}"
            result = run_cli("train", config, "train.epochs=50", "--out", out, "-q")
            assert result.exit_code == 0, result.stderr
            runs.append(load_weights(out))
        a, b = runs
        assert list(a) == list(b)
        for k in a:
            assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k


def test_seed_option_changes_the_weights(run_cli, tmp_path):
    weights = {}
    for seed in (None, 0, 1):
        out = tmp_path / f"seed-{seed}"
        args = ["train", XOR, "train.epochs=5", "--out", out, "-q"] + (["--seed", str(seed)] if seed is not None else [])
        assert run_cli(*args).exit_code == 0
        weights[seed] = load_weights(out)
        assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == (0 if seed is None else seed)
    assert all(np.array_equal(weights[None][k], weights[0][k]) for k in XOR_SHAPES)  # the config's seed is 0
    assert not np.array_equal(weights[0]["W1"], weights[1]["W1"])


def test_out_to_an_existing_directory_is_refused(run_cli, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run_cli("train", XOR, "--out", out)
    assert result.exit_code == 2
    assert f"error: {out}: already exists; --out must name a new directory" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


def test_runs_in_the_same_second_get_their_own_directories(run_cli, runs_dir):
    for _ in range(3):
        assert run_cli("train", XOR, "train.epochs=1", "--runs-dir", runs_dir, "-q").exit_code == 0
    names = sorted(p.name for p in runs_dir.iterdir())
    assert len(names) == 3 and len(set(names)) == 3


def test_plain_progress_lines_when_stderr_is_not_a_terminal(run_cli, runs_dir):
    result = run_cli("train", XOR, "train.epochs=10", "--runs-dir", runs_dir)
    lines = [l for l in result.stderr.splitlines() if l.startswith("epoch ")]
    assert [l.split()[1] for l in lines] == [f"{e}/10" for e in range(1, 11)]
    assert all(" loss " in l and l.endswith("s") for l in lines)
    result = run_cli("train", XOR, "train.epochs=10", "--runs-dir", runs_dir, "--log-every", "4")
    lines = [l for l in result.stderr.splitlines() if l.startswith("epoch ")]
    assert [l.split()[1] for l in lines] == ["1/10", "4/10", "8/10", "10/10"]
    # long runs stay short in logs: about 50 lines by default
    result = run_cli("train", XOR, "--runs-dir", runs_dir)
    assert 45 <= sum(l.startswith("epoch ") for l in result.stderr.splitlines()) <= 55
    assert "\x1b[" not in result.stderr


# -- bad input: exit 2, one message on stderr, no traceback, no run directory ------------------------
BAD = [  # (extra arguments after the config, text expected in the message)
    (["model.layres=3"], "model.layres: unknown key; did you mean 'layers'?"),
    (["optimizer.lr=abc"], "optimizer.lr: input should be a valid number"),
    (["optimizer.lr=0"], "optimizer.lr: input should be greater than 0"),
    (["train.epochs=0"], "train.epochs: input should be greater than 0"),
    (["model.layers.0.units=0"], "model.layers.0.units: input should be greater than 0"),
    (["model.layers.0.activation=tanhh"], "model.layers.0.activation: unknown activation 'tanhh'; did you mean 'tanh'?"),
    (["loss=bce2"], "loss: unknown loss 'bce2'; did you mean"),
    (["optimizer.name=adamm"], "optimizer.name: unknown optimizer 'adamm'; did you mean 'adam'?"),
    (["model.init=he_norml"], "model.init.name: unknown initializer 'he_norml'; did you mean 'he_normal'?"),
    (["data=moonz"], "data.name: unknown dataset 'moonz'; did you mean 'moons'?"),
    (["loss=categorical_crossentropy", "model.layers.1.activation=softmax"],
     "model.layers.1: categorical_crossentropy needs at least 2 softmax output units"),
    (["model.layers.1.activation=softmax", "model.layers.1.units=2"],
     "model.layers.1: binary_crossentropy needs sigmoid outputs"),
    (["model.input=3"], "model.input: is 3, but the xor data has 2 features per sample"),
    (["model.layers.7.units=3"], "model.layers.7: no item 7 in a list of 2"),
    (["optimizer.lr"], "an override must look like KEY=VALUE"),
    (["--seed", "abc"], "Invalid value for '--seed'"),
]


def assert_refused(result, expected, runs_dir):
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert isinstance(result.exception, SystemExit)
    assert list(runs_dir.iterdir()) == []  # no run directory left behind


@pytest.mark.parametrize("args,expected", BAD, ids=[a[0] for a, _ in BAD])
def test_bad_input_exits_2_with_its_message(run_cli, runs_dir, args, expected):
    assert_refused(run_cli("train", XOR, *args, "--runs-dir", runs_dir), expected, runs_dir)


@pytest.mark.parametrize("text,expected", [
    ("seed: 0\nmodel: [\n", ":3:1: YAML syntax error"),
    ("seed: 0\nseed: 1\n", ":2:1: YAML syntax error: duplicate key 'seed' (first at line 1)"),
    ("seed: 0\n", "data: missing; this key is required"),
    ("", "the config is empty"),
])
def test_bad_config_files_exit_2(run_cli, runs_dir, write_config, text, expected):
    path = write_config(text)
    result = run_cli("train", path, "--runs-dir", runs_dir)
    assert_refused(result, expected, runs_dir)
    assert str(path) in result.stderr or "missing" in expected


def test_missing_config_and_no_config(run_cli, runs_dir, tmp_path):
    assert_refused(run_cli("train", tmp_path / "nope.yaml", "--runs-dir", runs_dir),
                   f"{tmp_path / 'nope.yaml'}: config file not found", runs_dir)
    assert_refused(run_cli("train", tmp_path, "--runs-dir", runs_dir), "is a directory, not a YAML config",
                   runs_dir)
    assert_refused(run_cli("train", "--runs-dir", runs_dir), "give a config file", runs_dir)


def test_init_from_with_wrong_shapes_exits_2(run_cli, runs_dir, tmp_path):
    w = tmp_path / "w.npz"
    np.savez(w, W1=np.zeros((2, 3)), b1=np.zeros(3), W2=np.zeros((3, 1)), b2=np.zeros(1))
    assert_refused(run_cli("train", XOR, f"model.init_from={w}", "--runs-dir", runs_dir),
                   "model.init_from: W1 in", runs_dir)


def test_init_from_a_run_directory_starts_from_its_weights(run_cli, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert run_cli("train", XOR, "--out", first, "-q").exit_code == 0
    result = run_cli("train", XOR, f"model.init_from={first}", "train.epochs=1", "--out", second, "--json", "-q")
    assert result.exit_code == 0, result.stderr
    # one more gradient step from a solved network: the loss starts where the first run ended
    with open(first / "metrics.csv") as f:
        last = list(csv.DictReader(f))[-1]
    assert json.loads(result.stdout)["final"]["loss"] == pytest.approx(
        json.loads((first / "summary.json").read_text())["evaluation"]["train"]["loss"], rel=1e-12)
    assert float(last["loss"]) > json.loads(result.stdout)["final"]["loss"]


def test_bad_input_through_a_real_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nncli", "train", str(XOR), "optimizer.lr=-1",
                           "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == "error: optimizer.lr: input should be greater than 0 (got -1)"
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_input_with_out_creates_nothing(run_cli, tmp_path):
    out = tmp_path / "parent" / "run"
    result = run_cli("train", XOR, "train.epochs=-3", "--out", out)
    assert result.exit_code == 2
    assert "error: train.epochs: input should be greater than 0 (got -3)" in result.stderr
    assert not (tmp_path / "parent").exists()


def test_rich_progress_on_a_terminal(run_cli, tmp_path, monkeypatch):
    """On a terminal stderr gets the live Rich view (no per-epoch lines); stdout still only the path."""
    import io

    from rich.console import Console

    from nncli.cli import train as train_cmd

    buf = io.StringIO()
    monkeypatch.setattr(train_cmd, "err_console", Console(file=buf, force_terminal=True, width=100))
    out = tmp_path / "run"
    result = run_cli("train", XOR, "train.epochs=300", "--out", out)
    assert result.exit_code == 0
    assert result.stdout == f"{out}\n"
    shown = buf.getvalue()
    assert "train xor" in shown and "300/300" in shown and "\x1b[" in shown
    assert "epoch   1/300" not in shown  # no plain log lines on a terminal
    assert "completed" in shown and "predictions" in shown
