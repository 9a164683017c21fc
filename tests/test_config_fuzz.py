"""Property-based: valid configs mutated hundreds of times (wrong types, missing and extra keys,
out-of-range numbers, unknown names, YAML junk) never make `nncli train` crash. Every outcome is exit 0,
exit 2 with one error message and no run directory left behind, or exit 1 for a run that diverged (a
mutated learning rate of 1e308 is a valid config whose training fails as documented)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nncli.cli import app

BASES = [
    {"seed": 0, "dtype": "float64", "data": "xor",
     "model": {"layers": [{"units": 2, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
               "init": "glorot_normal"},
     "loss": "binary_crossentropy", "optimizer": {"name": "sgd", "lr": 0.25},
     "train": {"epochs": 3, "batch_size": "full"}},
    {"seed": 1, "dtype": "float32", "data": {"name": "moons", "n_samples": 40, "noise": 0.1},
     "model": {"layers": [{"units": 4, "activation": "relu"}, {"units": 2, "activation": "softmax"}],
               "init": {"name": "he_normal"}},
     "loss": "categorical_crossentropy", "weight_decay": 0.001,
     "optimizer": {"name": "adam", "lr": 0.01, "beta1": 0.9, "schedule": {"name": "cosine"}},
     "train": {"epochs": 3, "batch_size": 8, "shuffle": True, "validation_split": 0.25, "input_noise": 0.01,
               "checkpoint_every": 1,
               "early_stopping": {"monitor": "val_loss", "patience": 2, "min_delta": 0.0}}},
    {"seed": 2, "data": {"name": "spiral", "n_samples": 30, "classes": 3},
     "model": {"input": 2, "layers": [{"units": 5, "activation": "tanh"}, {"units": 3, "activation": "softmax"}]},
     "loss": "categorical_crossentropy",
     "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
     "train": {"epochs": 2, "batch_size": 7}},
]

JUNK = [None, True, False, 0, 1, 2, -1, -7, 0.5, -0.5, 1e-300, 1e308, -1e308, float("nan"), float("inf"),
        -float("inf"), 10 ** 30, "", "x", "full", "tanh", "adam", "float16", "1e-3", "NaN", [], [1, 2],
        {}, {"name": "zzz"}, {"units": 2}, "../../etc/passwd", "os.system", "__import__('os')"]
SLOW_KEYS = {"epochs"}  # a valid huge value only costs time
KEYS = ["name", "units", "activation", "lr", "epochs", "batch_sise", "layer", "momentum", "extra", "seed",
        "monitor", "input", "noise", "n_samples", "path", "warmup", "std", "patience", ""]


def paths(node, prefix=()):
    """Every (path, value) in a nested config."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def parent_of(cfg, path):
    node = cfg
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated(draw):
    cfg = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        candidates = [p for p, _ in paths(cfg) if p]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = parent_of(cfg, path)
        action = draw(st.sampled_from(["set", "set", "delete", "add", "wrap"]))
        if action == "set":
            value = copy.deepcopy(draw(st.sampled_from(JUNK)))
            if path[-1] in SLOW_KEYS and isinstance(value, int) and not isinstance(value, bool) and value > 5:
                value = 4
            parent[path[-1]] = value
        elif action == "delete":
            del parent[path[-1]]
        elif action == "add":
            target = parent if isinstance(parent, dict) else cfg
            target[draw(st.sampled_from(KEYS))] = copy.deepcopy(draw(st.sampled_from(JUNK)))
        else:  # a value where a section was, or a section where a value was
            parent[path[-1]] = [parent[path[-1]]] if draw(st.booleans()) else {"value": parent[path[-1]]}
    return cfg


def check_outcome(result, runs: Path) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    out = result.output
    assert "Traceback" not in out and "internal error" not in out, out
    code = result.exit_code
    assert code in (0, 1, 2), (code, out)
    left = sorted(runs.iterdir()) if runs.exists() else []
    if code == 2:
        assert result.stderr.startswith("error: ") and len(result.stderr.strip()) > len("error: "), out
        assert left == [], (left, out)
    elif code == 1:  # only a diverged run fails with exit 1
        assert len(left) == 1, out
        summary = json.loads((left[0] / "summary.json").read_text())
        assert summary["status"] == "diverged" and "Try a smaller learning rate" in summary["message"], summary
    else:
        assert len(left) == 1, out
        summary = json.loads((left[0] / "summary.json").read_text())
        assert summary["status"] in ("completed", "early_stopped")
        assert all(math.isfinite(v) for v in summary["final"].values() if isinstance(v, float))


def run_config(text: str, tmp: Path, n: list) -> None:
    n[0] += 1
    work = tmp / f"case{n[0]}"
    work.mkdir()
    cfg = work / "c.yaml"
    cfg.write_text(text)
    runs = work / "runs"
    result = CliRunner().invoke(app, ["train", str(cfg), "--runs-dir", str(runs), "-q"])
    check_outcome(result, runs)


FUZZ = settings(max_examples=600, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(cfg=mutated())
def test_mutated_configs_exit_0_or_2_with_a_message(tmp_path_factory, cfg):
    tmp = tmp_path_factory.mktemp("fuzz", numbered=True)
    run_config(yaml.safe_dump(cfg, sort_keys=False), tmp, [0])


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(base=st.sampled_from(BASES), cut=st.integers(0, 10_000), junk=st.text(max_size=12),
       how=st.sampled_from(["insert", "truncate", "replace_line", "binary"]))
def test_yaml_junk_exits_0_or_2_with_a_message(tmp_path_factory, base, cut, junk, how):
    text = yaml.safe_dump(base, sort_keys=False)
    at = cut % (len(text) + 1)
    if how == "insert":
        text = text[:at] + junk + text[at:]
    elif how == "truncate":
        text = text[:at]
    elif how == "replace_line":
        lines = text.splitlines()
        lines[at % len(lines)] = junk
        text = "\n".join(lines)
    else:
        text = text[:at] + "\x00\x07\ufffe" + junk + text[at:]
    tmp = tmp_path_factory.mktemp("junk", numbered=True)
    run_config(text, tmp, [0])


def test_every_junk_value_at_every_key_of_the_richest_config(tmp_path):
    """Exhaustive single mutations of BASES[1] (every leaf and section set to every JUNK value)."""
    n = [0]
    for path, _ in list(paths(BASES[1])):
        if not path:
            continue
        for value in JUNK:
            if path[-1] in SLOW_KEYS and isinstance(value, int) and not isinstance(value, bool) and value > 5:
                continue
            cfg = copy.deepcopy(BASES[1])
            parent_of(cfg, path)[path[-1]] = copy.deepcopy(value)
            run_config(yaml.safe_dump(cfg, sort_keys=False), tmp_path, n)


def test_the_bases_themselves_train(tmp_path):
    for i, base in enumerate(BASES):
        runs = tmp_path / f"r{i}"
        cfg = tmp_path / f"c{i}.yaml"
        cfg.write_text(yaml.safe_dump(base))
        result = CliRunner().invoke(app, ["train", str(cfg), "--runs-dir", str(runs), "-q"])
        assert result.exit_code == 0, result.output
