"""`nncli compare`: the differing config keys found from config.yaml, sorting, JSON rows, the loss PNG,
runs of every example config together, and bad run directories."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.cli import app

from test_cli_inspect import CONFIGS, check_width, small_overrides

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "configs" / "xor.yaml"


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> list[Path]:
    """XOR with two activations x two learning rates, 200 epochs each."""
    base = tmp_path_factory.mktemp("sweep")
    runs = []
    for act in ("tanh", "relu"):
        for lr in ("0.1", "1.0"):
            out = base / f"{act}-{lr}"
            r = cli("train", XOR, f"model.layers.0.activation={act}", f"optimizer.lr={lr}", "train.epochs=200",
                    "--out", out, "--quiet")
            assert r.exit_code == 0, r.output
            runs.append(out)
    return runs


def test_compare_finds_the_differing_keys(sweep):
    r = cli("compare", *sweep)
    assert r.exit_code == 0, r.output
    check_width(r.stdout)
    header = r.stdout.splitlines()[0].split()
    assert header[:3] == ["run", "activation", "lr"]
    for col in ("status", "epochs", "loss", "acc", "best", "time"):
        assert col in header
    assert "differing config keys: model.layers.0.activation, optimizer.lr" in r.stdout
    for run in sweep:
        assert run.name in r.stdout
    assert r.stdout.count("completed") == 4


def test_compare_json_rows_match_the_summaries(sweep):
    rows = json.loads(cli("compare", *sweep, "--json").stdout)
    assert [Path(r["run"]).name for r in rows] == [p.name for p in sweep]
    for row, run in zip(rows, sweep):
        summary = json.loads((run / "summary.json").read_text())
        act, lr = run.name.split("-")
        assert row["config"] == {"model.layers.0.activation": act, "optimizer.lr": float(lr)}
        assert row["final"]["loss"] == summary["final"]["loss"]
        assert row["epochs"] == 200 and row["status"] == "completed"
        assert row["seconds"] == summary["wall_seconds"]


def test_sort_orders_best_first(sweep):
    rows = json.loads(cli("compare", *sweep, "--json", "--sort", "final.loss").stdout)
    losses = [r["final"]["loss"] for r in rows]
    assert losses == sorted(losses)
    rows = json.loads(cli("compare", *sweep, "--json", "--sort", "optimizer.lr").stdout)
    assert [r["config"]["optimizer.lr"] for r in rows] == [0.1, 0.1, 1.0, 1.0]
    table = cli("compare", *sweep, "--sort", "loss").stdout.splitlines()
    best = min(rows, key=lambda r: r["final"]["loss"])
    assert table[1].startswith(Path(best["run"]).name)


def test_sort_by_an_unknown_metric_lists_the_choices(sweep):
    r = cli("compare", *sweep, "--sort", "val_accuracy")
    assert r.exit_code == 2
    assert "--sort: cannot sort by 'val_accuracy'" in r.stderr and "final.loss" in r.stderr
    assert "optimizer.lr" in r.stderr


def test_compare_png_of_the_loss_curves(sweep, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "loss.png"
    r = cli("compare", *sweep, "--png", png)
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
    r = cli("compare", *sweep, "--png", tmp_path / "loss.txt")
    assert r.exit_code == 2 and "must name a .png file" in r.stderr


def test_compare_png_without_matplotlib(sweep, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = cli("compare", *sweep, "--png", tmp_path / "loss.png")
    assert r.exit_code == 2 and 'pip install -e ".[plot]"' in r.stderr


def test_identical_configs_and_a_killed_run(sweep, tmp_path):
    killed = tmp_path / "killed"
    shutil.copytree(sweep[0], killed)
    (killed / "summary.json").unlink()
    (killed / "weights.npz").unlink()
    r = cli("compare", sweep[0], killed)
    assert r.exit_code == 0, r.output
    assert "the runs' configs are identical" in r.stdout
    assert "incomplete" in r.stdout
    rows = json.loads(cli("compare", sweep[0], killed, "--json").stdout)
    assert rows[1]["status"] == "incomplete" and rows[1]["epochs"] == 200
    assert rows[1]["final"]["loss"] == rows[0]["final"]["loss"]


def test_one_bad_directory_fails_the_whole_compare(sweep, tmp_path):
    r = cli("compare", *sweep, tmp_path / "missing")
    assert r.exit_code == 2 and r.stdout == ""
    assert "missing: no such directory" in r.stderr


def test_compare_runs_of_every_example_config(tmp_path):
    runs = []
    for config in CONFIGS:
        overrides = small_overrides(config)
        if overrides is None:
            continue
        out = tmp_path / config.stem
        r = cli("train", config, *overrides, "--out", out, "--quiet")
        assert r.exit_code == 0, r.output
        runs.append(out)
    assert len(runs) >= 4  # xor, circles, moons, spiral are generated, always available
    r = cli("compare", *runs, "--sort", "final.loss")
    assert r.exit_code == 0, r.output
    check_width(r.stdout)
    for run in runs:
        assert run.name in r.stdout
    assert "differing config keys:" in r.stdout and "data.name" in r.stdout
    rows = json.loads(cli("compare", *runs, "--json").stdout)
    assert len(rows) == len(runs) and all(r["epochs"] == 3 for r in rows)


def test_a_directory_of_runs_stands_for_its_runs(sweep, tmp_path):
    """`nncli compare runs/*` where runs/ holds one sweep directory per experiment."""
    parent = tmp_path / "runs"
    (parent / "exp").mkdir(parents=True)
    for run in sweep[:2]:
        shutil.copytree(run, parent / "exp" / run.name)
    shutil.copytree(sweep[2], parent / sweep[2].name)
    rows = json.loads(cli("compare", *sorted(parent.iterdir()), "--json").stdout)
    assert sorted(Path(r["run"]).name for r in rows) == sorted(p.name for p in sweep[:3])
    (parent / "empty").mkdir()
    r = cli("compare", parent / "empty")
    assert r.exit_code == 2 and "not a run directory" in r.stderr


def test_aggregates_of_losses_near_the_largest_float():
    """Diverged runs keep their last finite loss, which may be near 1e308: the mean and the standard
    deviation of such values are computed without overflow (and equal the plain formulas elsewhere)."""
    from nncli.aggregate import stats

    s = stats([5.669e301, 1.094e304, 1.7e308])
    assert s["mean"] == pytest.approx((5.669e301 + 1.094e304 + 1.7e308) / 3) and s["sd"] > 0 and s["n"] == 3
    assert stats([1.0, 2.0, 3.0]) == {"mean": 2.0, "sd": 1.0, "min": 1.0, "max": 3.0, "n": 3}
