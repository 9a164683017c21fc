"""Targets and the gradient of the loss nncli reports (issue 12, class 1).

Softmax + categorical cross-entropy uses (Y * rowsum(T) - T)/N, the exact gradient of the value it reports
for any non-negative targets (multi-hot, unnormalised scores), not only for rows summing to 1; it equals
(Y - T)/N bit for bit on one-hot rows. Targets outside a loss's domain (binary cross-entropy outside
[0, 1], negative categorical cross-entropy targets) are refused with exit 2 naming the file and first
bad row, before any run directory exists."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import numeric_gradient
from nncli.nn.activations import ACTIVATIONS
from nncli.nn.losses import LOSSES

SOFTMAX = ACTIVATIONS.get("softmax")()
CCE = LOSSES.get("categorical_crossentropy")()
BCE = LOSSES.get("binary_crossentropy")()
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True)


def unfused_delta(loss, activation, Z, T):
    """dL/dZ by composition: the activation's backward applied to the loss's dL/dY."""
    Y = activation.forward(Z)
    return activation.backward(Z, Y, loss.gradient(Y, T))


@SETTINGS
@given(n=st.integers(1, 6), k=st.integers(2, 5), seed=st.integers(0, 2 ** 32 - 1),
       kind=st.sampled_from(["multi-hot", "scores", "sparse", "one-hot", "zero rows"]))
def test_cce_fused_delta_is_the_gradient_of_its_value_for_any_non_negative_targets(n, k, seed, kind):
    rng = np.random.default_rng(seed)
    Z = rng.normal(0, 2, size=(n, k))
    if kind == "multi-hot":
        T = (rng.random((n, k)) < 0.5).astype(float)
    elif kind == "scores":
        T = rng.exponential(3.0, size=(n, k))
    elif kind == "sparse":
        T = rng.random((n, k)) * (rng.random((n, k)) < 0.3)
    elif kind == "one-hot":
        T = np.eye(k)[rng.integers(0, k, n)]
    else:
        T = np.zeros((n, k))
    Y = SOFTMAX.forward(Z)
    fused = CCE.fused_delta(Y, T)
    np.testing.assert_allclose(fused, unfused_delta(CCE, SOFTMAX, Z, T), rtol=1e-9, atol=1e-12)
    numeric = numeric_gradient(lambda z: CCE.fused_value(z, T), Z.copy(), h=1e-6)
    np.testing.assert_allclose(fused, numeric, rtol=1e-5, atol=1e-8)


def test_cce_fused_delta_is_bit_for_bit_y_minus_t_on_one_hot_rows():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        Z = rng.normal(size=(64, 10)).astype(dtype)
        T = np.eye(10, dtype=dtype)[rng.integers(0, 10, 64)]
        Y = SOFTMAX.forward(Z)
        expected = (Y - T) * Y.dtype.type(1.0 / 64)
        delta = CCE.fused_delta(Y, T)
        assert delta.dtype == dtype and np.array_equal(delta, expected)


@SETTINGS
@given(z=arrays(np.float64, (4, 3), elements=st.floats(-30, 30)),
       t=arrays(np.float64, (4, 3), elements=st.floats(-3, 3)))
def test_bce_fused_delta_is_the_gradient_of_its_value_for_any_real_targets(z, t):
    """(Y - T)/N is exact for binary cross-entropy whatever T is; only the domain is the question."""
    numeric = numeric_gradient(lambda zz: BCE.fused_value(zz, t), z.copy(), h=1e-6)
    np.testing.assert_allclose(BCE.fused_delta(ACTIVATIONS.get("sigmoid")().forward(z), t), numeric,
                               rtol=1e-5, atol=1e-7)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(LOSSES.names()))
def test_check_targets_names_the_first_row_outside_the_domain(data, name):
    loss = LOSSES.get(name)()
    lo, hi = loss.target_range
    n, k = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 4))
    inside = st.floats(max(lo, -1e6), min(hi, 1e6), allow_nan=False)
    T = data.draw(arrays(np.float64, (n, k), elements=inside))
    assert loss.check_targets(T) is None
    outside = [np.nan, np.inf, -np.inf] + ([lo - 0.5, lo - 1e-9 * max(1, abs(lo))] if np.isfinite(lo) else []) + \
              ([hi + 0.5, 1.5 * hi + 1] if np.isfinite(hi) else [])
    row, col = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, k - 1))
    bad = data.draw(st.sampled_from(outside))
    T[row, col] = bad
    message = loss.check_targets(T)
    assert message is not None and message.startswith(f"row {row} has the target {bad:g}")
    assert loss.name in message and loss.target_domain in message


# -- end to end: npz and CSV files -------------------------------------------------------------------
def npz_config(tmp_path, path, units, activation, loss, epochs=3, extra=""):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"seed: 0\ndtype: float64\ndata: {{name: npz, path: {path}{extra}}}\n"
                   f"model: {{layers: [{{units: 4, activation: tanh}}, {{units: {units}, activation: {activation}}}]}}\n"
                   f"loss: {loss}\noptimizer: {{name: sgd, lr: 0.1}}\ntrain: {{epochs: {epochs}}}\n")
    return cfg


@pytest.mark.parametrize("seed", range(4))
def test_gradcheck_passes_on_softmax_cce_with_multi_hot_targets(run_cli, tmp_path, seed):
    rng = np.random.default_rng(seed)
    T = (rng.random((40, 3)) < 0.5).astype(float)
    T[0] = [1, 1, 1]  # rows summing to 0..3
    T[1] = 0
    path = tmp_path / "multihot.npz"
    np.savez(path, X=rng.normal(size=(40, 5)), y=T)
    cfg = npz_config(tmp_path, path, 3, "softmax", "categorical_crossentropy")
    r = run_cli("gradcheck", cfg, "--samples", 40, "--seed", seed, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["passed"] and report["totals"]["max_rel_error"] < 1e-6
    # and it trains on that gradient: the loss goes down
    r = run_cli("train", cfg, "train.epochs=200", "optimizer.lr=0.5", "--out", tmp_path / "run", "-q")
    assert r.exit_code == 0, r.output
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    first, last = (float(line.split(",")[2]) for line in (rows[1], rows[-1]))
    assert last < first


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(["npz", "csv"]),
       loss=st.sampled_from(["binary_crossentropy", "categorical_crossentropy"]))
def test_targets_outside_the_loss_domain_are_refused_naming_file_and_row(run_cli, tmp_path_factory, data, kind,
                                                                          loss):
    tmp = tmp_path_factory.mktemp("domain")
    n = data.draw(st.integers(3, 30))
    k = 1 if loss == "binary_crossentropy" else data.draw(st.integers(2, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    T = rng.random((n, k)) if k > 1 else (rng.random((n, 1)) < 0.5) * 1.0
    T[0, 0], T[1, 0] = 0.25, 0.75  # not integers: the targets are read as they are (regression-like)
    row = data.draw(st.integers(2, n - 1))
    bad = data.draw(st.sampled_from([1.5, 2.0, -0.5, -1e-3, 1e30] if k == 1 else [-0.5, -1e-3, -1e30]))
    T[row, data.draw(st.integers(0, k - 1))] = bad
    X = rng.normal(size=(n, 2))
    if kind == "npz":
        path = tmp / "d.npz"
        np.savez(path, X=X, y=T if k > 1 else T[:, 0])
    else:
        if k > 1:  # a CSV has one target column: the multi-column case is the npz one
            path = tmp / "d.npz"
            np.savez(path, X=X, y=T)
            kind = "npz"
        else:
            path = tmp / "d.csv"
            path.write_text("a,b,t\n" + "".join(f"{x[0]:.17g},{x[1]:.17g},{t:.17g}\n" for x, t in zip(X, T[:, 0])))
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "data": {"name": kind, "path": str(path)}, "loss": loss, "optimizer": {"name": "sgd", "lr": 0.1},
        "model": {"layers": [{"units": 3, "activation": "tanh"},
                             {"units": k, "activation": "sigmoid" if k == 1 else "softmax"}]},
        "train": {"epochs": 2}}))
    runs = tmp / "runs"
    r = run_cli("train", cfg, "--runs-dir", runs, "-q")
    assert r.exit_code == 2, r.output
    message = " ".join(r.stderr.split())
    assert str(path) in message and f"row {row} has the target {bad:g}" in message and loss in message
    assert "Traceback" not in r.output and not runs.exists()


def test_the_issue_example_bce_labels_of_1_5_are_refused(run_cli, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "labels.npz"
    np.savez(path, X=rng.normal(size=(40, 3)), y=np.where(rng.random(40) < 0.5, 1.5, 0.0))
    cfg = npz_config(tmp_path, path, 1, "sigmoid", "binary_crossentropy")
    r = run_cli("train", cfg, "--runs-dir", tmp_path / "runs", "-q")
    assert r.exit_code == 2 and "has the target 1.5, outside the domain of binary_crossentropy" in r.stderr
    first = int(np.flatnonzero(np.load(path)["y"] == 1.5)[0])
    assert f"row {first} " in r.stderr and not (tmp_path / "runs").exists()
