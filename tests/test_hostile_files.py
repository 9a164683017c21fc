"""Hostile files and values for every reader (issue 12, class 2): nesting thousands of levels deep in YAML
and JSON (config files, KEY=VALUE overrides, a run's config.yaml, summary.json, a checkpoint's state), YAML
that is valid but not a config (list or mapping keys, integers of thousands of digits, alias bombs,
recursive aliases, merge chains), and paths that are not regular files (FIFOs, /dev/zero, /dev/urandom,
directories) wherever nncli reads a path. Every case ends within seconds in exit 2 with one message naming
the file (or the override), never a hang, an internal error or a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import XOR
from hostile import acceptable, alias_bomb, deadline, located_refusal, nested, special_files, trained_run
from nncli.readers import MAX_DEPTH

DEPTHS = [MAX_DEPTH + 1, 200, 1_000, 5_000, 50_000]
SECONDS = 20  # generous on a shared machine; each case takes well under a second


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    """A finished XOR run that keeps a checkpoint (so --resume with more epochs reads it)."""
    return trained_run(tmp_path_factory.mktemp("base") / "run", XOR, "train.epochs=4", "train.checkpoint_every=2")


def copy_run(base: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(base, run)
    return run


READ_RUN = [("inspect",), ("compare",), ("evaluate",), ("train", "--resume")]


def read_run(run_cli, command, run):
    args = [*command, run] + (["train.epochs=6"] if command[0] == "train" else [])
    with deadline(SECONDS):
        return run_cli(*args)


# -- nesting ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("style", ["flow list", "flow map", "block"])
def test_deep_yaml_in_a_config_file_or_an_override(run_cli, tmp_path, depth, style):
    if style == "block" and depth > 1_000:
        depth = 1_000  # indentation grows quadratically; 1000 levels already make a 1 MB file
    cfg = tmp_path / "deep.yaml"
    value = nested(depth, style)
    cfg.write_text(XOR.read_text() + ("extra:\n" + value if style == "block" else f"extra: {value}") + "\n")
    with deadline(SECONDS):
        r = run_cli("train", cfg, "--runs-dir", tmp_path / "runs", "-q")
    located_refusal(r, str(cfg), f"more than {MAX_DEPTH} levels")
    if style != "block":
        with deadline(SECONDS):
            r = run_cli("train", XOR, f"seed={value}", "--runs-dir", tmp_path / "runs", "-q")
        located_refusal(r, "override seed", f"more than {MAX_DEPTH} levels")
        with deadline(SECONDS):
            r = run_cli("gradcheck", XOR, f"model.layers={value}")
        located_refusal(r, "override model.layers", f"more than {MAX_DEPTH} levels")
    assert not (tmp_path / "runs").exists()


def test_an_override_key_of_thousands_of_parts(run_cli, tmp_path):
    with deadline(SECONDS):
        r = run_cli("train", XOR, "a." * 5000 + "b=1", "--runs-dir", tmp_path / "runs", "-q")
    located_refusal(r, f"config keys are at most {MAX_DEPTH} deep")


def test_deep_values_through_the_python_api_are_refused():
    import nncli
    from nncli.errors import ConfigError

    deep: list = []
    for _ in range(5_000):
        deep = [deep]
    with deadline(SECONDS), pytest.raises(ConfigError, match=f"more than {MAX_DEPTH} levels"):
        nncli.load_config(XOR, {"train.epochs": deep})
    with deadline(SECONDS), pytest.raises(ConfigError, match=f"more than {MAX_DEPTH} levels"):
        nncli.load_config({"seed": 0, "extra": deep})


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("command", READ_RUN, ids=" ".join)
def test_deep_yaml_in_a_run_config(run_cli, base_run, tmp_path, depth, command):
    run = copy_run(base_run, tmp_path)
    (run / "config.yaml").write_text((run / "config.yaml").read_text() + f"extra: {nested(depth, 'flow list')}\n")
    located_refusal(read_run(run_cli, command, run), str(run / "config.yaml"), f"more than {MAX_DEPTH} levels")


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("command", READ_RUN, ids=" ".join)
def test_deep_json_in_summary_json(run_cli, base_run, tmp_path, depth, command):
    run = copy_run(base_run, tmp_path)
    text = (run / "summary.json").read_text().rstrip()
    (run / "summary.json").write_text(text[:-1] + f', "extra": {nested(depth, "json map")}}}\n')
    located_refusal(read_run(run_cli, command, run), str(run / "summary.json"), f"more than {MAX_DEPTH} levels")


def test_json_nested_within_the_limit_is_read(run_cli, base_run, tmp_path):
    run = copy_run(base_run, tmp_path)
    text = (run / "summary.json").read_text().rstrip()
    (run / "summary.json").write_text(text[:-1] + f', "extra": {nested(MAX_DEPTH - 2, "json map")}}}\n')
    with deadline(SECONDS):
        r = run_cli("inspect", run, "--section", "overview")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("depth", DEPTHS)
def test_deep_json_in_a_checkpoint_state(run_cli, base_run, tmp_path, depth):
    run = copy_run(base_run, tmp_path)
    with np.load(run / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files}
    state = arrays["state"].tobytes().decode()
    state = state[:-1] + f', "extra": {nested(depth, "json map")}}}'
    arrays["state"] = np.frombuffer(state.encode(), dtype=np.uint8)
    np.savez(run / "checkpoint.npz", **arrays)
    r = read_run(run_cli, ("train", "--resume"), run)
    located_refusal(r, str(run / "checkpoint.npz"), "its 'state'", f"more than {MAX_DEPTH} levels")


# -- YAML that is not a config -----------------------------------------------------------------------------
ODD_YAML = {
    "list key (block)": ("? [a, b]\n: 1\n", "a mapping key must be a plain name or value, not a list"),
    "mapping key (block)": ("? {a: 1}\n: 1\n", "not a mapping"),
    "list key (flow)": ("odd: {[1, 2]: 3}\n", "not a list"),
    "mapping key (flow)": ("odd: {{a: 1}: 3}\n", "not a mapping"),
    "101 digits": ("seed: " + "7" * 101 + "\n", "an integer of 101 digits"),
    "4301 digits": ("seed: " + "7" * 4301 + "\n", "an integer of 4301 digits"),
    "100000 digits": ("seed: " + "7" * 100_000 + "\n", "an integer of 100000 digits"),
    "signed 5000 digits": ("seed: -" + "1" * 5000 + "\n", "an integer of 5000 digits"),
    "billion laughs 9x9": (alias_bomb(9, 9), "aliases expand to more than"),
    "bomb 40x2": (alias_bomb(40, 2), "aliases expand to more than"),
    "bomb 6x100": (alias_bomb(6, 100), "aliases expand to more than"),
    "20000 values": ("odd: [" + ", ".join(["1"] * 20_000) + "]\n", "it holds more than 10,000 values"),
    "recursive list": ("odd: &a [1, *a]\n", "recursive structure"),
    "recursive mapping": ("odd: &a {b: *a}\n", "recursive structure"),
    "merge chain": ("".join(f"m{i}: &m{i} {{<<: *m{i - 1}, v{i}: 1}}\n" if i else "m0: &m0 {v: 1}\n"
                            for i in range(1_000)), f"more than {MAX_DEPTH} levels"),
    "deep alias chain": ("a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 500)),
                         f"more than {MAX_DEPTH} levels"),
}


@pytest.mark.parametrize("case", ODD_YAML)
def test_valid_yaml_that_is_not_a_config_is_refused_quickly(run_cli, base_run, tmp_path, case):
    text, says = ODD_YAML[case]
    cfg = tmp_path / "odd.yaml"
    base = XOR.read_text().replace("seed: 0\n", "") if text.startswith("seed") else XOR.read_text()
    cfg.write_text(text + base)
    with deadline(SECONDS):
        r = run_cli("train", cfg, "--runs-dir", tmp_path / "runs", "-q")
    located_refusal(r, str(cfg), "refused", says)
    assert not (tmp_path / "runs").exists()
    run = copy_run(base_run, tmp_path)  # the same in a run's config.yaml
    (run / "config.yaml").write_text(text + (run / "config.yaml").read_text().replace("seed: 0\n", ""))
    for command in READ_RUN:
        located_refusal(read_run(run_cli, command, run), str(run / "config.yaml"), says)


@pytest.mark.parametrize("value, says", [
    ("'" + "9" * 5000 + "'", None),  # quoted: text, refused by validation as not an integer
    ("9" * 5000, "an integer of 5000 digits"),
    ("{[1]: 2}", "not a list"),
    ("&a [*a]", "recursive structure"),
    ("[&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], "
     "&c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c], "
     "&e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d], [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]]",
     "aliases expand to more than"),
])
def test_odd_yaml_values_in_overrides(run_cli, tmp_path, value, says):
    for command in (["train", XOR, f"seed={value}", "--runs-dir", tmp_path / "runs", "-q"],
                    ["gradcheck", XOR, f"model.layers={value}"],
                    ["data", "info", "spiral", f"n_samples={value}"]):
        with deadline(SECONDS):
            r = run_cli(*command)
        message = located_refusal(r)
        assert says is None or says in message, message
    assert not (tmp_path / "runs").exists()


# -- paths that are not regular files ------------------------------------------------------------------
def config_with(tmp_path: Path, data: str, extra: str = "") -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {data}\nmodel: {{layers: [{{units: 2, activation: tanh}}, {{units: 1, activation: "
                   f"sigmoid}}]{extra}}}\nloss: binary_crossentropy\noptimizer: {{name: sgd, lr: 0.1}}\n"
                   f"train: {{epochs: 2}}\n")
    return cfg


KINDS = ["fifo", "/dev/zero", "/dev/urandom", "/dev/null", "directory"]


def says_for(kind: str) -> str:
    return "is a directory" if kind == "directory" else "is not a regular file"


@pytest.mark.parametrize("kind", KINDS)
def test_a_config_that_is_not_a_regular_file(run_cli, tmp_path, kind):
    path = special_files(tmp_path)[kind]
    for command in (["train", path, "--runs-dir", tmp_path / "runs", "-q"], ["gradcheck", path]):
        with deadline(SECONDS):
            r = run_cli(*command)
        located_refusal(r, str(path), says_for(kind))
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["csv path", "csv test_path", "npz path", "init_from", "mnist files"])
def test_data_and_weights_paths_that_are_not_regular_files(run_cli, tmp_path, kind, where):
    path = special_files(tmp_path)[kind]
    good = tmp_path / "good.csv"
    good.write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    extra = ""
    if where == "csv path":
        data = f"{{name: csv, path: {path}}}"
    elif where == "csv test_path":
        data = f"{{name: csv, path: {good}, test_path: {path}}}"
    elif where == "npz path":
        data = f"{{name: npz, path: {path}}}"
    elif where == "init_from":
        data, extra = "xor", f", init_from: {path}"
    else:
        folder = tmp_path / "mnist"
        folder.mkdir()
        for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte"):
            (folder / name).symlink_to(path)
        data, path = f"{{name: mnist, path: {folder}}}", folder
    cfg = config_with(tmp_path, data, extra)
    with deadline(SECONDS):
        r = run_cli("train", cfg, "--runs-dir", tmp_path / "runs", "-q")
    located_refusal(r, str(path))
    if where == "init_from" and kind == "directory":  # a directory is a run directory: its weights.npz
        assert "weights.npz does not exist" in r.stderr
    elif where != "mnist files":
        assert says_for(kind) in " ".join(r.stderr.split())
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/urandom", "directory"])
@pytest.mark.parametrize("suffix", ["", ".npy", ".npz", ".csv", ".gz"])
def test_predict_and_evaluate_inputs_that_are_not_regular_files(run_cli, base_run, tmp_path, kind, suffix):
    source = special_files(tmp_path)[kind]
    path = source
    if suffix:
        path = tmp_path / f"input{suffix}"
        path.symlink_to(source)
    with deadline(SECONDS):
        r = run_cli("predict", base_run, path)
    located_refusal(r, str(path))
    if suffix in (".npz", ".csv"):
        with deadline(SECONDS):
            r = run_cli("evaluate", base_run, "--data", path)
        message = located_refusal(r)
        # a data file is recorded by its resolved path (the symlink's target); a directory is a data.path
        assert str(source) in message or (kind == "directory" and "data.path" in message), message


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/urandom", "directory"])
@pytest.mark.parametrize("name", ["config.yaml", "summary.json", "metrics.csv", "weights.npz", "checkpoint.npz"])
def test_run_files_that_are_not_regular_files(run_cli, base_run, tmp_path, kind, name):
    run = copy_run(base_run, tmp_path)
    target = run / name
    target.unlink()
    source = special_files(tmp_path)[kind]
    if kind == "fifo":
        shutil.move(str(source), target)
    elif kind == "directory":
        target.mkdir()
    else:
        target.symlink_to(source)
    commands = [("train", "--resume")] if name == "checkpoint.npz" else READ_RUN
    for command in commands:
        r = read_run(run_cli, command, run)
        if (name, command) in (("metrics.csv", ("evaluate",)), ("metrics.csv", ("train", "--resume")),
                               ("weights.npz", ("train", "--resume"))):
            acceptable(r)  # these do not read that file; resume writes it anew (or says it cannot)
            continue
        located_refusal(r, str(target))


@pytest.mark.parametrize("kind", ["summary.json", "config.yaml", "metrics.csv"])
def test_run_files_larger_than_their_limit(run_cli, base_run, tmp_path, kind):
    """A sparse file of 4 GiB: read up to the limit, then refused; nothing near 4 GiB is read."""
    run = copy_run(base_run, tmp_path)
    with open(run / kind, "r+b") as f:
        f.truncate(4 * 2 ** 30)
    r = read_run(run_cli, ("inspect",), run)
    located_refusal(r, str(run / kind), "is larger than")


def test_a_config_larger_than_its_limit(run_cli, tmp_path):
    cfg = tmp_path / "big.yaml"
    cfg.write_text(XOR.read_text() + "# " + "x" * (2 * 2 ** 20) + "\n")
    r = run_cli("train", cfg, "--runs-dir", tmp_path / "runs", "-q")
    located_refusal(r, str(cfg), "is larger than 1 MiB")


def test_json_with_an_integer_of_thousands_of_digits(run_cli, base_run, tmp_path):
    run = copy_run(base_run, tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    text = json.dumps(summary).replace(f'"epochs": {summary["epochs"]}', '"epochs": ' + "9" * 5000)
    (run / "summary.json").write_text(text)
    located_refusal(read_run(run_cli, ("inspect",), run), str(run / "summary.json"), "not valid JSON")
