"""`nncli sweep` runs: a point equals `nncli train` bit for bit, the local pool of 2 worker processes,
Ctrl-C then --resume (finished runs kept untouched), and `nncli compare --group-by` against numpy."""

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
from typer.testing import CliRunner

import nncli
from nncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "configs" / "xor.yaml"
SPIRAL = ROOT / "configs" / "spiral.yaml"
NNCLI = [sys.executable, "-m", "nncli"]
ONE_THREAD = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
FILES = {"config.yaml", "weights.npz", "metrics.csv", "summary.json", "snapshots.npz"}  # 2-D data: snapshots by default


def results(sweep: Path) -> list[dict[str, str]]:
    with (sweep / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def weights(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "weights.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert sorted(wa) == sorted(wb)
    for k in wa:
        assert wa[k].dtype == wb[k].dtype
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=f"{k} of {a} and {b}")


def losses(run: Path) -> list[str]:
    with (run / "metrics.csv").open() as f:
        return [row["loss"] for row in csv.DictReader(f)]


def test_a_sweep_point_equals_nncli_train_bit_for_bit(tmp_path):
    """float32 mini-batches on the spiral (shuffling, BLAS sums): the pool's run directory has the weights
    and losses of `nncli train` with the same overrides and seed, both with one BLAS thread."""
    sweep = tmp_path / "sweep"
    r = subprocess.run([*NNCLI, "sweep", str(SPIRAL), "-p", "optimizer.lr=0.003,0.03", "-p",
                        "model.layers.0.activation=tanh,relu", "--seeds", "2", "train.epochs=4", "--workers", "2",
                        "--out", str(sweep)], env=ONE_THREAD, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(sweep)
    rows = results(sweep)
    assert len(rows) == 8 and {row["status"] for row in rows} == {"completed"}
    for row in (rows[3], rows[6]):  # lr=0.003 relu seed 1; lr=0.03 relu seed 0
        point = sweep / row["run"]
        summary = json.loads((point / "summary.json").read_text())
        assert summary["command"][:3] == ["nncli", "train", str(SPIRAL)]
        out = tmp_path / row["run"]
        t = subprocess.run([*NNCLI, "train", str(SPIRAL), "train.epochs=4", f"optimizer.lr={row['optimizer.lr']}",
                            f"model.layers.0.activation={row['model.layers.0.activation']}", "--seed", row["seed"],
                            "--out", str(out), "--quiet"], env=ONE_THREAD, capture_output=True, text=True, timeout=120)
        assert t.returncode == 0, t.stderr
        assert_same_weights(point, out)
        assert losses(point) == losses(out)
        assert (point / "config.yaml").read_text() == (out / "config.yaml").read_text()


def test_the_local_pool_trains_on_two_worker_processes(tmp_path):
    result = nncli.sweep(XOR, {"model.layers.0.activation": ["tanh", "relu"], "optimizer.lr": [0.25, 1.0]},
                         ["train.epochs=200"], seeds=3, workers=2, runs_dir=tmp_path)
    assert result.path.parent == tmp_path and result.path.name.startswith("xor-sweep-")
    rows = results(result.path)
    assert len(rows) == 12 == result.total
    assert {row["worker"] for row in rows} == {"worker-1", "worker-2"}
    for row in rows:
        run = result.path / row["run"]
        assert {p.name for p in run.iterdir()} == FILES
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == row["status"] == "completed" and summary["epochs"] == 200
        assert float(row["loss"]) == summary["final"]["loss"]
        assert int(row["seed"]) == summary["seed"]
    # the in-process executor gives the same weights (float64 XOR: thread counts do not matter)
    again = nncli.sweep(XOR, {"model.layers.0.activation": ["relu"], "optimizer.lr": [1.0]}, ["train.epochs=200"],
                        seeds=3, workers=1, runs_dir=tmp_path)
    for row in results(again.path):
        assert_same_weights(again.path / row["run"], result.path / row["run"])
    sweep_yaml = (result.path / "sweep.yaml").read_text()
    assert "optimizer.lr:\n  - 0.25\n  - 1.0" in sweep_yaml or "optimizer.lr: [0.25, 1.0]" in sweep_yaml


def test_ctrl_c_stops_with_checkpoints_and_resume_finishes_without_rerunning(tmp_path):
    sweep = tmp_path / "sweep"
    args = [*NNCLI, "sweep", str(XOR), "-p", "optimizer.lr=0.1,0.5,1", "--seeds", "3", "train.epochs=30000",
            "--workers", "2", "--no-stack", "--out", str(sweep)]  # the worker pool (stacks: test_stacked_sweeps)
    proc = subprocess.Popen(args, env=ONE_THREAD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not ((sweep / "results.csv").exists() and len(results(sweep)) >= 2):
            time.sleep(0.05)
        assert (sweep / "results.csv").exists(), "no run finished within 2 minutes"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"continue with: nncli sweep --resume {sweep}" in err
    first = results(sweep)
    assert 2 <= len(first) < 9
    finished = {row["run"] for row in first if row["status"] == "completed"}
    stopped = [row["run"] for row in first if row["status"] == "interrupted"]
    assert stopped, "the running runs were stopped with a checkpoint"
    for name in stopped:
        assert (sweep / name / "checkpoint.npz").is_file()
        assert json.loads((sweep / name / "summary.json").read_text())["status"] == "interrupted"
    stamps = {name: (sweep / name / "weights.npz").stat().st_mtime_ns for name in finished}

    r = subprocess.run([*NNCLI, "sweep", "--resume", str(sweep), "--workers", "2", "--no-stack"], env=ONE_THREAD,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"{len(finished)} finished already" in r.stderr
    rows = results(sweep)
    assert len(rows) == 9 and {row["status"] for row in rows} == {"completed"}
    for name in finished:  # kept, not trained again
        assert (sweep / name / "weights.npz").stat().st_mtime_ns == stamps[name]
    name = stopped[0]
    assert not (sweep / name / "checkpoint.npz").exists()
    lr = next(row["optimizer.lr"] for row in rows if row["run"] == name)
    seed = next(row["seed"] for row in rows if row["run"] == name)
    nncli.train(XOR, {"train.epochs": 30000, "optimizer.lr": float(lr)}, seed=int(seed), out=tmp_path / "alone")
    assert_same_weights(sweep / name, tmp_path / "alone")


@pytest.fixture(scope="module")
def xor_sweep(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("groups") / "sweep"
    nncli.sweep(XOR, {"model.layers.0.activation": ["tanh", "sigmoid"], "optimizer.lr": [0.25, 2.0]},
                ["train.epochs=150"], seeds=4, workers=1, out=out)
    return out


def test_compare_group_by_numbers_match_numpy(xor_sweep):
    r = CliRunner().invoke(app, ["compare", str(xor_sweep), "--group-by", "model.layers.0.activation", "--json"])
    assert r.exit_code == 0, r.output
    groups = json.loads(r.stdout)
    assert [g["values"]["model.layers.0.activation"] for g in groups] == ["sigmoid", "tanh"]
    for g in groups:
        act = g["values"]["model.layers.0.activation"]
        runs = [p for p in xor_sweep.iterdir() if p.is_dir() and p.name.startswith(f"activation={act},")]
        summaries = [json.loads((p / "summary.json").read_text()) for p in runs]
        assert g["n"] == len(runs) == 8
        for metric in ("loss", "accuracy"):
            values = np.array([s["final"][metric] for s in summaries])
            stats = g["metrics"][metric]
            assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
            assert stats["sd"] == pytest.approx(values.std(ddof=1), rel=1e-12)
            assert (stats["min"], stats["max"], stats["n"]) == (values.min(), values.max(), 8)
        best = np.array([s["best"]["value"] for s in summaries])
        assert g["best"]["mean"] == pytest.approx(best.mean(), rel=1e-12)
        solved = [p for p, s in zip(runs, summaries) if s["final"]["accuracy"] == 1.0]
        assert g["solved"] == len(solved)
        firsts = []
        for p in solved:
            with (p / "metrics.csv").open() as f:
                firsts.append(next(int(row["epoch"]) for row in csv.DictReader(f) if float(row["accuracy"]) == 1.0))
        if firsts:
            assert g["solved_at"]["mean"] == pytest.approx(np.mean(firsts)) and g["solved_at"]["n"] == len(firsts)


def test_compare_of_a_sweep_directory_groups_by_its_swept_keys(xor_sweep, tmp_path):
    r = CliRunner().invoke(app, ["compare", str(xor_sweep)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["activation", "lr", "n"] and "solved" in lines[0]
    assert len([line for line in lines[1:] if line.split()[:1] in (["tanh"], ["sigmoid"])]) == 4
    assert "16 runs in 4 groups by model.layers.0.activation, optimizer.lr" in r.stdout
    r = CliRunner().invoke(app, ["compare", str(xor_sweep), "--csv"])
    rows = list(csv.DictReader(r.stdout.splitlines()))
    assert len(rows) == 4 and rows[0]["n"] == "4" and "loss_sd" in rows[0] and "solved_at_mean" in rows[0]
    r = CliRunner().invoke(app, ["compare", str(xor_sweep), "--per-run", "--json"])
    assert len(json.loads(r.stdout)) == 16
    png = tmp_path / "lr.png"
    r = CliRunner().invoke(app, ["compare", str(xor_sweep), "--png", str(png), "--metric", "accuracy"])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = CliRunner().invoke(app, ["compare", str(xor_sweep), "--group-by", "optimizer.lrr"])
    assert r.exit_code == 2 and "did you mean 'optimizer.lr'?" in r.stderr
