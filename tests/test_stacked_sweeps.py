"""`nncli sweep` with stacks: every run of a stack has the run directory `nncli train` makes (weights,
snapshots and metrics bit for bit, config.yaml the same) and a row in results.csv like an unstacked
sweep's; the grouping (what stacks, what goes to the pool and why, the memory budget) is said; Ctrl-C
checkpoints the whole stack and --resume continues it exactly."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nncli
from nncli import stack_plan
from nncli.errors import ConfigError
from nncli.grid import build_grid, expand
from nncli.readers import read_yaml_mapping
from nncli.tasks import Stack, Task

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "configs" / "xor.yaml"
MOONS = ROOT / "configs" / "moons.yaml"
NNCLI = [sys.executable, "-m", "nncli"]
ONE_THREAD = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def results(sweep: Path) -> list[dict[str, str]]:
    with (sweep / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open(newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def assert_same_run(a: Path, b: Path) -> None:
    """Two run directories hold the same training: files, weights, snapshots, metrics, config.yaml."""
    assert {p.name for p in a.iterdir()} == {p.name for p in b.iterdir()}
    for name in ("weights.npz", "snapshots.npz", "checkpoint.npz"):
        if (a / name).exists():
            x, y = arrays(a / name), arrays(b / name)
            assert list(x) == list(y)
            for k in x:
                if k != "state":  # a checkpoint's state holds timings
                    assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), f"{name}:{k}"
    assert metrics(a) == metrics(b)
    assert (a / "config.yaml").read_text() == (b / "config.yaml").read_text()
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for key in ("status", "message", "epochs", "steps", "best", "evaluation", "architecture", "parameters",
                "dataset", "seed", "predictions"):
        assert sa.get(key) == sb.get(key), key


def plan_of(config: Path, params: dict, overrides=(), seeds=None) -> list[Task]:
    grid = build_grid(params, list(overrides), None, seeds, None, 0)
    return [Task(p.index, p.name, p.config, ["nncli"]) for p in expand(read_yaml_mapping(config), grid)]


def test_a_stacked_run_is_the_run_nncli_train_makes(tmp_path):
    """Moons in float32 (shuffled mini-batches, a validation split, data drawn per seed, BLAS sums) and XOR
    in float64: every run of the stacks equals `nncli train` with its overrides and seed."""
    sweep = tmp_path / "sweep"
    r = subprocess.run([*NNCLI, "sweep", str(MOONS), "-p", "optimizer.lr=0.003,0.03", "-p",
                        "model.init=he_normal,glorot_uniform", "--seeds", "2", "train.epochs=6",
                        "train.input_noise=0.05", "--stack", "--out", str(sweep)],
                       env=ONE_THREAD, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "stacks: 8 runs of 2 -> [16 relu] -> [16 relu] -> [1 sigmoid] on moons stacked: 1 stack (8)" in r.stderr
    rows = results(sweep)
    assert len(rows) == 8 and {row["status"] for row in rows} == {"completed"}
    for row in rows[::3]:
        alone = tmp_path / row["run"]
        t = subprocess.run([*NNCLI, "train", str(MOONS), f"optimizer.lr={row['optimizer.lr']}",
                            f"model.init={row['model.init']}", "train.epochs=6", "train.input_noise=0.05",
                            "--seed", row["seed"], "--out", str(alone), "-q"],
                           env=ONE_THREAD, capture_output=True, text=True, timeout=120)
        assert t.returncode == 0, t.stderr
        assert_same_run(sweep / row["run"], alone)


def test_results_csv_and_run_directories_look_like_an_unstacked_sweeps(tmp_path):
    args = (XOR, {"optimizer.lr": [0.25, 1.0], "model.layers.0.activation": ["tanh", "relu"]}, ["train.epochs=300"])
    stacked = nncli.sweep(*args, seeds=3, workers=1, stack=True, out=tmp_path / "stacked")
    pooled = nncli.sweep(*args, seeds=3, workers=1, stack=False, out=tmp_path / "pooled")
    a, b = results(stacked.path), results(pooled.path)
    assert list(a[0]) == list(b[0]) and len(a) == len(b) == 12
    for x, y in zip(a, b):
        assert {k: v for k, v in x.items() if k not in ("seconds", "worker")} == \
               {k: v for k, v in y.items() if k not in ("seconds", "worker")}
        assert_same_run(stacked.path / x["run"], pooled.path / y["run"])
    assert stacked.groups() == pooled.groups()


def test_runs_that_cannot_stack_go_elsewhere_and_the_plan_says_so():
    tasks = (plan_of(XOR, {"model.layers.0.units": [2, 3]}, seeds=3)
             + plan_of(XOR, {"optimizer.lr": [0.5]}, ["train.tensorboard=/tmp/tb"], seeds=2)
             + plan_of(XOR, {"train.epochs": [7]}))
    for i, t in enumerate(tasks):
        t.index = i
    units, notes = stack_plan.plan(tasks, "on", workers=2)
    stacks = [u for u in units if isinstance(u, Stack)]
    assert [len(s.tasks) for s in stacks] == [3, 3]  # layer sizes differ: one stack each
    assert {t.config["model"]["layers"][0]["units"] for t in stacks[0].tasks} == {2}
    alone = [u for u in units if isinstance(u, Task)]
    assert len(alone) == 3
    assert notes == ["2 runs on the worker pool: train.tensorboard writes events as a run trains",
                     "3 runs of 2 -> [2 tanh] -> [1 sigmoid] on xor stacked: 1 stack (3)",
                     "3 runs of 2 -> [3 tanh] -> [1 sigmoid] on xor stacked: 1 stack (3)",
                     "1 run of 2 -> [2 tanh] -> [1 sigmoid] on xor on the worker pool: no other run shares its "
                     "data, layers, loss and training settings"]
    assert [t.index for u in units for t in (u.tasks if isinstance(u, Stack) else [u])] != []
    assert stack_plan.plan(tasks, "off")[0] == tasks


def test_auto_stacks_only_where_it_pays():
    small = plan_of(MOONS, {"optimizer.lr": [0.5, 1]}, seeds=2)
    big = plan_of(MOONS, {"optimizer.lr": [0.5, 1]}, ["model.layers.0.units=512", "model.layers.1.units=512"], seeds=2)
    for i, t in enumerate(big):
        t.index = 10 + i
    units, notes = stack_plan.plan(small + big, "auto")
    assert isinstance(units[0], Stack) and len(units[0].tasks) == 4
    assert all(isinstance(u, Task) for u in units[1:]) and len(units) == 5
    assert notes[1].startswith("4 runs of 2 -> [512 relu] -> [512 relu] -> [1 sigmoid] on moons on the worker "
                               "pool: its network is large enough to keep the CPU busy alone (batch rows x "
                               "parameters 8,470,560 > 200,000; --stack stacks it anyway)")
    units, notes = stack_plan.plan(small + big, "on")
    assert [len(u.tasks) for u in units] == [4, 4]
    files = plan_of(MOONS, {"optimizer.lr": [0.5, 1]}, ["data={name: csv, path: /no/such.csv}"])
    units, notes = stack_plan.plan(files, "auto")
    assert notes == ["2 runs of [16 relu] -> [16 relu] -> [1 sigmoid] on csv on the worker pool: its data is "
                     "read from files (use --stack to stack it anyway)"]


def test_the_memory_budget_splits_a_group_and_workers_get_a_stack_each():
    tasks = plan_of(XOR, {"optimizer.lr": [0.25]}, ["train.epochs=1000"], seeds=70)
    per_run = stack_plan.member_bytes(nncli.load_config(XOR, ["train.epochs=1000"]), (4, 2))
    units, notes = stack_plan.plan(tasks, "on", budget_mb=20.5 * per_run / 2 ** 20, workers=1)
    assert [len(u.tasks) for u in units] == [18, 17, 17, 18]  # at most 20 runs each, nearly equal
    assert notes == ["70 runs of 2 -> [2 tanh] -> [1 sigmoid] on xor stacked: 4 stacks (18, 17, 17, 18)"]
    units, _ = stack_plan.plan(tasks, "on", workers=2)
    assert [len(u.tasks) for u in units] == [35, 35]  # two workers, enough runs for two stacks
    units, _ = stack_plan.plan(tasks[:40], "on", workers=2)
    assert [len(u.tasks) for u in units] == [40]  # too few runs to split


def test_ctrl_c_checkpoints_the_stack_and_resume_continues_it_exactly(tmp_path):
    sweep = tmp_path / "sweep"
    args = [*NNCLI, "sweep", str(XOR), "-p", "optimizer.lr=0.1,1", "--seeds", "3", "train.epochs=400000",
            "--workers", "1", "--stack", "--out", str(sweep)]
    proc = subprocess.Popen(args, env=ONE_THREAD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (sweep / "sweep.yaml").exists():
            time.sleep(0.05)
        time.sleep(2.0)  # inside the stack's training
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    rows = results(sweep)
    assert len(rows) == 6 and {row["status"] for row in rows} == {"interrupted"}
    epochs = {json.loads((sweep / row["run"] / "summary.json").read_text())["epochs"] for row in rows}
    assert len(epochs) == 1  # the whole stack stopped at the same point
    first = epochs.pop()
    assert 0 < first < 400000
    for row in rows:
        assert (sweep / row["run"] / "checkpoint.npz").is_file()
    # finishing 400000 epochs takes long: continue for a second, and see the stack go on from there
    continued = nncli.sweep(resume=sweep, workers=1, stack=True, should_stop=_after_calls(1000))
    assert continued.interrupted and {r["status"] for r in continued.rows} == {"interrupted"}
    later = {json.loads((sweep / row["run"] / "summary.json").read_text())["epochs"] for row in rows}
    assert len(later) == 1 and later.pop() > first
    summary = json.loads((sweep / rows[0]["run"] / "summary.json").read_text())
    assert [entry["epoch"] for entry in summary["resumed"]] == [first]


def _after_calls(n: int):
    """A should_stop that turns true at its n-th call (training asks after every batch)."""
    calls = iter(range(n + 1_000_000_000))
    return lambda: next(calls) >= n


@pytest.mark.parametrize("stop_at", [2, 777, 5001])  # calls of should_stop: about two per epoch here
def test_an_interrupted_stacked_sweep_resumed_equals_the_uninterrupted_one(tmp_path, stop_at):
    params = {"optimizer.lr": [0.05, 0.5], "model.init": ["glorot_normal", "he_normal"]}
    fixed = ["train.epochs=3000", "optimizer.name=adam", "train.checkpoint_every=0"]
    whole = nncli.sweep(XOR, params, fixed, seeds=2, workers=1, stack=True, out=tmp_path / "whole")
    part = nncli.sweep(XOR, params, fixed, seeds=2, workers=1, stack=True, out=tmp_path / "part",
                       should_stop=_after_calls(stop_at))
    assert part.interrupted
    done = nncli.sweep(resume=tmp_path / "part", workers=1, stack=True)
    assert not done.interrupted and {r["status"] for r in done.rows} == {"completed"}
    for row in whole.table():
        assert_same_run(whole.path / row["run"], done.path / row["run"])


def test_bad_stack_options_exit_2(tmp_path):
    r = subprocess.run([*NNCLI, "sweep", str(XOR), "-p", "optimizer.lr=0.1,1", "--stack-memory", "0",
                        "--runs-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--stack-memory" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ConfigError, match="stack"):
        nncli.sweep(XOR, {"optimizer.lr": [0.1]}, stack="sometimes", runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_exit_codes_diverged_runs_are_results_failed_runs_are_errors(tmp_path):
    """A sweep whose runs diverge exits 0 and counts them; one whose run fails (its data file is missing)
    exits 1, names the run and its message, and the other runs are kept."""
    diverging = subprocess.run([*NNCLI, "sweep", str(XOR), "loss=mse", "model.layers.1.activation=linear",
                                "-p", "optimizer.lr=0.1,1e6", "--seeds", "2", "train.epochs=50", "--workers", "1",
                                "--out", str(tmp_path / "diverging")], capture_output=True, text=True, timeout=120)
    assert diverging.returncode == 0, diverging.stderr
    statuses = [row["status"] for row in results(tmp_path / "diverging")]
    assert statuses.count("diverged") == 2 and statuses.count("completed") == 2
    data = tmp_path / "points.csv"
    data.write_text("x1,x2,label\n" + "".join(f"{i % 3},{i % 5},{i % 2}\n" for i in range(30)))
    failing = subprocess.run([*NNCLI, "sweep", str(XOR), "-p", f"data.path={data},{tmp_path / 'missing.csv'}",
                              "data.name=csv", "data.target=label", "train.epochs=5", "--workers", "1",
                              "--out", str(tmp_path / "failing")], capture_output=True, text=True, timeout=120)
    assert failing.returncode == 1, failing.stderr
    rows = {row["status"]: row for row in results(tmp_path / "failing")}
    assert set(rows) == {"completed", "failed"} and "missing.csv" in rows["failed"]["message"]
    assert f"failed: {rows['failed']['run']}" in failing.stderr and "Traceback" not in failing.stderr


def test_early_stopped_and_diverged_runs_look_alike_stacked_or_not(tmp_path):
    """With train.checkpoint_every and early stopping, and runs that diverge: a stacked sweep's run
    directories hold the same files as the pool's (a finished run that cannot be continued keeps no
    checkpoint.npz either way; a completed one keeps its last)."""
    args = (MOONS, {"optimizer.lr": [0.003, 0.1, 0.8, 50.0]}, ["optimizer.name=sgd",
             "train.epochs=30", "train.checkpoint_every=2", "data.n_samples=120", "loss=mse",
             "model.layers.2.activation=linear", "train.early_stopping={monitor: val_loss, patience: 3}"])
    stacked = nncli.sweep(*args, seeds=2, workers=1, stack=True, out=tmp_path / "stacked")
    pooled = nncli.sweep(*args, seeds=2, workers=1, stack=False, out=tmp_path / "pooled")
    statuses = [r["status"] for r in stacked.table()]
    assert "early_stopped" in statuses and "diverged" in statuses, statuses
    for x, y in zip(stacked.table(), pooled.table()):
        assert x["status"] == y["status"]
        assert_same_run(stacked.path / x["run"], pooled.path / y["run"])
        assert (stacked.path / x["run"] / "checkpoint.npz").exists() == (x["status"] == "completed")
