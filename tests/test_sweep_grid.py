"""`nncli sweep`'s grid: values read as YAML (commas inside YAML flow lists), the Cartesian product and
random draws, run names, and validation of every point before anything is written (exit 2)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nncli import grid
from nncli.cli import app
from nncli.errors import ConfigError
from nncli.readers import read_yaml_mapping

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "configs" / "xor.yaml"
LAYERS = ("[[{units: 8, activation: tanh}, {units: 1, activation: sigmoid}], "
          "[{units: 3, activation: relu}, {units: 3, activation: relu}, {units: 1, activation: sigmoid}]]")


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_values_are_yaml_separated_by_commas_or_a_flow_list():
    assert grid.parse_values("0.05,0.25,1", "k") == [0.05, 0.25, 1]
    assert grid.parse_values("tanh, relu", "k") == ["tanh", "relu"]
    assert grid.parse_values("[[8], [8, 8]]", "k") == [[8], [8, 8]]
    assert grid.parse_values("{name: normal, std: 0.1},he_normal", "k") == [{"name": "normal", "std": 0.1}, "he_normal"]
    layers = grid.parse_values(LAYERS, "model.layers")
    assert len(layers) == 2 and layers[1][0] == {"units": 3, "activation": "relu"}


def test_the_grid_is_the_cartesian_product_with_seeds_last():
    g = grid.build_grid(["model.layers.0.activation=tanh,relu", "optimizer.lr=0.1,1"], ["train.epochs=5"], seeds=3)
    points = grid.expand(read_yaml_mapping(XOR), g)
    assert len(points) == 12
    assert [p.name for p in points[:4]] == ["activation=tanh,lr=0.1,seed=0", "activation=tanh,lr=0.1,seed=1",
                                            "activation=tanh,lr=0.1,seed=2", "activation=tanh,lr=1,seed=0"]
    last = points[-1]
    assert last.values == {"model.layers.0.activation": "relu", "optimizer.lr": 1} and last.seed == 2
    assert last.config["seed"] == 2 and last.config["train"]["epochs"] == 5
    assert last.config["model"]["layers"][0]["activation"] == "relu" and last.config["optimizer"]["lr"] == 1.0


def test_random_draws_k_distinct_points_reproducibly():
    params = ["optimizer.lr=0.01,0.03,0.1,0.3,1", "model.layers.0.units=2,3,4,5"]
    a = grid.build_grid(params, random=6, sample_seed=4).points()
    b = grid.build_grid(params, random=6, sample_seed=4).points()
    full = grid.build_grid(params).points()
    assert a == b and len(a) == 6
    assert len({json.dumps(p) for p in a}) == 6 and all(p in full for p in a)
    assert a != grid.build_grid(params, random=6, sample_seed=5).points()
    with pytest.raises(ConfigError, match="asks for 21 random points, but the grid has 20"):
        grid.build_grid(params, random=21)


def test_run_names_are_filesystem_safe_short_and_unique():
    points = [{"model.layers": v, "data": d} for v in grid.parse_values(LAYERS, "k") for d in ("a/b", "a b")]
    names = grid.run_names(points, [0])
    assert names[0] == "layers=8-tanh+1-sigmoid,data=a_b,seed=0"
    assert names[1] == "layers=8-tanh+1-sigmoid,data=a_b,seed=0-2"  # a/b and a b both become a_b
    assert len(set(names)) == len(names)
    long = grid.run_names([{"k": "x" * 300}], [1])[0]
    assert len(long) <= grid.NAME_MAX and "/" not in long


def test_a_whole_layers_list_per_point_trains(tmp_path):
    r = cli("sweep", XOR, "-p", f"model.layers={LAYERS}", "train.epochs=3", "--workers", "1", "--out",
            tmp_path / "s", "--quiet")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(tmp_path / "s")
    rows = list(csv.DictReader((tmp_path / "s" / "results.csv").open()))
    assert [row["status"] for row in rows] == ["completed", "completed"]
    deep = yaml.safe_load((tmp_path / "s" / rows[1]["run"] / "config.yaml").read_text())
    assert [layer["units"] for layer in deep["model"]["layers"]] == [3, 3, 1]


@pytest.mark.parametrize("args, message", [
    (["-p", "optimizer.lrr=0.1,1"], "optimizer.lrr: unknown key; did you mean 'lr'?"),
    (["-p", "model.layer.0.units=2,3"], "did you mean 'layers'?"),
    (["-p", "model.layers.0.activation=tanh,relu,tanhh"],
     "the grid point model.layers.0.activation=tanhh is not a valid config:\nmodel.layers.0.activation: unknown "
     "activation 'tanhh'; did you mean 'tanh'?"),
    (["-p", "optimizer.lr=0.1,-1"], "the grid point optimizer.lr=-1 is not a valid config"),
    (["-p", "optimizer.lr=[]"], "optimizer.lr: has no values to sweep (the grid would be empty)"),
    ([], "nothing to sweep"),
    (["-p", "optimizer.lr=0.1,0.1"], "optimizer.lr: repeats the value 0.1"),
    (["-p", "optimizer.lr=0.1,1", "optimizer.lr=0.5"], "optimizer.lr: is both swept and fixed"),
    (["-p", "seed=1,2", "--seeds", "3"], "the seeds are given more than once"),
    (["-p", "optimizer.lr"], "must look like KEY=V1,V2,..."),
    (["-p", "optimizer.lr=0.1,1", "--random", "3"], "--random: asks for 3 random points, but the grid has 2"),
])
def test_bad_grids_exit_2_before_anything_is_written(tmp_path, args, message):
    r = cli("sweep", XOR, *args, "--runs-dir", tmp_path / "runs", "--workers", "1")
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "runs").exists()


def test_a_grid_file_with_seeds(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("model.layers.0.activation: [tanh, relu]\noptimizer.lr: [0.5]\nseeds: [3, 7]\n")
    g = grid.build_grid([], ["train.epochs=2"], grid_file=path)
    assert g.params == {"model.layers.0.activation": ["tanh", "relu"], "optimizer.lr": [0.5]} and g.seeds == [3, 7]
    path.write_text("optimizer.lr: 0.5\n")
    with pytest.raises(ConfigError, match=r"optimizer.lr: must be a list of values, e.g. \[0.5\]"):
        grid.build_grid([], grid_file=path)


def readme_bash_blocks(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", body, re.S)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_readme_sweep_commands_run_as_shown(tmp_path):
    """The lab walkthrough (### The lab's experiments as sweeps) and ## Sweeps, in one fresh directory:
    every block exits 0 and every sweep directory is complete (the Dask blocks start servers: see
    test_sweep_dask.py; blocks using jq run where jq is installed)."""
    bindir = Path(sys.executable).parent
    if not (bindir / "nncli").exists():
        pytest.skip("the nncli console script is not installed next to this Python")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    shutil.copytree(ROOT / "sweeps", tmp_path / "sweeps")
    blocks = readme_bash_blocks("### The lab's experiments as sweeps") + readme_bash_blocks("\n## Sweeps\n")
    assert sum("nncli sweep" in b for b in blocks) >= 6
    ran, said = 0, ""
    for block in blocks:
        if "dask " in block or ("jq " in block and shutil.which("jq") is None):
            continue
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, f"{block}\n{r.stderr[-3000:]}"
        said += r.stderr
        ran += 1
    assert ran >= 5
    for name, runs in (("xor-act-lr", 90), ("xor-init", 80), ("xor-units", 50), ("spiral", 12), ("spiral-depth", 3)):
        rows = list(csv.DictReader((tmp_path / "runs" / name / "results.csv").open()))
        assert len(rows) == runs and all(r["status"] in ("completed", "diverged") for r in rows), name
    assert (tmp_path / "xor-units.png").is_file() and (tmp_path / "xor-init.csv").read_text().count("\n") == 5
    # "Many seeds at once": the study's table in README is what the command prints
    text = (ROOT / "README.md").read_text()
    shown = text.split("### Many seeds at once: stacks", 1)[1].split("```\n", 3)[2]
    r = subprocess.run(["nncli", "compare", "runs/xor-init-500"], cwd=tmp_path, env={**env, "COLUMNS": "120"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    table = [line.rstrip() for line in shown.splitlines() if line.startswith(("init", "glorot", "he_", "lecun"))]
    assert len(table) == 5 and all(line in r.stdout + r.stderr for line in table), (table, r.stdout + r.stderr)
    assert shown.splitlines()[0] in said  # the sweep's "stacks:" line
