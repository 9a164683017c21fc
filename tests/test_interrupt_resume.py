"""Interrupt and resume: SIGINT/SIGTERM sent to a real `python -m nncli train` finish the batch, write
checkpoint.npz and the metrics so far, set status interrupted and exit 130; `--resume` then ends with the
weights of an uninterrupted run, bit for bit (sgd with momentum and adam, shuffled mini-batches, input
noise). In-process: interrupts after every possible batch count, resume rules (completed, edited network,
more epochs, no checkpoint yet, diverged, damaged checkpoints)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from nncli.readers import read_yaml_mapping
from nncli import run as run_mod
from nncli import config as C
from nncli import resuming, runner

CONFIG = """\
seed: 3
dtype: float64
data: {{name: moons, n_samples: {n}}}
model:
  layers:
    - {{units: 6, activation: tanh}}
    - {{units: 1, activation: sigmoid}}
loss: binary_crossentropy
optimizer: {optimizer}
train:
  epochs: {epochs}
  batch_size: {batch}
  input_noise: 0.05
  validation_split: 0.2
  checkpoint_every: {every}
"""
OPTIMIZERS = {"sgd_momentum": "{name: sgd, lr: 0.05, momentum: 0.9}",
              "adam": "{name: adam, lr: 0.01}"}


def write(tmp_path: Path, optimizer="sgd_momentum", n=40, epochs=6, batch=8, every=0, name="c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(CONFIG.format(optimizer=OPTIMIZERS[optimizer], n=n, epochs=epochs, batch=batch, every=every))
    return path


def weights(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "weights.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert list(wa) == list(wb)
    for k in wa:
        assert wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]), k


def metrics(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


# -- in-process: the library with a should_stop that fires after k batches -------------------------
class StopAfter:
    """Events that count batches, and a should_stop that turns true after `k` of them (a signal
    arriving during batch k)."""

    def __init__(self, k: int | None):
        self.k, self.batches = k, 0

    def on_batch(self, epoch, batch, batches):
        self.batches += 1

    def on_epoch(self, row):
        pass

    def __call__(self) -> bool:
        return self.k is not None and self.batches >= self.k


def train_lib(cfg_path: Path, out: Path, stop_after: int | None = None, overrides=()) -> dict:
    p = runner.prepare(C.load(cfg_path, list(overrides)))
    run = runner.start(p, "t", out=out)
    stop = StopAfter(stop_after)
    return runner.execute(p, run, stop, should_stop=stop)


def resume_lib(out: Path, stop_after: int | None = None, overrides=()) -> dict:
    plan = resuming.open_resume(out, list(overrides))
    assert not plan.done, plan.message
    stop = StopAfter(stop_after)
    return runner.execute(plan.prepared, plan.run, stop, should_stop=stop, state=plan.state,
                            history=plan.history)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_interrupt_after_any_batch_then_resume_equals_the_uninterrupted_run(tmp_path, optimizer):
    cfg = write(tmp_path, optimizer, n=40, epochs=4, batch=8)  # 32 training rows: 4 batches an epoch
    ref = tmp_path / "ref"
    s = train_lib(cfg, ref)
    assert s["status"] == "completed" and s["steps"] == 16
    assert not (ref / "checkpoint.npz").exists()  # no checkpoint_every: a completed run keeps none
    for k in range(1, 16):  # a stop after the last batch is simply the end
        run = tmp_path / f"run{k}"
        s = train_lib(cfg, run, stop_after=k)
        assert s["status"] == "interrupted" and s["steps"] == k, (k, s["steps"])
        assert (run / "checkpoint.npz").is_file()
        assert len(metrics(run)) == s["epochs"] == k // 4
        s = resume_lib(run)
        assert s["status"] == "completed" and s["steps"] == 16
        assert s["resumed"][0]["step"] == k
        assert_same_weights(ref, run)
        assert metrics(run) == metrics(ref)
        assert s["final"]["val_loss"] == summary(ref)["final"]["val_loss"]
        assert not (run / "checkpoint.npz").exists()  # stale once completed


def test_several_interrupts_in_a_row(tmp_path):
    cfg = write(tmp_path, "adam", epochs=5)
    train_lib(cfg, tmp_path / "ref")
    run = tmp_path / "run"
    assert train_lib(cfg, run, stop_after=3)["status"] == "interrupted"
    for k in (2, 5, 1, 7):
        assert resume_lib(run, stop_after=k)["status"] == "interrupted"
    s = resume_lib(run)
    assert s["status"] == "completed" and len(s["resumed"]) == 5
    assert_same_weights(tmp_path / "ref", run)


def test_checkpoint_every_writes_running_files_that_load_run_reads(tmp_path):
    cfg = write(tmp_path, epochs=4, every=2)
    run = tmp_path / "run"
    p = runner.prepare(C.load(cfg))
    seen = []

    class Events:
        def on_batch(self, *a):
            pass

        def on_epoch(self, row):  # called before the checkpoint of the same epoch
            seen.append((row["epoch"], summary(run)["status"], summary(run)["epochs"]))

    runner.execute(p, runner.start(p, "t", out=run), Events())
    # epoch 3 sees the checkpoint of epoch 2 (status running); the end rewrites everything
    assert seen == [(1, "running", 0), (2, "running", 0), (3, "running", 2), (4, "running", 2)]
    assert summary(run)["status"] == "completed" and (run / "checkpoint.npz").is_file()
    loaded = run_mod.load_run(run)
    assert loaded.summary["epochs"] == 4


def test_more_epochs_continue_a_completed_run_exactly(tmp_path):
    """With a constant learning rate, 4 epochs then --resume train.epochs=7 equals 7 epochs at once."""
    cfg = write(tmp_path, "adam", epochs=4, every=4)
    train_lib(cfg, tmp_path / "ref", overrides=["train.epochs=7"])
    run = tmp_path / "run"
    train_lib(cfg, run)
    plan = resuming.open_resume(run)
    assert plan.done and "already completed" in plan.message
    s = resume_lib(run, overrides=["train.epochs=7"])
    assert s["status"] == "completed" and s["epochs"] == 7
    assert_same_weights(tmp_path / "ref", run)
    assert C.load(run / "config.yaml").train.epochs == 7  # config.yaml records the config used


# -- the CLI: resume rules ------------------------------------------------------------------------
def test_resume_a_completed_run_says_so_and_exits_0(run_cli, tmp_path):
    run = tmp_path / "run"
    assert run_cli("train", write(tmp_path), "--out", run, "-q").exit_code == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    r = run_cli("train", "--resume", run)
    assert r.exit_code == 0, r.output
    assert "already completed (6 epochs); nothing to resume" in r.stderr
    assert r.stdout.strip() == str(run)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing rewritten
    r = run_cli("train", "--resume", run, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "completed"


@pytest.mark.parametrize("override, says", [
    ("model.layers.0.units=7", "layers [7 tanh, 1 sigmoid]"),
    ("model.layers.0.activation=relu", "layers [6 relu, 1 sigmoid]"),
    ("dtype=float32", "dtype float32"),
])
def test_resume_refuses_a_config_edited_to_change_the_network(run_cli, tmp_path, override, says):
    run = tmp_path / "run"
    train_lib(write(tmp_path), run, stop_after=5)
    config = run / "config.yaml"
    raw = read_yaml_mapping(config)
    edited = C.apply_overrides(raw, [override])
    config.write_text(C.validate(edited).dump() if "dtype" not in override else
                      C.Config.model_validate(edited).dump())
    before = (run / "checkpoint.npz").read_bytes()
    r = run_cli("train", "--resume", run)
    assert r.exit_code == 2, r.output
    assert "changes the network, so the run cannot be resumed" in r.stderr and says in r.stderr
    assert "layers [6 tanh, 1 sigmoid], dtype float64" in r.stderr  # what the checkpoint holds
    assert "Traceback" not in r.output
    assert (run / "checkpoint.npz").read_bytes() == before


def test_resume_with_a_network_changing_override_is_refused_too(run_cli, tmp_path):
    run = tmp_path / "run"
    train_lib(write(tmp_path), run, stop_after=5)
    r = run_cli("train", "--resume", run, "model.layers.0.units=3")
    assert r.exit_code == 2 and "changes the network" in r.stderr


def test_resume_mid_epoch_with_another_batch_size_is_refused(run_cli, tmp_path):
    run = tmp_path / "run"
    train_lib(write(tmp_path), run, stop_after=2)  # in the middle of epoch 1
    r = run_cli("train", "--resume", run, "train.batch_size=4")
    assert r.exit_code == 2
    assert "stopped in the middle of epoch 1" in r.stderr and "batches of 8" in r.stderr


def test_resume_mid_epoch_with_another_loss_is_refused_and_at_an_epochs_end_allowed(run_cli, tmp_path):
    run = tmp_path / "run"
    train_lib(write(tmp_path), run, stop_after=2)  # in the middle of epoch 1
    r = run_cli("train", "--resume", run, "loss=mse")
    assert r.exit_code == 2
    assert "stopped in the middle of epoch 1" in r.stderr and "'binary_crossentropy'" in r.stderr
    at_end = tmp_path / "at-end"
    train_lib(write(tmp_path), at_end, stop_after=4)  # 32 samples in batches of 8: epoch 1 ends at batch 4
    r = run_cli("train", "--resume", at_end, "loss=mse", "-q")
    assert r.exit_code == 0, r.output


def test_resume_a_run_killed_before_its_first_checkpoint_starts_again_identically(run_cli, tmp_path):
    cfg = write(tmp_path)
    ref, run = tmp_path / "ref", tmp_path / "run"
    train_lib(cfg, ref)
    p = runner.prepare(C.load(cfg))
    runner.start(p, "t", out=run)  # what a run killed in its first epoch leaves behind
    assert summary(run)["status"] == "running" and not (run / "checkpoint.npz").exists()
    r = run_cli("train", "--resume", run)
    assert r.exit_code == 0, r.output
    assert "no checkpoint was written yet: training again from epoch 0 with the same seed" in r.stderr
    assert_same_weights(ref, run)


def test_resume_a_run_killed_after_its_last_checkpoint_writes_its_final_files(run_cli, tmp_path):
    """Killed between the last epoch's checkpoint and the final summary.json (status still "running"):
    --resume trains nothing more and finishes the run as completed, with the uninterrupted weights."""
    cfg = write(tmp_path, "adam", every=1)
    ref, run = tmp_path / "ref", tmp_path / "run"
    train_lib(cfg, ref)
    train_lib(cfg, run)
    (run / "summary.json").write_text(json.dumps({**summary(run), "status": "running"}))
    r = run_cli("train", "--resume", run, "-q")
    assert r.exit_code == 0, r.output
    s = summary(run)
    assert s["status"] == "completed" and s["epochs"] == 6
    assert_same_weights(ref, run)
    assert metrics(run) == metrics(ref)


def test_resume_a_diverged_run_is_refused(run_cli, tmp_path):
    run = tmp_path / "run"
    r = run_cli("train", ROOT / "configs" / "xor.yaml", "loss=mse", "model.layers.1.activation=linear",
                "optimizer.lr=1e6", "train.epochs=50", "--out", run, "-q")
    assert r.exit_code == 1
    r = run_cli("train", "--resume", run)
    assert r.exit_code == 2
    assert "this run diverged" in r.stderr and f"model.init_from={run}" in r.stderr


@pytest.mark.parametrize("args, says", [
    (["--resume", "{tmp}/missing"], "no such directory"),
    (["--resume", "{tmp}/empty"], "has no config.yaml: either the run was stopped before it started"),
    (["--resume", "{tmp}/run", "--out", "{tmp}/x"], "--out and --seed cannot be used with it"),
    (["--resume", "{tmp}/run", "--seed", "4"], "--out and --seed cannot be used with it"),
    (["--resume", "{tmp}/run", "train.epochs=zero"], "train.epochs"),
])
def test_bad_resume_arguments_exit_2(run_cli, tmp_path, args, says):
    (tmp_path / "empty").mkdir()
    train_lib(write(tmp_path), tmp_path / "run", stop_after=3)
    r = run_cli("train", *[a.format(tmp=tmp_path) for a in args])
    assert r.exit_code == 2, r.output
    assert says in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("damage, says", [
    ("truncate", "not a readable .npz file"),
    ("pickle", "refused: it holds pickled Python objects"),
    ("drop_state", "has no 'state' array of JSON bytes"),
    ("bad_json", "its 'state': is not valid JSON"),
    ("nan_moment", "holds NaN or infinite values"),
    ("wrong_shape", "has shape (3,), the network needs (6,)"),
    ("wrong_dtype", "is float32, the network is float64"),
    ("bad_perm", "is not an order of the 32 training rows"),
    ("bad_rng", "random generator state is not valid"),
    ("extra", "has an unexpected array 'evil'"),
])
def test_a_damaged_checkpoint_is_refused_with_exit_2(run_cli, tmp_path, damage, says):
    run = tmp_path / "run"
    train_lib(write(tmp_path, "sgd_momentum"), run, stop_after=6)
    path = run / "checkpoint.npz"
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays["state"].tobytes())
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:300])
    else:
        if damage == "pickle":
            arrays["state"] = np.array([{"epoch": 1}], dtype=object)
        elif damage == "drop_state":
            del arrays["state"]
        elif damage == "bad_json":
            arrays["state"] = np.frombuffer(b"{not json", dtype=np.uint8)
        elif damage == "nan_moment":
            arrays["optimizer.velocity.0"][0, 0] = np.nan
        elif damage == "wrong_shape":
            arrays["weights.b1"] = np.zeros(3)
        elif damage == "wrong_dtype":
            arrays["weights.W2"] = arrays["weights.W2"].astype(np.float32)
        elif damage == "bad_perm":
            arrays["perm"] = np.zeros(32, dtype=np.int64)
        elif damage == "bad_rng":
            meta["rng"] = {"bit_generator": "MT19937", "state": 5}
        elif damage == "extra":
            arrays["evil"] = np.zeros(1)
        if damage in ("bad_rng",):
            arrays["state"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(path, **arrays)
    r = run_cli("train", "--resume", run)
    assert r.exit_code == 2, r.output
    assert says in r.stderr and str(path) in r.stderr and "Traceback" not in r.output


# -- real processes and real signals --------------------------------------------------------------
def start(args: list, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "nncli", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen, prefix: str, timeout: float = 60) -> list[str]:
    """Read stderr lines until one starts with `prefix` (the process is killed after `timeout`)."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(prefix):
                return lines
    finally:
        timer.cancel()
    raise AssertionError(f"no line starting with {prefix!r}:\n{''.join(lines)}")


@pytest.mark.parametrize("sig, optimizer", [(signal.SIGINT, "sgd_momentum"), (signal.SIGTERM, "adam"),
                                            (signal.SIGINT, "adam")])
def test_signal_to_a_real_process_then_resume_gives_the_uninterrupted_weights(run_cli, tmp_path, sig, optimizer):
    # 1600 training rows in batches of 4: 400 steps an epoch, so the signal lands inside an epoch
    cfg = write(tmp_path, optimizer, n=2000, epochs=40, batch=4)
    ref, run = tmp_path / "ref", tmp_path / "run"
    proc = start(["train", cfg, "--out", run, "--log-every", "1"], tmp_path)
    wait_for_line(proc, "epoch  3/40")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"{sig.name}: finishing the current batch and saving a checkpoint" in stderr
    assert f"continue with: nncli train --resume {run}" in stderr and "Traceback" not in stderr
    assert stdout.strip() == str(run)
    s = summary(run)
    assert s["status"] == "interrupted" and 3 <= s["epochs"] < 40
    assert len(metrics(run)) == s["epochs"]
    assert (run / "checkpoint.npz").is_file()
    r = run_cli("train", "--resume", run, "-q")
    assert r.exit_code == 0, r.output
    assert run_cli("train", cfg, "--out", ref, "-q").exit_code == 0
    assert_same_weights(ref, run)
    assert metrics(run) == metrics(ref)
    assert summary(run)["status"] == "completed" and summary(run)["resumed"][0]["step"] == s["steps"]


def test_a_second_ctrl_c_exits_at_once_and_leaves_every_file_readable(tmp_path):
    cfg = write(tmp_path, "adam", n=2000, epochs=40, batch=4, every=1)
    run = tmp_path / "run"
    proc = start(["train", cfg, "--out", run, "--log-every", "1"], tmp_path)
    wait_for_line(proc, "epoch  2/40")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    loaded = run_mod.load_run(run)  # config, weights and summary all readable
    assert loaded.summary["status"] in ("running", "interrupted")
    assert len(metrics(run)) >= 1
    plan = resuming.open_resume(run)
    assert not plan.done and plan.state.epoch >= 1


def test_signal_handlers_are_restored_after_training(run_cli, tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert run_cli("train", write(tmp_path), "--out", tmp_path / "run", "-q").exit_code == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_ctrl_c_with_the_live_progress_view_stops_it_cleanly(run_cli, tmp_path, monkeypatch):
    """In-process, on a (forced) terminal: a SIGINT raised from inside training goes through the CLI's
    handler; the Rich live view is stopped before the summary, and the run resumes exactly."""
    import io

    from rich.console import Console

    from nncli.cli import render
    from nncli.cli import train as train_cmd

    buf = io.StringIO()
    monkeypatch.setattr(train_cmd, "err_console", Console(file=buf, force_terminal=True, width=100))
    original = render.TrainProgress.on_epoch
    stopped = []

    def on_epoch(self, row):
        original(self, row)
        if row["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # handled by the CLI's handler: only a flag
    monkeypatch.setattr(render.TrainProgress, "on_epoch", on_epoch)
    original_exit = render.TrainProgress.__exit__
    monkeypatch.setattr(render.TrainProgress, "__exit__",
                        lambda self, *exc: (stopped.append(bool(self.progress and self.progress.live.is_started)),
                                                      original_exit(self, *exc)))
    cfg = write(tmp_path, "adam", epochs=5)
    run = tmp_path / "run"
    r = run_cli("train", cfg, "--out", run)
    assert r.exit_code == 130, r.output
    assert stopped == [True]  # the live view was running and was stopped on the way out
    shown = "".join(buf.getvalue().split())  # the console wraps long lines
    assert "interrupted" in shown and f"nncli train --resume {run}".replace(" ", "") in shown
    s = summary(run)
    assert s["status"] == "interrupted" and s["epochs"] == 2
    monkeypatch.setattr(render.TrainProgress, "on_epoch", original)
    r = run_cli("train", "--resume", run, "-q")
    assert r.exit_code == 0, r.output
    train_lib(cfg, tmp_path / "ref")
    assert_same_weights(tmp_path / "ref", run)
