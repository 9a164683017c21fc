"""Run directories damaged or edited by hand (issue 12, class 2): every field of summary.json given a value
of the wrong type, metrics.csv cells replaced by any number or text, checkpoints whose position cannot have
been reached. `inspect`, `compare`, `evaluate`, `predict` and `train --resume` answer with exit 0 or with
exit 2 naming the file and the field; and a legitimately trained run with a huge but finite loss (init
std 1e17), or any finite metrics, is drawn."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from conftest import XOR
from hostile import acceptable, deadline, located_refusal, trained_run
from nncli.cli.charts import line_chart
from nncli.summary import FIELDS, PARTS

JUNK = [None, True, False, 0, -1, 7, 1.5, -2.5, 1e308, float("nan"), "", "20", "x", "completed", [], [1, 2],
        ["a"], {}, {"a": 1}, {"epoch": "1"}, {"loss": "0.5"}]
COMMANDS = [("inspect",), ("compare",), ("evaluate",), ("predict",), ("train", "--resume")]
SLOW = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    run = trained_run(tmp_path_factory.mktemp("base") / "run", XOR, "train.epochs=6", "train.checkpoint_every=3")
    np.save(run.parent / "inputs.npy", np.array([[-1.0, -1.0], [1.0, -1.0]]))
    return run


def run_command(run_cli, command, run):
    args = list(command) + [run]
    if command == ("predict",):
        args.append(run.parent / "inputs.npy")
    if command[0] == "train":
        args.append("train.epochs=8")
    with deadline(30):
        return run_cli(*args)


def fresh(base: Path, tmp: Path) -> Path:
    run = tmp / "run"
    shutil.copytree(base, run)
    (tmp / "inputs.npy").write_bytes((base.parent / "inputs.npy").read_bytes())
    return run


SUMMARY_KEYS = list(FIELDS) + [f"{part}.{name}" for part, names in PARTS.items() for name in names]


@SLOW
@given(key=st.sampled_from(SUMMARY_KEYS), value=st.sampled_from(JUNK), command=st.sampled_from(COMMANDS),
       drop=st.booleans())
def test_summary_json_fields_of_the_wrong_type(run_cli, base_run, tmp_path_factory, key, value, command, drop):
    run = fresh(base_run, tmp_path_factory.mktemp("summary"))
    summary = json.loads((run / "summary.json").read_text())
    part, _, name = key.partition(".")
    if name:
        if not isinstance(summary.get(part), dict):
            summary[part] = {"epoch": 1, "monitor": "loss", "value": 0.5} if part == "best" else {}
        target, field = summary[part], name
    else:
        target, field = summary, part
    if drop:
        target.pop(field, None)
    else:
        target[field] = value
    (run / "summary.json").write_text(json.dumps(summary))
    r = run_command(run_cli, command, run)
    acceptable(r)
    if r.exit_code == 2:
        message = " ".join(r.stderr.split())
        assert "summary.json" in message and (field in message or "damaged" in message), message


@pytest.mark.parametrize("key, value", [("final", [1, 2]), ("best", "x"), ("best", {"epoch": 3}),
                                        ("dataset", "x"), ("epochs", "20"), ("status", 3), ("evaluation", [])])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_issue_examples_of_damaged_summaries(run_cli, base_run, tmp_path, key, value, command):
    run = fresh(base_run, tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    summary[key] = value
    (run / "summary.json").write_text(json.dumps(summary))
    field = f"'{key}.monitor'" if isinstance(value, dict) else f"'{key}'"
    located_refusal(run_command(run_cli, command, run), str(run / "summary.json"), field)


CELLS = ["1e308", "-1e308", "1e-320", "0", "-5", "-0.0", "2", "nan", "inf", "-inf", "", "abc", "1e999", "0x10",
         "1_000", " 3 "]


@SLOW
@given(row=st.integers(1, 6), column=st.integers(0, 5), cell=st.sampled_from(CELLS),
       command=st.sampled_from([("inspect",), ("compare",)]))
def test_metrics_csv_cells_replaced_by_anything(run_cli, base_run, tmp_path_factory, row, column, cell, command):
    run = fresh(base_run, tmp_path_factory.mktemp("metrics"))
    lines = (run / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row].split(",")
    column %= len(header)
    cells[column] = cell
    lines[row] = ",".join(cells)
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    r = run_command(run_cli, command, run)
    acceptable(r)
    if r.exit_code == 2:
        assert "metrics.csv" in r.stderr and f"line {row + 1}" in " ".join(r.stderr.split()), r.stderr
    name = header[column]
    try:
        v = float(cell)
    except ValueError:
        return
    possible = {"epoch": v >= 1 and v.is_integer(), "step": v >= 0 and v.is_integer(), "loss": 0 <= v < math.inf,
                "accuracy": 0 <= v <= 1, "lr": v >= 0 and math.isfinite(v), "seconds": v >= 0 and math.isfinite(v)}
    if possible.get(name, True):  # a value training could have written is shown
        assert r.exit_code == 0, r.output


@pytest.mark.parametrize("loss", ["1e308", "-5", "nan", "inf"])
def test_the_issue_examples_of_damaged_metrics(run_cli, base_run, tmp_path, loss):
    run = fresh(base_run, tmp_path)
    lines = (run / "metrics.csv").read_text().splitlines()
    cells = lines[3].split(",")
    cells[2] = loss
    lines[3] = ",".join(cells)
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    for command in (("inspect",), ("compare",)):
        r = run_command(run_cli, command, run)
        if loss != "1e308":  # no training writes a negative, NaN or infinite loss (it diverges first)
            located_refusal(r, str(run / "metrics.csv"), "line 4, column 'loss'",
                            "a training loss is finite and never negative")
        else:
            assert r.exit_code == 0, r.output
    if loss == "1e308":  # and drawn as pictures too
        assert run_cli("inspect", run, "--png", tmp_path / "pictures").exit_code == 0
        assert run_cli("compare", run, "--png", tmp_path / "losses.png").exit_code == 0
        assert (tmp_path / "pictures" / "loss.png").stat().st_size > 0


# -- huge but finite numbers are drawn -------------------------------------------------------------------
@pytest.mark.parametrize("std", ["1e17", "1e150"])
def test_a_run_with_a_huge_finite_loss_is_inspected(run_cli, tmp_path, std):
    run = tmp_path / "run"
    r = run_cli("train", XOR, "train.epochs=5", f"model.init={{name: normal, std: {std}}}", "--out", run, "-q")
    assert r.exit_code in (0, 1), r.output
    for command in (["inspect", run], ["inspect", run, "--json"], ["compare", run], ["inspect", run, "--png",
                                                                                   tmp_path / "pictures"]):
        with deadline(60):
            r = run_cli(*command)
        assert r.exit_code == 0, r.output
    assert "loss curve" in run_cli("inspect", run, "--section", "curves").stdout


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(ys=st.lists(st.one_of(finite, st.sampled_from([1e308, -1e308, 5e-324, 0.0, 1e17, float("nan")])),
                   min_size=1, max_size=40),
       xs=st.one_of(st.none(), st.lists(finite, min_size=40, max_size=40)),
       log_y=st.sampled_from([None, True, False]), width=st.integers(20, 200))
def test_line_chart_draws_any_finite_values(ys, xs, log_y, width):
    x = list(range(1, len(ys) + 1)) if xs is None else xs[:len(ys)]
    if log_y is True and not all(v > 0 for v in ys if v == v):
        log_y = None
    text = line_chart({"loss": (x, ys)}, width=width, height=8, log_y=log_y)
    console = Console(width=width + 20, file=open("/dev/null", "w"), color_system=None)
    console.print(text)
    plain = text.plain
    assert "(no finite values to draw)" in plain or plain.count("\n") >= 10


# -- checkpoints whose state cannot have been reached -----------------------------------------------------
@pytest.fixture(scope="module")
def batched_run(tmp_path_factory) -> Path:
    """XOR in batches of 1 (4 batches per epoch), a checkpoint every epoch."""
    return trained_run(tmp_path_factory.mktemp("batched") / "run", XOR, "train.epochs=10", "train.batch_size=1",
                       "train.checkpoint_every=1")


def edit_state(run: Path, **changes) -> dict:
    with np.load(run / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["state"].tobytes())
    meta.update(changes)
    arrays["state"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(run / "checkpoint.npz", **arrays)
    return meta


def count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


@SLOW
@given(key=st.sampled_from(["batch", "seen", "correct", "step", "n_train", "batch_size", "epoch"]),
       value=st.one_of(st.integers(0, 12), st.sampled_from([10 ** 6, 2 ** 63, -1, 1.5, True, None, "3"])))
def test_a_checkpoint_with_an_impossible_position_is_refused(run_cli, batched_run, tmp_path_factory, key, value):
    run = tmp_path_factory.mktemp("ckpt") / "run"
    shutil.copytree(batched_run, run)
    with np.load(run / "checkpoint.npz") as z:
        before = json.loads(z["state"].tobytes())
    meta = edit_state(run, **{key: value})
    r = run_command(run_cli, ("train", "--resume"), run)
    acceptable(r)
    n = before["n_train"]  # 4 samples; the checkpoint is at an epoch's end: batch 0, seen 4
    reachable = (json.dumps(meta) == json.dumps(before)
                 or (key == "correct" and count(value) and value <= meta["seen"])
                 or (key == "step" and count(value) and value >= before["step"])  # optimizer.t <= step
                 or (key == "batch_size" and count(value) and 1 <= value <= n))
    if reachable:
        assert r.exit_code == 0, r.output
    else:
        located_refusal(r, str(run / "checkpoint.npz"), "this checkpoint cannot be resumed")


@pytest.mark.parametrize("changes, says", [
    ({"loss_sum": float("nan")}, "no valid 'loss_sum'"), ({"loss_sum": -1.0}, "no valid 'loss_sum'"),
    ({"seconds": -1}, "no valid 'seconds'"), ({"seconds": float("inf")}, "no valid 'seconds'"),
    ({"has_perm": False}, "it holds an order of rows"),
])
def test_a_checkpoint_state_out_of_its_range_is_refused(run_cli, batched_run, tmp_path, changes, says):
    run = tmp_path / "run"
    shutil.copytree(batched_run, run)
    edit_state(run, **changes)
    located_refusal(run_cli("train", "--resume", run, "train.epochs=12"), str(run / "checkpoint.npz"), says)


def edit_arrays(run: Path, **changes) -> None:
    with np.load(run / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files}
    for key, change in changes.items():
        arrays[key.replace("__", ".")] = change(arrays[key.replace("__", ".")])
    np.savez(run / "checkpoint.npz", **arrays)


def test_optimizer_state_that_training_cannot_reach_is_refused(run_cli, tmp_path):
    run = trained_run(tmp_path / "adam", XOR, "train.epochs=4", "optimizer.name=adam", "optimizer.lr=0.05",
                      "train.checkpoint_every=2")
    saved = (run / "checkpoint.npz").read_bytes()
    edit_arrays(run, optimizer__t=lambda t: np.array(2 ** 62, dtype=np.int64))
    located_refusal(run_cli("train", "--resume", run, "train.epochs=6"), "optimizer step count 'optimizer.t'")
    (run / "checkpoint.npz").write_bytes(saved)
    edit_arrays(run, optimizer__v__0=lambda v: -v - 1)
    located_refusal(run_cli("train", "--resume", run, "train.epochs=6"), "'optimizer.v.0' holds negative values")
    (run / "checkpoint.npz").write_bytes(saved)
    r = run_cli("train", "--resume", run, "train.epochs=6")
    assert r.exit_code == 0, r.output


def test_the_issue_example_a_batch_beyond_the_epoch(run_cli, batched_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(batched_run, run)
    edit_state(run, batch=7, seen=7)  # 4 samples in batches of 1: 4 batches per epoch
    located_refusal(run_cli("train", "--resume", run, "train.epochs=12"), str(run / "checkpoint.npz"),
                    "at batch 8, but an epoch of 4 samples in batches of 1 has 4")
