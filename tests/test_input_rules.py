"""Rules every input follows (issue 12, classes 4 to 6): integers are integers in every config field
(booleans are not counts, nor are 1e3 or 1000.0); every numeric CLI option is validated; nothing is left
behind on exit 2 (created parent directories, runs/); CSV files with a byte-order mark, header detection
said in one line; single-sample and single-class training sets refused; resume refuses other data, seed
or validation split and lets an optimizer, schedule or initializer be swapped."""

from __future__ import annotations

import errno
import json
import os
import stat
import typing
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, XOR
from hostile import deadline, located_refusal, trained_run
from nncli import atomic
from nncli import config as C
from nncli.data import DATASETS
from nncli.errors import ConfigError
from nncli.nn.initializers import INITIALIZERS
from nncli.nn.optimizers import OPTIMIZERS
from nncli.nn.schedules import SCHEDULES

BASE = yaml.safe_load(XOR.read_text())
SPIRAL = ROOT / "configs" / "spiral.yaml"


# -- integers --------------------------------------------------------------------------------------------
def wants_int(annotation) -> bool:
    args = typing.get_args(annotation)
    return annotation is int or any(wants_int(a) for a in args) or (
        getattr(annotation, "__origin__", None) is typing.Annotated and int in args)


def int_fields():
    """(dotted path, raw config holding the thing that owns the field) for every integer field of the
    config's models and of every registered thing's Options: new fields are covered without a change."""
    out = [("seed", {}), ("model.input", {}), ("model.layers.0.units", {}), ("train.epochs", {}),
           ("train.batch_size", {}), ("train.checkpoint_every", {}),
           ("train.early_stopping.patience", {"train.validation_split": 0.5, "train.early_stopping": {}})]
    for prefix, registry, extra in (("data", DATASETS, {}), ("optimizer", OPTIMIZERS, {}),
                                    ("optimizer.schedule", SCHEDULES, {}), ("model.init", INITIALIZERS, {})):
        for name in registry.names():
            options = getattr(registry.get(name), "Options", None)
            for field, info in (options.model_fields.items() if options else []):
                if wants_int(info.annotation):
                    setup = {f"{prefix}.name": name, **extra}
                    if name in ("csv", "npz"):
                        setup[f"{prefix}.path"] = "unused.csv"
                    out.append((f"{prefix}.{field}", setup))
    return out


INT_FIELDS = int_fields()


def test_every_integer_field_is_found():
    names = {path for path, _ in INT_FIELDS}
    assert {"seed", "train.epochs", "data.n_samples", "data.classes", "optimizer.schedule.warmup",
            "optimizer.schedule.step_size", "data.limit", "data.target"} <= names


@pytest.mark.parametrize("path, setup", INT_FIELDS, ids=[p for p, _ in INT_FIELDS])
@pytest.mark.parametrize("value", [True, False, "1e3", 1000.0, 2.0, "12", "1_000"])
def test_integer_fields_take_integers_only(path, setup, value):
    if path == "data.target" and isinstance(value, str):
        return  # a column may be named "1e3"
    raw = C.apply_overrides(BASE, {**setup, path: value})
    with pytest.raises(ConfigError) as info:
        C.validate(raw)
    assert path.replace(".0.", ".0.") in str(info.value), str(info.value)
    if value is True:
        assert "a whole number such as 1000" in str(info.value)


@pytest.mark.parametrize("text, value", [("1000", 1000), ("017", 17), ("0o17", 15), ("0x10", 16), ("+12", 12),
                                         ("1_000", None), ("0b101", None), ("1:20", None), ("1e3", None)])
def test_integers_in_yaml_text_are_yaml_1_2_integers(text, value):
    """KEY=VALUE text is YAML 1.2: decimal, 0o octal and 0x hexadecimal integers; YAML 1.1's 1_000, 0b101
    and 1:20 are text (refused where a count is asked for), and 1e3 is a float."""
    if value is None:
        with pytest.raises(ConfigError, match="train.epochs"):
            C.validate(C.apply_overrides(BASE, [f"train.epochs={text}"]))
    else:
        assert C.validate(C.apply_overrides(BASE, [f"train.epochs={text}"])).train.epochs == value


@pytest.mark.parametrize("key", ["optimizer.lr", "weight_decay", "train.input_noise", "train.validation_split",
                                 "optimizer.momentum", "optimizer.schedule.gamma"])
def test_booleans_are_not_numbers(key):
    raw = C.apply_overrides(BASE, ["optimizer.schedule=exponential"] if "schedule" in key else [])
    with pytest.raises(ConfigError, match=f"{key}: must be a number, not true or false"):
        C.validate(C.apply_overrides(raw, [f"{key}=true"]))


def test_integers_written_as_integers_are_accepted():
    cfg = C.validate(C.apply_overrides(BASE, {"train.epochs": 1000, "train.batch_size": 2, "seed": 10 ** 30,
                                              "train.checkpoint_every": 5}))
    assert cfg.train.epochs == 1000 and cfg.train.batch_size == 2


# -- CLI options -----------------------------------------------------------------------------------------
VALUES = ["-1", "0", "1", "-0", "100000000000000000000", "nan", "inf", "-inf", "1e308", "1e-320", "abc", ""]
OPTIONS = [
    (["train", XOR, "train.epochs=2"], "--seed"), (["train", XOR, "train.epochs=2"], "--log-every"),
    (["gradcheck", XOR], "--samples"), (["gradcheck", XOR], "--max-params"), (["gradcheck", XOR], "--eps"),
    (["gradcheck", XOR], "--tol"), (["gradcheck", XOR], "--floor"), (["gradcheck", XOR], "--seed"),
    (["gradcheck"], "--seed"), (["gradcheck"], "--eps"), (["data", "info", "spiral"], "--seed"),
    (["inspect", "RUN"], "--width"), (["evaluate", "RUN"], "--split"), (["compare", "RUN"], "--sort"),
]


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    return trained_run(tmp_path_factory.mktemp("xor") / "run", XOR, "train.epochs=3")


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(OPTIONS), value=st.sampled_from(VALUES))
def test_every_numeric_option_is_validated_with_a_message(run_cli, xor_run, tmp_path_factory, option, value):
    command, flag = option
    if command == ["gradcheck"] and flag == "--eps" and value in ("1", "1e308"):
        return  # a valid but pointless step over the whole suite: slow, not hostile
    args = [xor_run if a == "RUN" else a for a in command] + [flag, value]
    if command[0] == "train":
        args += ["--runs-dir", tmp_path_factory.mktemp("runs"), "-q"]
    with deadline(120):
        r = run_cli(*args)
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    assert r.exit_code in (0, 1, 2), r.output
    if r.exit_code == 1:  # only a gradient check that fails (a huge eps or a tiny tol) exits 1
        assert command[0] == "gradcheck" and "gradient check failed" in r.output, r.output


def test_the_issue_example_gradcheck_seed_minus_one(run_cli):
    located_refusal(run_cli("gradcheck", "--seed", "-1"), "--seed", "a seed must be a non-negative integer")
    located_refusal(run_cli("data", "info", "spiral", "--seed", "-1"), "--seed")
    located_refusal(run_cli("gradcheck", XOR, "--seed", "-1"), "seed")


# -- nothing left behind -----------------------------------------------------------------------------------
def full_disk(monkeypatch) -> None:
    """Every atomic write fails with ENOSPC (as on a full disk)."""
    real_fsync = os.fsync

    def fsync(fd):
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return real_fsync(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", fsync)


@pytest.mark.parametrize("depth", [1, 2, 5])
@pytest.mark.parametrize("where", ["out", "runs-dir"])
def test_a_full_disk_leaves_no_created_parents_behind(run_cli, tmp_path, monkeypatch, depth, where):
    parents = tmp_path.joinpath(*[f"p{i}" for i in range(depth)])
    full_disk(monkeypatch)
    flag = ["--out", parents / "run"] if where == "out" else ["--runs-dir", parents]
    r = run_cli("train", XOR, *flag, "-q")
    located_refusal(r, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_existing_parents_stay_and_other_runs_in_them_too(run_cli, tmp_path, monkeypatch):
    (tmp_path / "runs" / "other-run").mkdir(parents=True)
    full_disk(monkeypatch)
    located_refusal(run_cli("train", XOR, "--runs-dir", tmp_path / "runs", "-q"), "No space left")
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["other-run"]


def test_a_config_name_too_long_for_a_directory_leaves_nothing(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / ("c" * 250 + ".yaml")  # a valid file name; with "-YYYYmmdd-HHMMSS" too long for a directory
    cfg.write_text(XOR.read_text())
    located_refusal(run_cli("train", cfg, "train.epochs=1", "-q"), "File name too long")
    located_refusal(run_cli("train", cfg, "train.epochs=1", "--runs-dir", tmp_path / "a" / "b", "-q"),
                    "File name too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == [cfg.name]  # no runs/, no a/b


# -- CSV files, one sample, one class ---------------------------------------------------------------------
def csv_config(tmp_path: Path, path: Path, units: int = 1, loss: str = "binary_crossentropy") -> Path:
    cfg = tmp_path / "c.yaml"
    activation = "sigmoid" if units == 1 else "softmax"
    cfg.write_text(f"data: {{name: csv, path: {path}}}\nmodel: {{layers: [{{units: 3, activation: tanh}}, "
                   f"{{units: {units}, activation: {activation}}}]}}\nloss: {loss}\n"
                   f"optimizer: {{name: sgd, lr: 0.1}}\ntrain: {{epochs: 2}}\n")
    return cfg


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(2, 30), header=st.booleans(), bom=st.booleans(), eol=st.sampled_from(["\n", "\r\n", "\r"]),
       seed=st.integers(0, 100))
def test_csv_files_with_a_bom_train_on_every_row_and_say_what_header_detection_decided(
        run_cli, tmp_path_factory, rows, header, bom, eol, seed):
    tmp = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 2)).round(3)
    y = np.arange(rows) % 2
    lines = (["x1,x2,label"] if header else []) + [f"{a},{b},{t}" for (a, b), t in zip(X, y)]
    text = eol.join(lines) + eol
    path = tmp / "d.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    cfg = csv_config(tmp, path)
    r = run_cli("train", cfg, "--runs-dir", tmp / "runs", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["dataset"]["train"] == rows  # no row lost to a header that was not one
    said = [line for line in r.stderr.splitlines() if str(path) in line]
    assert len(said) == 1, r.stderr
    if header:
        assert "the first row is a header" in said[0] and "columns x1, x2, label" in said[0]
    else:
        assert "no header (the first row is all numbers)" in said[0]
    quiet = run_cli("train", cfg, "--runs-dir", tmp / "runs", "-q")
    assert quiet.exit_code == 0 and str(path) not in quiet.stderr  # a note, not a warning: --quiet drops it


def test_the_header_is_not_said_when_the_config_sets_it(run_cli, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,0\n3,4,1\n5,6,0\n")
    cfg = csv_config(tmp_path, path)
    cfg.write_text(cfg.read_text().replace(f"path: {path}", f"path: {path}, header: false"))
    r = run_cli("train", cfg, "--runs-dir", tmp_path / "runs")
    assert r.exit_code == 0 and "the first row" not in r.stderr


@pytest.mark.parametrize("text, says", [
    ("a,b,y\n1,2,0.5\n", "the training set has 1 sample; training needs at least 2"),
    ("a,b,y\n1,2,3\n4,5,3\n6,7,3\n", "classification needs at least 2 classes, but every target is 3"),
    ("a,b,y\n1,2,cat\n4,5,cat\n", "classification needs at least 2 classes, but every target is 'cat'"),
])
def test_one_sample_or_one_class_is_refused(run_cli, tmp_path, text, says):
    path = tmp_path / "d.csv"
    path.write_text(text)
    r = run_cli("train", csv_config(tmp_path, path), "--runs-dir", tmp_path / "runs", "-q")
    located_refusal(r, str(path), says)
    assert not (tmp_path / "runs").exists()


def test_a_one_sample_file_can_still_be_evaluated_on(run_cli, tmp_path):
    train, one = tmp_path / "train.csv", tmp_path / "one.csv"
    train.write_text("a,b,y\n1,2,0.5\n3,4,0.1\n5,6,0.7\n")
    one.write_text("a,b,y\n1,2,0.25\n")
    cfg = csv_config(tmp_path, train, loss="mse")
    cfg.write_text(cfg.read_text().replace("activation: sigmoid", "activation: linear"))
    assert run_cli("train", cfg, "--out", tmp_path / "run", "-q").exit_code == 0
    r = run_cli("evaluate", tmp_path / "run", "--data", one, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["samples"] == 1, r.output


@pytest.mark.parametrize("n, classes", [(1, 1), (2, 1), (5, 1), (1, 3)])
def test_npz_with_one_sample_or_one_class_present_is_refused(run_cli, tmp_path, n, classes):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.arange(2.0 * n).reshape(n, 2), y=np.arange(n) % classes)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{name: npz, path: {path}, task: classification}}\nmodel: {{layers: [{{units: 2, "
                   f"activation: tanh}}, {{units: 1, activation: sigmoid}}]}}\nloss: binary_crossentropy\n"
                   f"optimizer: {{name: sgd, lr: 0.1}}\ntrain: {{epochs: 2}}\n")
    r = run_cli("train", cfg, "--runs-dir", tmp_path / "runs", "-q")
    message = located_refusal(r, str(path))
    assert ("needs at least 2" in message or "at least 2 classes" in message), message


# -- resume continues the same run ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def spiral_run(tmp_path_factory) -> Path:
    return trained_run(tmp_path_factory.mktemp("spiral") / "run", SPIRAL, "train.epochs=2", "train.checkpoint_every=1",
                       "data.n_samples=60", "train.batch_size=16")


def copy(run: Path, tmp: Path) -> Path:
    import shutil

    target = tmp / "run"
    shutil.copytree(run, target)
    return target


@pytest.mark.parametrize("override", ["data.noise=0.2", "data.turns=2", "data.classes=4", "data.n_samples=61",
                                      "data=moons", "seed=3", "train.validation_split=0.5"])
def test_resume_refuses_other_data_seed_or_split(run_cli, spiral_run, tmp_path, override):
    run = copy(spiral_run, tmp_path)
    r = run_cli("train", "--resume", run, override, "train.epochs=4")
    key = override.split("=")[0]
    located_refusal(r, str(run / "config.yaml"), key if key != "data" else "data.name", "a resume cannot change them")
    assert json.loads((run / "summary.json").read_text())["epochs"] == 2  # nothing was trained


@pytest.mark.parametrize("old", OPTIMIZERS.names())
@pytest.mark.parametrize("new", OPTIMIZERS.names())
def test_resume_may_switch_between_any_two_optimizers(run_cli, tmp_path, old, new):
    run = tmp_path / "run"
    assert run_cli("train", SPIRAL, "train.epochs=2", "train.checkpoint_every=1",
                   f"optimizer.name={old}", "--out", run, "-q").exit_code == 0
    r = run_cli("train", "--resume", run, f"optimizer.name={new}", "train.epochs=3")
    assert r.exit_code == 0, r.output
    assert yaml.safe_load((run / "config.yaml").read_text())["optimizer"]["name"] == new


@pytest.mark.parametrize("section, names", [("optimizer.schedule", SCHEDULES.names()),
                                            ("model.init", INITIALIZERS.names())])
def test_an_override_of_a_name_drops_the_options_only_the_old_thing_takes(section, names):
    for old in names:
        for new in names:
            raw = C.apply_overrides(BASE, {f"{section}.name": old})
            resolved = C.validate(raw).model_dump(mode="json")  # every option of `old`, defaults filled in
            switched = C.apply_overrides(resolved, [f"{section}.name={new}"])
            C.validate(switched)  # no leftover option of `old` makes `new` invalid
