"""`nncli gradcheck`: the built-in suite passes on the whole registry (so a wrong gradient cannot land),
every config in configs/ passes, a deliberately wrong derivative is caught and named, kinks are skipped
and counted, --max-params subsets, float32 configs are checked in float64, --json, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, XOR
from nncli import config as config_mod
from nncli import gradient_check as gc
from nncli import gradient_suite as gs
from nncli.data import datasets
from nncli.errors import DataError
from nncli.nn.activations import ACTIVATIONS, Tanh
from nncli.nn.losses import LOSSES, MeanSquaredError
from nncli.nn.network import Network

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def xor_yaml(**changes: str) -> str:
    """configs/xor.yaml's text with top-level lines replaced or added: xor_yaml(dtype="float32")."""
    lines = [l for l in XOR.read_text().splitlines() if not l.startswith(tuple(f"{k}:" for k in changes))]
    return "\n".join(lines + [f"{k}: {v}" for k, v in changes.items()]) + "\n"


# -- the built-in suite: the whole registry, in-process ---------------------------------------------
def test_builtin_suite_passes_on_every_registered_activation_and_loss():
    suite = gs.check_suite()
    activations = gs.canonical_names(ACTIVATIONS)
    losses = gs.canonical_names(LOSSES)
    assert suite.hidden == activations
    # every loss appears with every output activation it accepts (and only those); fused pairs included
    for loss_name in losses:
        loss = LOSSES.get(loss_name)()
        accepted = [a for a in activations if any(loss.check_output(a, u) is None for u in gs.SUITE_OUTPUT_UNITS)]
        assert [a for a, l in suite.outputs if l == loss_name] == accepted
    assert ("sigmoid", "binary_crossentropy") in suite.outputs
    assert ("softmax", "categorical_crossentropy") in suite.outputs
    assert {a for a, l in suite.outputs if l == "mse"} == set(activations)
    assert len(suite.cases) == len(activations) * 3 * len(suite.outputs) * 2
    assert {c.depth for c in suite.cases} == {1, 2, 3} and {c.weight_decay for c in suite.cases} == {0.0, 0.1}
    assert all(sum(t.checked for t in c.tensors) > 0 for c in suite.cases)
    failures = [(c.hidden, c.depth, c.output, c.loss, c.weight_decay, c.failing) for c in suite.failing]
    assert failures == []
    assert max(c.max_rel_error for c in suite.cases) < gc.DEFAULT_TOL / 5  # a margin, not a near miss


def test_cli_suite_prints_the_matrix_and_exits_0(run_cli):
    result = run_cli("gradcheck")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for hidden in gs.canonical_names(ACTIVATIONS):
        for depth in (1, 2, 3):
            assert f"{gs.short_name(ACTIVATIONS, hidden)} x{depth}" in out
    assert "bce" in out and "cce" in out and "mse" in out
    assert "PASS: all" in out and "FAIL" not in out


# -- a deliberately wrong derivative, registered only inside the test ------------------------------
class WrongTanh(Tanh):
    """tanh with the derivative 1 - tanh(z) instead of 1 - tanh(z)^2."""

    def backward(self, z, a, grad_a):
        return grad_a * (1 - np.tanh(z))


@pytest.fixture
def wrong_tanh():
    ACTIVATIONS.register("wrong_tanh")(WrongTanh)
    try:
        yield "wrong_tanh"
    finally:
        ACTIVATIONS.unregister("wrong_tanh")


def test_wrong_derivative_in_a_config_exits_1_and_names_the_tensor(run_cli, write_config, wrong_tanh):
    path = write_config(XOR.read_text().replace("activation: tanh", f"activation: {wrong_tanh}"))
    result = run_cli("gradcheck", path)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "gradient check failed for W1, b1 of" in result.stderr and "Traceback" not in result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()[:2] in ("W1", "b1", "W2", "b2")}
    assert "FAIL" in rows["W1"] and "FAIL" in rows["b1"]  # below the wrong layer
    assert "ok" in rows["W2"] and "ok" in rows["b2"]  # the sigmoid output layer is right
    report = json.loads(run_cli("gradcheck", path, "--json").stdout)
    assert report["passed"] is False and report["failing"] == ["W1", "b1"]
    assert report["tensors"][0]["max_rel_error"] > 1e-2


def test_wrong_derivative_is_covered_by_the_suite_without_changes(run_cli, wrong_tanh):
    result = run_cli("gradcheck", "--json")
    assert result.exit_code == 1
    suite = json.loads(result.stdout)
    assert wrong_tanh in suite["hidden"]
    assert {"activation": wrong_tanh, "loss": "mse"} in suite["outputs"]
    failing = [c for c in suite["cases"] if not c["passed"]]
    assert failing and all(wrong_tanh in (c["hidden"], c["output"]) for c in failing)
    # every network with wrong_tanh hidden layers fails, and W1 (the lowest tensor) is named
    hidden_cases = [c for c in suite["cases"] if c["hidden"] == wrong_tanh]
    assert hidden_cases and all(not c["passed"] and "W1" in c["failing"] for c in hidden_cases)
    assert "gradient check failed" in result.stderr and "wrong_tanh" in result.stderr


def test_a_newly_registered_wrong_loss_is_covered(monkeypatch):
    class DoubledMse(MeanSquaredError):
        def gradient(self, y, t):  # twice the right dL/dY
            return 2 * (y - t) / y.shape[0]

    LOSSES.register("doubled_mse")(DoubledMse)
    try:
        assert ("tanh", "doubled_mse", 3) in gs.suite_outputs()
        case = gs.check_case("tanh", 1, "linear", "doubled_mse", 3, 0.0)
        assert not case.passed and case.failing == ["W1", "b1", "W2", "b2"]
    finally:
        LOSSES.unregister("doubled_mse")


def test_a_nan_gradient_fails_and_the_json_stays_valid(run_cli, write_config):
    class NanTanh(Tanh):
        def backward(self, z, a, grad_a):
            return grad_a * np.nan

    ACTIVATIONS.register("nan_tanh")(NanTanh)
    try:
        path = write_config(XOR.read_text().replace("activation: tanh", "activation: nan_tanh"))
        result = run_cli("gradcheck", path, "--json")
        assert result.exit_code == 1
        report = json.loads(result.stdout)  # strict JSON: no NaN or Infinity tokens
        assert "NaN" not in result.stdout and "Infinity" not in result.stdout
        assert report["failing"] == ["W1", "b1"] and report["tensors"][0]["max_rel_error"] is None
        assert report["tensors"][2]["passed"] is True
    finally:
        ACTIVATIONS.unregister("nan_tanh")


def test_weight_decay_must_be_in_the_analytic_gradient(monkeypatch):
    """If back-propagation dropped the lambda W term, every W would fail and every b would pass."""
    original = Network.loss_and_gradients
    monkeypatch.setattr(Network, "loss_and_gradients",
                        lambda self, X, T, loss, weight_decay=0.0: original(self, X, T, loss, 0.0))
    case = gs.check_case("tanh", 2, "sigmoid", "binary_crossentropy", 3, 0.1)
    assert case.failing == ["W1", "W2", "W3"]
    assert gs.check_case("tanh", 2, "sigmoid", "binary_crossentropy", 3, 0.0).passed


# -- kinks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_a_pre_activation_exactly_at_the_kink_is_skipped_not_failed(activation):
    W1 = np.array([[1.0, 0.3], [-0.5, 0.2]])
    b1 = np.array([0.0, 0.1])
    X = np.array([[1.0, 2.0], [0.5, -1.0], [-1.0, 0.7]])  # row 0, unit 0: 1*1 + 2*(-0.5) + 0 = 0 exactly
    assert (X @ W1 + b1)[0, 0] == 0.0
    net = Network.from_arrays([(W1, b1), (np.array([[0.7], [-1.2]]), np.array([0.2]))], [activation, "linear"])
    T = np.array([[0.5], [-0.3], [1.0]])
    loss = LOSSES.get("mse")()
    results = {t.name: t for t in gc.check_network(net, X, T, loss)}
    # W1[0,0], W1[1,0] and b1[0] move z[0,0] across 0; nothing else touches it
    assert [(results[n].checked, results[n].skipped) for n in ("W1", "b1", "W2", "b2")] == [(2, 2), (1, 1), (2, 0), (1, 0)]
    assert all(t.passed for t in results.values())
    # checked blindly, W1[0,0] would fail: the central difference averages the two slopes
    _, grads = net.loss_and_gradients(X, T, loss)
    eps = gc.DEFAULT_EPS
    W = net.layers[0].W
    W[0, 0] += eps
    up = net.loss_value(X, T, loss)
    W[0, 0] -= 2 * eps
    down = net.loss_value(X, T, loss)
    W[0, 0] += eps
    numeric = (up - down) / (2 * eps)
    assert abs(numeric - grads[0][0, 0]) / max(abs(numeric), abs(grads[0][0, 0])) > 0.1


# -- subsets, dtypes ------------------------------------------------------------------------------
def test_max_params_checks_a_seeded_subset_of_each_tensor():
    rng = np.random.default_rng(5)
    net = Network.from_arrays([(rng.normal(size=(10, 20)), rng.normal(size=20)),
                               (rng.normal(size=(20, 1)), rng.normal(size=1))], ["tanh", "sigmoid"])
    X, T = rng.normal(size=(6, 10)), rng.integers(0, 2, (6, 1)).astype(float)
    loss = LOSSES.get("bce")()
    res = gc.check_network(net, X, T, loss, 0.01, max_params=17, rng=np.random.default_rng(1))
    assert [(t.name, t.size, t.checked + t.skipped) for t in res] == [("W1", 200, 17), ("b1", 20, 17),
                                                                     ("W2", 20, 17), ("b2", 1, 1)]
    again = gc.check_network(net, X, T, loss, 0.01, max_params=17, rng=np.random.default_rng(1))
    assert [t.to_dict() for t in res] == [t.to_dict() for t in again]  # seeded: the same entries
    every = gc.check_network(net, X, T, loss, 0.01, max_params=0)
    assert [t.checked + t.skipped for t in every] == [200, 20, 20, 1]


def test_cli_max_params_and_samples_with_overrides(run_cli):
    result = run_cli("gradcheck", XOR, "model.layers.0.units=16", "--samples", "3", "--max-params", "5",
                     "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["architecture"] == "2 -> [16 tanh] -> [1 sigmoid]"
    assert report["samples"] == 3 and report["max_params"] == 5
    assert [(t["name"], t["shape"], t["checked"] + t["skipped"]) for t in report["tensors"]] == [
        ("W1", [2, 16], 5), ("b1", [16], 5), ("W2", [16, 1], 5), ("b2", [1], 1)]


def test_float32_config_is_checked_in_float64(write_config):
    cfg = config_mod.load(write_config(xor_yaml(dtype="float32", weight_decay="0.01")))
    # at eps 1e-5, float32 arithmetic could not get within 1e-8 (its round-off alone is ~1e-2 relative)
    report = gc.check_config(cfg, tolerance=gc.Tolerance(tol=1e-8, floor=1e-3))
    assert report.dtype == "float32" and report.checked_dtype == "float64"
    assert report.passed, [t.to_dict() for t in report.tensors]
    assert report.weight_decay == 0.01
    rng = np.random.default_rng(0)
    net = Network.from_arrays([(rng.normal(size=(3, 4)).astype(np.float32), np.zeros(4, np.float32)),
                               (rng.normal(size=(4, 2)).astype(np.float32), np.zeros(2, np.float32))],
                              ["tanh", "softmax"])
    before = [p.copy() for p in net.parameters()]
    res = gc.check_network(net, rng.normal(size=(5, 3)).astype(np.float32), np.eye(2)[[0, 1, 1, 0, 1]],
                           LOSSES.get("cce")(), tolerance=gc.Tolerance(tol=1e-8, floor=1e-3))
    assert all(t.passed for t in res)
    assert all(p.dtype == np.float32 and np.array_equal(p, b) for p, b in zip(net.parameters(), before))


# -- output ---------------------------------------------------------------------------------------
def test_json_report_structure(run_cli):
    result = run_cli("gradcheck", XOR, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # stdout holds only the JSON
    assert set(report) == {"config", "passed", "failing", "architecture", "loss", "weight_decay", "samples",
                           "data", "dtype", "checked_dtype", "tolerance", "max_params", "seed", "totals",
                           "tensors"}
    assert report["passed"] is True and report["failing"] == []
    assert report["tolerance"] == {"eps": gc.DEFAULT_EPS, "tol": gc.DEFAULT_TOL, "floor": gc.DEFAULT_FLOOR}
    assert report["samples"] == 4 and report["checked_dtype"] == "float64" and report["loss"] == "binary_crossentropy"
    assert [t["name"] for t in report["tensors"]] == ["W1", "b1", "W2", "b2"]
    w1 = report["tensors"][0]
    assert set(w1) == {"name", "layer", "kind", "activation", "shape", "size", "checked", "skipped", "failed",
                       "max_abs_error", "max_rel_error", "worst", "passed"}
    assert (w1["layer"], w1["kind"], w1["activation"], w1["shape"], w1["size"]) == (1, "W", "tanh", [2, 2], 4)
    assert set(w1["worst"]) == {"index", "analytic", "numerical"}
    assert 0 <= w1["max_rel_error"] < gc.DEFAULT_TOL
    assert report["totals"]["checked"] == 4 + 2 + 2 + 1 and report["totals"]["failed"] == 0


def test_table_output(run_cli):
    result = run_cli("gradcheck", XOR)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    flat = " ".join(out.split())  # the header wraps at 80 columns wherever the config's path puts the break
    assert "2 -> [2 tanh] -> [1 sigmoid]" in flat and "checked in float64" in flat
    for name in ("W1", "b1", "W2", "b2"):
        assert any(line.split()[:1] == [name] and line.rstrip().endswith("ok") for line in out.splitlines())
    assert "PASS: 9 entries of 4 tensors checked" in out


# -- data that cannot be loaded -------------------------------------------------------------------
@pytest.fixture
def missing_dataset():
    class Missing(datasets.DatasetSource):
        def load(self, rng, dtype):
            raise DataError("no files here; run nncli data fetch", where="/nowhere/missing")

    datasets.DATASETS.register("missing_for_gradcheck")(Missing)
    try:
        yield "missing_for_gradcheck"
    finally:
        datasets.DATASETS.unregister("missing_for_gradcheck")


def test_unloadable_data_is_the_answer_unless_random_data(run_cli, write_config, missing_dataset):
    path = write_config(
        f"data: {missing_dataset}\nmodel:\n  layers: [{{units: 6, activation: relu}}, {{units: 3, activation: softmax}}]\n"
        "loss: categorical_crossentropy\noptimizer: {name: sgd, lr: 0.1}\ntrain: {epochs: 1}\nweight_decay: 0.001\n")
    result = run_cli("gradcheck", path)
    assert result.exit_code == 2 and "/nowhere/missing: no files here" in result.stderr
    result = run_cli("gradcheck", path, "--random-data")
    assert result.exit_code == 2 and "model.input" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("gradcheck", path, "model.input=7", "--random-data", "--samples", "5", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] and report["samples"] == 5 and "random" in report["data"]
    assert report["architecture"] == "7 -> [6 relu] -> [3 softmax]"


# -- bad usage and config: exit 2, one message ----------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["gradcheck", "nope.yaml"], "config file not found"),
    (["gradcheck", str(XOR), "model.layerz=1"], "did you mean 'layers'"),
    (["gradcheck", str(XOR), "model.layers.0.activation=tanhh"], "did you mean 'tanh'"),
    (["gradcheck", "model.layers.0.units=3"], "overrides need a config first"),
    (["gradcheck", str(XOR), "--eps", "-1"], "--eps: must be a positive number"),
    (["gradcheck", "--tol", "0"], "--tol: must be a positive number"),
    (["gradcheck", str(XOR), "--max-params", "-3"], "--max-params"),
    (["gradcheck", str(XOR), "--samples", "0"], "--samples"),
    (["gradcheck", "--random-data"], "--random-data needs a config"),
    (["gradcheck", "--samples", "3"], "--samples needs a config"),
])
def test_bad_usage_exits_2(run_cli, args, message):
    result = run_cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_config_file_exits_2(run_cli, write_config):
    path = write_config(xor_yaml(loss="categorical_crossentropy"))
    result = run_cli("gradcheck", path)
    assert result.exit_code == 2 and "model.layers.1" in result.stderr and "softmax" in result.stderr


# -- every config in configs/ ----------------------------------------------------------------------
@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_config_passes(path: Path):
    cfg = config_mod.load(path)
    try:
        report = gc.check_config(cfg, samples=4, max_params=40)
    except DataError as e:
        pytest.skip(f"the data of {path.name} is not available on this machine: {e}")
    assert report.passed, [t.to_dict() for t in report.tensors if not t.passed]
    assert report.totals()["checked"] > 0
