"""`nncli config`: the resolved config equals the config.yaml of a run started with the same arguments;
--json; --schema validates every shipped config and a run's config.yaml, and catches typos; bad input."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from conftest import ROOT, XOR

jsonschema = pytest.importorskip("jsonschema")


@pytest.mark.parametrize("args", [
    [],
    ["optimizer.lr=0.5", "model.layers.0.units=4", "--seed", "3"],
    pytest.param(["optimizer.name=adam", "optimizer.schedule=cosine", "model.init=he_normal", "train.tensorboard=tb"],
                 marks=pytest.mark.skipif(importlib.util.find_spec("tensorboardX") is None,
                                          reason="train.tensorboard needs the tensorboard extra")),
])
def test_config_equals_the_runs_config_yaml(args, run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths (train.tensorboard) resolve alike in both commands
    args = [*args, "train.epochs=2"]
    shown = run_cli("config", XOR, *args)
    assert shown.exit_code == 0, shown.output
    trained = run_cli("train", XOR, *args, "--out", tmp_path / "run", "-q")
    assert trained.exit_code == 0, trained.output
    assert shown.stdout == (tmp_path / "run" / "config.yaml").read_text()
    assert "2 -> [" in shown.stderr and "parameters (float64)" in shown.stderr


def test_config_json(run_cli):
    result = run_cli("config", XOR, "model.layers.0.units=3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["architecture"] == "2 -> [3 tanh] -> [1 sigmoid]"
    assert data["parameters"] == (2 + 1) * 3 + (3 + 1) * 1
    assert data["config"]["model"]["input"] == 2 and data["data"] == {"train": 4, "val": 0, "test": 0}


def test_bad_input_is_one_message_and_exit_2(run_cli, tmp_path):
    cases = [
        (["config", XOR, "loss=mse2"], "did you mean 'mse'"),
        (["config", XOR, "model.layers.0.activaton=relu"], "model.layers.0.activaton"),
        (["config", tmp_path / "missing.yaml"], "missing.yaml"),
        (["config"], "give a config file"),
        (["config", XOR, "--schema"], "--schema prints the schema of every config"),
        (["config", XOR, "data=csv", "data.path=/nowhere/x.csv"], "/nowhere/x.csv"),  # data that cannot be loaded
    ]
    for args, message in cases:
        result = run_cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and "Traceback" not in result.output, (args, result.stderr)
        assert result.stdout == ""


@pytest.fixture(scope="module")
def validator():
    from typer.testing import CliRunner
    from nncli.cli import app

    result = CliRunner().invoke(app, ["config", "--schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_accepts_every_shipped_config(validator):
    configs = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(configs) >= 5
    for path in configs:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, (path.name, errors)


def test_schema_accepts_a_runs_resolved_config(validator, run_cli, tmp_path):
    assert run_cli("train", XOR, "train.epochs=1", "optimizer.name=adam", "--out", tmp_path / "r", "-q").exit_code == 0
    assert not list(validator.iter_errors(yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())))


@pytest.mark.parametrize("key, value", [
    ("model.layers.0.activation", "rellu"),  # not a registered activation
    ("model.layers.0.activaton", "relu"),  # a misspelt key
    ("loss", "mse2"),
    ("optimizer.momentun", 0.9),  # an option sgd does not have
    ("optimizer.schedule", {"name": "cosine", "gama": 0.5}),
    ("data", {"name": "spiral", "clases": 3}),
    ("train.batch_size", "half"),
    ("dtype", "float16"),
])
def test_schema_catches_what_nncli_refuses(validator, key, value, run_cli):
    raw = yaml.safe_load(XOR.read_text())
    node = raw
    *parents, last = key.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[last] = value
    assert list(validator.iter_errors(raw)), key
    override = f"{key}={json.dumps(value)}"
    assert run_cli("config", XOR, override).exit_code == 2  # and nncli itself refuses it too
