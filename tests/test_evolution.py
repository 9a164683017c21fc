"""`nncli inspect --section evolution`: decision maps at a few snapshots, the XOR units' boolean functions
snapshot by snapshot, the weight norms per layer; readable at 100 columns for xor, moons and spiral;
--json gives the numbers; --png writes evolution.png and an evolution.gif of one frame per snapshot; a run
without snapshots says how to record them."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nncli
from conftest import ROOT, XOR
from nncli import analysis
from nncli.npyfiles import read_npz

WIDTH = 100


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Short xor, moons and spiral runs with their default snapshots (20), and a run without."""
    base = tmp_path_factory.mktemp("evolution")
    out = {}
    for name, overrides in (("xor", ["train.epochs=400"]), ("moons", ["train.epochs=40"]),
                            ("spiral", ["train.epochs=40"]), ("none", ["train.epochs=40", "train.snapshots=0"])):
        config = ROOT / "configs" / f"{'moons' if name == 'none' else name}.yaml"
        out[name] = nncli.train(config, overrides, out=base / name).path
    return out


def inspect(run_cli, *args):
    r = run_cli("inspect", *map(str, args))
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.mark.parametrize("name", ["xor", "moons", "spiral"])
def test_evolution_is_drawn_at_100_columns(run_cli, runs, name):
    out = inspect(run_cli, runs[name], "--section", "evolution", "--width", WIDTH)
    long = [line for line in out.splitlines() if len(line) > WIDTH]
    assert not long, long[0]
    s = read_npz(runs[name] / "snapshots.npz")
    epochs = s["epochs"].tolist()
    assert len(epochs) == 20 and f"20 snapshots of the weights, epochs 0 to {epochs[-1]}" in out
    assert "the output over the data's range at a few snapshots" in out
    assert "epoch 0  loss" in out and f"epoch {epochs[-1]}  loss" in out  # first and last frame
    assert "weight norms per layer" in out and "‖W1‖" in out and "‖W2‖" in out
    assert ("what each unit computes" in out) == (name == "xor")


def test_xor_truth_tables_show_when_each_unit_settles(run_cli, runs):
    data = json.loads(inspect(run_cli, runs["xor"], "--section", "evolution", "--json"))["evolution"]
    tt = data["truth_tables"]
    rows, settled = tt["snapshots"], tt["settled"]
    assert [r["epoch"] for r in rows] == data["epochs"]
    run = nncli.load_run(runs["xor"])
    assert rows[-1]["units"]["output"] == "XOR"  # seed 0 solves XOR
    for unit, epoch in settled.items():
        k = data["epochs"].index(epoch)
        assert all(r["units"][unit] == rows[-1]["units"][unit] for r in rows[k:])
        assert k == 0 or rows[k - 1]["units"][unit] != rows[-1]["units"][unit]
    # each row is analysis.truth_tables of that snapshot's weights
    for k in (0, 7, len(rows) - 1):
        net = run.snapshots.network(k, run.network)
        want = analysis.truth_tables(net)
        assert rows[k]["units"] == {u["name"]: u["function"] for layer in want["layers"] for u in layer["units"]}
    out = inspect(run_cli, runs["xor"], "--section", "evolution", "--width", WIDTH)
    final = rows[-1]["units"]
    assert f"h1 ~ {final['h1']} from epoch {settled['h1']}" in out
    assert f"output ~ XOR from epoch {settled['output']}" in out


def test_json_has_the_numbers(run_cli, runs):
    data = json.loads(inspect(run_cli, runs["spiral"], "--section", "evolution", "--json"))["evolution"]
    s = read_npz(runs["spiral"] / "snapshots.npz")
    assert data["snapshots"] == 20 and data["epochs"] == s["epochs"].tolist()
    for name in ("W1", "W2", "W3"):
        want = [float(np.linalg.norm(W.astype(np.float64))) for W in s[name]]
        assert data["weight_norms"][name] == pytest.approx(want, rel=1e-12)
    run = nncli.load_run(runs["spiral"])
    last = run.evaluate(split="train")
    assert data["loss"][-1] == pytest.approx(last.loss, rel=1e-6)
    assert data["accuracy"][-1] == pytest.approx(last.accuracy)
    assert data["frames"][0] == 0 and data["frames"][-1] == data["epochs"][-1] and len(data["frames"]) == 8
    assert data["loss"][0] > data["loss"][-1]


@pytest.mark.parametrize("name", ["xor", "spiral"])
def test_png_writes_a_grid_and_a_gif_of_every_snapshot(run_cli, runs, name, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    pytest.importorskip("matplotlib")
    r = run_cli("inspect", runs[name], "--section", "evolution", "--png", tmp_path)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evolution.gif", "evolution.png"]
    with Image.open(tmp_path / "evolution.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == 20
    with Image.open(tmp_path / "evolution.png") as png:
        assert png.format == "PNG" and png.size[0] > 800 and png.size[1] > 600  # 4 rows of 5 frames


def test_gif_of_a_network_without_2d_inputs_shows_its_weights(run_cli, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    pytest.importorskip("matplotlib")
    run = nncli.train(ROOT / "configs" / "weight-decay.yaml", ["train.snapshots=5", "train.epochs=50"],
                      out=tmp_path / "run")
    assert len(run.snapshots) == 5
    r = run_cli("inspect", run.path, "--section", "evolution", "--png", tmp_path / "pics")
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "pics" / "evolution.gif") as gif:
        assert gif.n_frames == 5
    assert "weight norms per layer" in r.stdout and "the output over" not in r.stdout


def test_a_run_without_snapshots_says_how_to_record_them(run_cli, runs):
    out = inspect(run_cli, runs["none"], "--section", "evolution", "--section", "weights")
    assert "recorded no snapshots" in out and "train.snapshots=" in out
    assert "weights and biases" in out  # the other section is still drawn
    data = json.loads(inspect(run_cli, runs["none"], "--section", "evolution", "--json"))
    assert data["evolution"]["snapshots"] == 0


def test_a_damaged_snapshot_file_is_said_and_the_rest_drawn(run_cli, runs, tmp_path):
    import shutil
    run = tmp_path / "damaged"
    shutil.copytree(runs["xor"], run)
    (run / "snapshots.npz").write_bytes(b"not a zip file")
    out = " ".join(inspect(run_cli, run).split())  # the message may be wrapped
    assert "snapshots.npz: not a readable .npz file" in out
    assert "how the network computes XOR" in out
