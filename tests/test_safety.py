"""Safety: nothing nncli reads can make it run code. Pickled objects disguised as weights.npz, init_from
files or checkpoints are refused (exit 2) without being unpickled; YAML is read with safe loading only;
no config value imports a module by name; .npz arrays are checked for names, shapes, dtypes and finite
values; run directories appear only where the user said."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import XOR

MARKER = "nncli-safety-marker"


class Exploit:
    """Unpickling this would create the marker file."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def pickled_npz(path: Path, marker: Path) -> Path:
    """An .npz whose W1 is an object array: numpy stores it with pickle."""
    np.savez(path, W1=np.array([Exploit(marker)], dtype=object), b1=np.zeros(2), W2=np.zeros((2, 1)),
             b2=np.zeros(1))
    return path


def xor_run(run_cli, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    assert run_cli("train", XOR, "train.epochs=3", "--out", run, "-q").exit_code == 0
    return run


@pytest.mark.parametrize("kind", ["object array", "raw pickle"])
def test_a_pickle_disguised_as_weights_npz_is_refused(run_cli, tmp_path, kind):
    run = xor_run(run_cli, tmp_path)
    marker = tmp_path / MARKER
    if kind == "object array":
        pickled_npz(run / "weights.npz", marker)
        says = "refused: it holds pickled Python objects"
    else:
        (run / "weights.npz").write_bytes(pickle.dumps(Exploit(marker)))
        says = "not a zip archive"
    for command in (["inspect", run], ["train", "--resume", run, "train.epochs=5"]):
        r = run_cli(*command)
        if command[0] == "train":
            # a completed run without a checkpoint: resume reads no weights and says so
            assert r.exit_code == 0 and "already completed" in r.stderr
            continue
        assert r.exit_code == 2, r.output
        assert says in r.stderr and str(run / "weights.npz") in r.stderr and "Traceback" not in r.output
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["object array", "raw pickle", "npy"])
def test_a_pickle_as_init_from_is_refused(run_cli, tmp_path, kind):
    marker = tmp_path / MARKER
    evil = tmp_path / "evil.npz"
    if kind == "object array":
        pickled_npz(evil, marker)
        says = "refused: it holds pickled Python objects"
    elif kind == "raw pickle":
        evil.write_bytes(pickle.dumps(Exploit(marker)))
        says = "not a zip archive"
    else:
        with open(evil, "wb") as f:
            np.save(f, np.array([Exploit(marker)], dtype=object))
        says = "not a zip archive"
    runs = tmp_path / "runs"
    r = run_cli("train", XOR, f"model.init_from={evil}", "--runs-dir", runs, "-q")
    assert r.exit_code == 2, r.output
    assert "model.init_from" in r.stderr and says in r.stderr and "Traceback" not in r.output
    assert not marker.exists() and not runs.exists()


def test_a_pickled_checkpoint_is_refused(run_cli, tmp_path):
    run = tmp_path / "run"
    assert run_cli("train", XOR, "train.checkpoint_every=1", "train.epochs=3", "--out", run, "-q").exit_code == 0
    marker = tmp_path / MARKER
    np.savez(run / "checkpoint.npz", state=np.array([Exploit(marker)], dtype=object))
    r = run_cli("train", "--resume", run, "train.epochs=6")
    assert r.exit_code == 2 and "refused: it holds pickled Python objects" in r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("arrays, says", [
    ({"W1": np.zeros((2, 2)), "b1": np.zeros(2), "W2": np.zeros((2, 1))}, "but this network needs"),
    ({"W1": np.zeros((3, 2)), "b1": np.zeros(2), "W2": np.zeros((2, 1)), "b2": np.zeros(1)},
     "W1 in {path} has shape (3, 2)"),
    ({"W1": np.full((2, 2), np.nan), "b1": np.zeros(2), "W2": np.zeros((2, 1)), "b2": np.zeros(1)},
     "W1 in {path} is not an array of finite real numbers"),
    ({"W1": np.zeros((2, 2), complex), "b1": np.zeros(2), "W2": np.zeros((2, 1)), "b2": np.zeros(1)},
     "(complex128)"),
    ({"W1": np.array([["a", "b"], ["c", "d"]]), "b1": np.zeros(2), "W2": np.zeros((2, 1)), "b2": np.zeros(1)},
     "is not an array of finite real numbers"),
])
def test_init_from_arrays_are_checked(run_cli, tmp_path, arrays, says):
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    r = run_cli("train", XOR, f"model.init_from={path}", "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 2, r.output
    assert says.format(path=path) in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("yaml_text", [
    "seed: !!python/object/apply:os.system ['touch {marker}']\n",
    "!!python/object/new:os.system ['touch {marker}']\n",
    "seed: !!python/name:os.system\n",
])
def test_yaml_is_loaded_safely(run_cli, tmp_path, yaml_text):
    marker = tmp_path / MARKER
    path = tmp_path / "c.yaml"
    bad = yaml_text.format(marker=marker)
    # in place of the XOR config's seed line, or as the whole document
    path.write_text(XOR.read_text().replace("seed: 0\n", bad, 1) if bad.startswith("seed") else bad)
    r = run_cli("train", path, "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 2, r.output
    assert "YAML syntax error" in r.stderr and str(path) in r.stderr
    assert not marker.exists() and not (tmp_path / "runs").exists()


def test_yaml_tags_in_overrides_are_refused_too(run_cli, tmp_path):
    marker = tmp_path / MARKER
    r = run_cli("train", XOR, f"seed=!!python/object/apply:os.system ['touch {marker}']", "--runs-dir",
                tmp_path / "runs", "-q")
    assert r.exit_code == 2 and "override seed" in r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("override, where", [
    ("optimizer.name=os.system", "optimizer.name"),
    ("data.name=antigravity", "data.name"),
    ("data.name=nncli.data.datasets:Xor", "data.name"),
    ("model.layers.0.activation=__import__('this')", "model.layers.0.activation"),
    ("model.init.name=numpy.random:seed", "model.init.name"),
    ("optimizer.schedule.name=subprocess.call", "optimizer.schedule.name"),
    ("loss=eval", "loss"),
])
def test_no_config_value_imports_a_module_or_runs_code(run_cli, tmp_path, override, where):
    modules = set(sys.modules)
    r = run_cli("train", XOR, override, "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 2, r.output
    assert where in r.stderr and "unknown" in r.stderr.lower()
    new = set(sys.modules) - modules
    assert not {"antigravity", "this", "subprocess"} & new, new


def test_run_directories_appear_only_where_the_user_said(run_cli, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    target = tmp_path / "elsewhere" / "runs"
    r = run_cli("train", XOR, "train.epochs=2", "--runs-dir", target, "-q")
    assert r.exit_code == 0
    assert list(cwd.iterdir()) == []  # no runs/ in the working directory
    assert [p.parent for p in target.iterdir()] == [target]
    out = tmp_path / "a" / "b" / "run"
    assert run_cli("train", XOR, "train.epochs=2", "--out", out, "-q").exit_code == 0
    assert out.is_dir() and sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["run"]
    assert Path.cwd() == cwd  # never changes the working directory
    # a refused config creates nothing, not even the parent
    r = run_cli("train", XOR, "train.epochs=0", "--runs-dir", tmp_path / "never", "-q")
    assert r.exit_code == 2 and not (tmp_path / "never").exists()
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink to a fifo"])
def test_an_output_path_that_is_not_a_regular_file_is_not_replaced(run_cli, tmp_path, kind):
    """`predict -o` and `export -o` write atomically (a temporary file renamed over the target): a FIFO,
    a directory or a device at the target is refused with exit 2 and left as it was (as root, renaming
    over /dev/full would have replaced the device)."""
    run = xor_run(run_cli, tmp_path)
    inputs = tmp_path / "x.csv"
    inputs.write_text("-1,1\n1,1\n")
    for args, suffix in ((["predict", run, inputs, "-o"], ".csv"), (["export", run, "--format", "onnx", "-o"], ".onnx")):
        if args[0] == "export":
            pytest.importorskip("onnx")
        target = tmp_path / f"{args[0]}{suffix}"
        if kind == "directory":
            target.mkdir()
        else:
            fifo = tmp_path / f"{args[0]}-fifo{suffix}"
            os.mkfifo(fifo)
            if kind == "fifo":
                target = fifo
            else:
                target.symlink_to(fifo)
        r = run_cli(*args, target)
        assert r.exit_code == 2, r.output
        said = ("exists and is not a regular file", "is a directory") if kind == "directory" else (
            "exists and is not a regular file",)
        assert any(s in r.stderr for s in said) and "Traceback" not in r.output, r.output
        assert not target.is_file() and (target.is_dir() or target.is_fifo())
