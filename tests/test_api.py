"""The public Python API: README's examples run as shown, a run in memory writes nothing and equals the one
on disk bit for bit, `import nncli` stays cheap, and every consumer of a run's data sees the rows training
used (`nncli evaluate --split val` against the val_* columns of metrics.csv)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nncli
from nncli import runner
from nncli.errors import ConfigError
from nncli.events import Events, Start

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "configs" / "xor.yaml"
SPIRAL = ROOT / "configs" / "spiral.yaml"


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def readme_python_blocks(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, re.S)


def test_readme_python_api_examples_run_as_shown(tmp_path):
    blocks = readme_python_blocks("Python API")
    assert blocks, "README has a Python API example"
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    for i, code in enumerate(blocks):
        script = tmp_path / f"example{i}.py"
        script.write_text(code, encoding="utf-8")
        r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    runs = [p for p in (tmp_path / "runs").iterdir() if "-sweep-" not in p.name]  # the sweep example's aside
    assert len(runs) == 1 and {p.name for p in runs[0].iterdir()} == {  # snapshots: the default for 2-D data
        "config.yaml", "weights.npz", "metrics.csv", "summary.json", "snapshots.npz"}


def test_training_in_memory_writes_nothing_and_equals_the_run_on_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    seen: list[object] = []

    class Record(Events):
        def on_start(self, start):
            seen.append(start)

        def on_epoch(self, row):
            seen.append(row["epoch"])

    memory = nncli.train(XOR, {"train.epochs": 40, "optimizer.lr": 0.5}, runs_dir=None, events=Record())
    assert files_under(tmp_path) == before
    assert memory.path is None and memory.status == "completed"
    assert isinstance(seen[0], Start) and seen[0].run_dir is None and seen[0].epochs == 40
    assert seen[1:] == list(range(1, 41))
    assert len(memory.metrics) == 40 and memory.history["epoch"].tolist() == list(range(1, 41))

    disk = nncli.train(XOR, ["train.epochs=40", "optimizer.lr=0.5"], runs_dir=tmp_path / "runs")
    assert disk.path.parent == tmp_path / "runs" and disk.path.name.startswith("xor-")
    again = nncli.load_run(disk.path)
    for layer_m, layer_d in zip(memory.network.layers, again.network.layers):
        np.testing.assert_array_equal(layer_m.W, layer_d.W)
        np.testing.assert_array_equal(layer_m.b, layer_d.b)
    assert memory.metrics[-1]["loss"] == again.metrics[-1]["loss"]
    assert memory.summary["final"]["loss"] == again.summary["final"]["loss"]


def test_a_run_in_memory_can_be_written_to_a_run_directory_later(tmp_path):
    memory = nncli.train(XOR, {"train.epochs": 5}, runs_dir=None)
    from nncli.runs import RunDir

    target = tmp_path / "kept"
    target.mkdir()
    memory.memory.save(RunDir(target))
    back = nncli.load_run(target)
    assert back.status == "completed" and len(back.metrics) == 5
    np.testing.assert_array_equal(back.network.layers[0].W, memory.network.layers[0].W)


def test_import_nncli_loads_neither_typer_nor_rich_nor_pydantic():
    code = ("import sys, nncli; heavy = [m for m in ('typer', 'rich', 'pydantic', 'yaml', 'click') "
            "if m in sys.modules]; print(heavy); assert nncli.__version__")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_api_names_are_the_functions_not_modules():
    for name in ("train", "resume", "load_run", "load_config", "gradcheck"):
        assert callable(getattr(nncli, name)) and not isinstance(getattr(nncli, name), type(nncli))


@pytest.fixture(scope="module")
def spiral_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("spiral") / "run"
    run = nncli.train(SPIRAL, {"train.epochs": 4}, out=out)
    assert run.status == "completed"
    return out


def test_evaluate_val_sees_exactly_the_rows_training_validated_on(run_cli, spiral_run):
    with open(spiral_run / "metrics.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    r = run_cli("evaluate", spiral_run, "--split", "val", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    summary = json.loads((spiral_run / "summary.json").read_text())
    assert d["samples"] == summary["dataset"]["val"] == 120
    assert d["loss"] == float(last["val_loss"])  # the same rows, the same weights: the same number
    assert d["accuracy"] == float(last["val_accuracy"])
    train = json.loads(run_cli("evaluate", spiral_run, "--split", "train", "--json").stdout)
    assert train["samples"] == summary["dataset"]["train"] == 480
    assert train["loss"] == pytest.approx(summary["evaluation"]["train"]["loss"], rel=1e-12)


def test_every_consumer_gets_the_splits_training_made(spiral_run):
    run = nncli.load_run(spiral_run)
    prepared = runner.prepare(nncli.load_config(spiral_run / "config.yaml"))
    data = run.data()
    for name in ("train", "val"):
        np.testing.assert_array_equal(data.get(name).X, prepared.data.get(name).X)
        np.testing.assert_array_equal(data.get(name).T, prepared.data.get(name).T)
        np.testing.assert_array_equal(data.get(name).y, prepared.data.get(name).y)
    assert data.test is None
    ev = run.evaluate(split="val")
    assert ev.samples == len(prepared.data.val) and ev.accuracy == run.metrics[-1]["val_accuracy"]


def test_library_errors_name_parameters_and_the_cli_names_flags(run_cli, spiral_run):
    run = nncli.load_run(spiral_run)
    with pytest.raises(ConfigError) as e:
        run.evaluate(split="bogus")
    assert str(e.value).startswith("split: unknown split 'bogus'") and "--split" not in str(e.value)
    r = run_cli("evaluate", spiral_run, "--split", "bogus")
    assert r.exit_code == 2 and "error: --split: unknown split 'bogus'" in r.stderr


def test_resume_of_a_finished_run_trains_nothing_and_says_why(tmp_path):
    run = nncli.train(XOR, {"train.epochs": 3}, out=tmp_path / "r")
    again = nncli.resume(run.path)
    assert again.trained is False and "already completed" in again.notes[0]
    assert again.status == "completed"


def test_gradcheck_api_returns_the_report_the_cli_prints():
    report = nncli.gradcheck(XOR)
    assert report.passed and report.architecture == "2 -> [2 tanh] -> [1 sigmoid]"
    assert [t.name for t in report.tensors] == ["W1", "b1", "W2", "b2"]
