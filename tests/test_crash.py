"""Crash safety: a real `nncli train` killed with SIGKILL at random moments leaves a run directory that
`load_run` and `nncli inspect` read and that `--resume` continues from its last checkpoint to the
weights of an uninterrupted run, bit for bit. Disk full and read-only places: exit 2 before training
where it can be detected, never a half-written file."""

from __future__ import annotations

import errno
import json
import os
import stat
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, XOR
from nncli import run as run_mod
from nncli import atomic, resuming, runner

CONFIG = """\
seed: 5
dtype: float64
data: {name: moons, n_samples: 120}
model:
  layers: [{units: 5, activation: tanh}, {units: 1, activation: sigmoid}]
loss: binary_crossentropy
optimizer: {name: adam, lr: 0.01}
train: {epochs: 40, batch_size: 16, input_noise: 0.02, checkpoint_every: 1}
"""


def weights(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "weights.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    cfg = tmp / "c.yaml"
    cfg.write_text(CONFIG)
    proc = subprocess.run([sys.executable, "-m", "nncli", "train", str(cfg), "--out", str(tmp / "ref"), "-q"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return cfg, weights(tmp / "ref")


def kill_at(cfg: Path, run: Path, delay: float, after_start: bool) -> None:
    """Start training; SIGKILL it `delay` seconds after its config.yaml appears (after_start) or after
    the process started."""
    proc = subprocess.Popen([sys.executable, "-m", "nncli", "train", str(cfg), "--out", str(run), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if after_start:
            deadline = time.monotonic() + 60
            while not (run / "config.yaml").exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)


@pytest.mark.parametrize("trial", range(6))
def test_sigkill_at_a_random_moment_then_inspect_and_resume(run_cli, tmp_path, reference, trial):
    cfg, ref = reference
    rng = random.Random(trial)
    run = tmp_path / "run"
    kill_at(cfg, run, delay=rng.uniform(0.0, 1.2), after_start=trial > 0)
    leftovers = [p.name for p in run.iterdir() if p.name.endswith(".tmp")] if run.exists() else []
    if not (run / "config.yaml").exists():  # killed before the run began: nothing to resume, said clearly
        r = run_cli("train", "--resume", run)
        assert r.exit_code == 2 and "Traceback" not in r.output
        assert ("no such directory" in r.stderr or "the run was stopped before it started" in r.stderr), r.stderr
        return
    loaded = run_mod.load_run(run)  # config.yaml never exists without weights.npz
    status = loaded.summary.get("status")
    assert status in ("running", "completed"), status
    assert all(np.isfinite(a).all() for a in weights(run).values())
    r = run_cli("inspect", run)
    assert r.exit_code == 0, r.output
    r = run_cli("train", "--resume", run, "-q")
    assert r.exit_code == 0, r.output
    if status == "completed":
        assert "already completed" in r.stderr
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "completed" and s["epochs"] == 40
    for k, a in weights(run).items():
        assert np.array_equal(a, ref[k]), (trial, k)
    with np.load(cfg.parent / "ref" / "snapshots.npz") as want, np.load(run / "snapshots.npz") as got:
        assert want.files == got.files and all(np.array_equal(want[k], got[k]) for k in want.files), trial
    # a killed write leaves at most a temporary file, never a run file; --resume removes it
    assert all(name.startswith(".") for name in leftovers)
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


def test_resume_removes_the_temporary_files_of_killed_writes(run_cli, tmp_path, reference):
    cfg, _ = reference
    run = tmp_path / "run"
    assert run_cli("train", cfg, "train.epochs=3", "--out", run, "-q").exit_code == 0
    (run / ".weights.npz.abc123.tmp").write_bytes(b"half a file")
    (run / ".checkpoint.npz.x.tmp").write_bytes(b"")
    (run / "notes.txt").write_text("mine")
    assert run_cli("train", "--resume", run, "train.epochs=4").exit_code == 0
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.npz", "config.yaml", "metrics.csv", "notes.txt",
                                                      "snapshots.npz", "summary.json", "weights.npz"]


# -- disk full, read-only places ------------------------------------------------------------------
def test_a_runs_dir_that_cannot_be_created_exits_2_before_training(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = run_cli("train", XOR, "--runs-dir", blocker / "runs", "-q")
    assert r.exit_code == 2 and "cannot create the run directory" in r.stderr and "Traceback" not in r.output
    r = run_cli("train", XOR, "--runs-dir", "/proc/nncli-runs", "-q")  # a read-only file system
    assert r.exit_code == 2 and "/proc/nncli-runs" in r.stderr and "Traceback" not in r.output


def test_a_read_only_runs_dir_exits_2_and_leaves_nothing(run_cli, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "runs"))

    monkeypatch.setattr(Path, "mkdir", refuse)
    r = run_cli("train", XOR, "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 2, r.output
    assert "permission denied" in r.stderr and "--runs-dir" in r.stderr
    monkeypatch.undo()
    assert not (tmp_path / "runs").exists()


def full_disk_after(monkeypatch, writes: int) -> None:
    """Every atomic write after the first `writes` fails with ENOSPC inside the temporary file."""
    count = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd):
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # the directory's fsync after a rename
            return real_fsync(fd)
        count["n"] += 1
        if count["n"] > writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)


def test_disk_full_before_training_exits_2_and_removes_the_new_run_dir(run_cli, tmp_path, monkeypatch):
    full_disk_after(monkeypatch, 1)  # weights.npz written, config.yaml fails
    r = run_cli("train", XOR, "--out", tmp_path / "run", "-q")
    assert r.exit_code == 2, r.output
    assert "cannot write config.yaml: No space left on device" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "run").exists()


def test_too_little_free_space_is_detected_before_training(run_cli, tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(runner.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    r = run_cli("train", XOR, "--out", tmp_path / "run", "-q")
    assert r.exit_code == 2 and "MiB free" in r.stderr and "choose another --runs-dir" in r.stderr
    assert not (tmp_path / "run").exists()


def test_disk_full_during_training_keeps_the_last_good_files(run_cli, tmp_path, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    run = tmp_path / "run"
    # start: 4 writes; every checkpoint: 5 writes (snapshots.npz, then the 4 of a checkpoint). Let 3
    # checkpoints through, and the 4th's snapshots.npz and checkpoint.npz, then the disk is full.
    full_disk_after(monkeypatch, 4 + 3 * 5 + 2)
    r = run_cli("train", cfg, "--out", run, "-q")
    assert r.exit_code == 2, r.output
    assert "No space left on device" in r.stderr and "Traceback" not in r.output
    monkeypatch.undo()
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.npz", "config.yaml", "metrics.csv",
                                                      "snapshots.npz", "summary.json", "weights.npz"]  # no temporary files
    loaded = run_mod.load_run(run)
    assert loaded.summary["status"] == "running" and loaded.summary["epochs"] == 3
    plan = resuming.open_resume(run)
    assert plan.state.epoch == 3 or plan.state.epoch == 4  # the 4th checkpoint.npz may have got through
    r = run_cli("train", "--resume", run, "-q")
    assert r.exit_code == 0, r.output
