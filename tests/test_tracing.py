"""`nncli trace`: every number it shows is the one back-propagation computes (spied on inside
Network.backprop, float64, bit for bit), the per-sample outer products sum to the batch gradient, the
central differences are gradcheck's, the optimizer step is the one training takes, every formula is
written so in docs/backprop.md, and bad input exits 2 with one message."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nncli
from conftest import ROOT, XOR
from nncli import gradient_check as gc
from nncli import jsonable, tracing
from nncli.batches import random_targets
from nncli.nn.losses import LOSSES
from nncli.nn import network as network_module
from nncli.nn.network import Network, Workspace

DOC = ROOT / "docs" / "backprop.md"

CASES = [  # sizes, activations, loss: fused and unfused outputs, kinks, softmax inside and at the output
    ([2, 2, 1], ["tanh", "sigmoid"], "binary_crossentropy"),
    ([3, 5, 4, 3], ["relu", "leaky_relu", "softmax"], "categorical_crossentropy"),
    ([3, 4, 2], ["sigmoid", "linear"], "mse"),
    ([3, 4, 3], ["tanh", "softmax"], "mse"),
    ([4, 3, 3, 2], ["tanh", "softmax", "sigmoid"], "binary_crossentropy"),
]


def random_case(sizes, activations, loss_name, n=5, seed=0):
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(0, 0.8, (a, b)), rng.normal(0, 0.3, b)) for a, b in zip(sizes, sizes[1:])]
    net = Network.from_arrays(weights, activations)
    X = rng.normal(size=(n, sizes[0]))
    T = random_targets(net.layers[-1].activation, n, net.layers[-1].units, rng)
    return net, X, T, LOSSES.get(loss_name)()


def spy_on_backprop(monkeypatch, net, X, T, loss, wd):
    """Run Network.backprop in a workspace that keeps every Z_l and Y_l apart, recording what it computed
    inside: its Zs and Ys, output_delta's Delta_L, and every Delta below it (through an activation's
    derivative). Copies: the workspace's arrays are reused within the pass."""
    seen = {"output_delta": [], "backward": []}

    def record(owner, name, key):
        original = getattr(owner, name)

        def spy(*args, **kwargs):
            result = original(*args, **kwargs)
            seen[key].append(result.copy())
            return result
        monkeypatch.setattr(owner, name, spy)

    record(Network, "output_delta", "output_delta")
    record(network_module, "through", "backward")
    L, n = len(net.layers), len(X)
    work = Workspace(net.sizes, n, net.layers[0].W.dtype, [False] * L)
    value, grads, Y = net.backprop(X, T, loss, wd, work=work)
    monkeypatch.undo()
    seen["forward"] = [([work.Z[l][:n].copy() for l in range(L)], [X] + [work.Y[l][:n].copy() for l in range(L)])]
    return seen, value, [g.copy() for g in grads], Y.copy()


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("sizes,activations,loss_name", CASES)
def test_every_number_is_what_backprop_computes(monkeypatch, sizes, activations, loss_name, weight_decay):
    net, X, T, loss = random_case(sizes, activations, loss_name)
    quantities, _ = tracing.trace_network(net, X, T, loss, weight_decay, per_sample=True)
    t = {q.name: q for q in quantities}
    seen, value, grads, Y = spy_on_backprop(monkeypatch, net, X, T, loss, weight_decay)
    (Zs, Ys), = seen["forward"]
    L = len(net.layers)
    exact = {"X": X, "T": T, "L": value, f"Delta_{L}": seen["output_delta"][0]}
    for l in range(1, L + 1):
        exact.update({f"W_{l}": net.layers[l - 1].W, f"b_{l}": net.layers[l - 1].b, f"Z_{l}": Zs[l - 1],
                      f"Y_{l}": Ys[l], f"grad W_{l}": grads[2 * l - 2], f"grad b_{l}": grads[2 * l - 1]})
    # the deltas below the output, in the order backprop made them (Delta_{L-1} first)
    below = seen["backward"][-(L - 1):] if L > 1 else []
    exact.update({f"Delta_{L - 1 - k}": d for k, d in enumerate(below)})
    assert np.array_equal(Y, Ys[-1])
    for name, want in exact.items():
        assert t[name].value.dtype == np.float64 and np.array_equal(t[name].value, want), name
    assert t["data term"].value + t["decay term"].value == value
    assert set(t) - set(exact) <= {f"G_{l}" for l in range(1, L + 1)} | {"data term", "decay term", f"dL/dY_{L}"}
    if not net.is_fused(loss):
        assert np.array_equal(t[f"dL/dY_{L}"].value, loss.gradient(Ys[-1], T))
    # what --json prints is the same numbers, bit for bit
    printed = json.loads(jsonable.dumps([q.to_dict() for q in quantities]))
    for q in printed:
        if q["name"] in exact:
            assert np.array_equal(np.array(q["value"], dtype=np.float64), exact[q["name"]]), q["name"]


@pytest.mark.parametrize("sizes,activations,loss_name", CASES)
def test_per_sample_outer_products_sum_to_the_batch_gradient(sizes, activations, loss_name):
    net, X, T, loss = random_case(sizes, activations, loss_name, n=7, seed=3)
    quantities, grads = tracing.trace_network(net, X, T, loss, 0.05, per_sample=True)
    t = {q.name: q for q in quantities}
    for l, layer in enumerate(net.layers, start=1):
        G, Y, D = t[f"G_{l}"].value, t[f"Y_{l - 1}"].value if l > 1 else X, t[f"Delta_{l}"].value
        assert G.shape == (7, *layer.W.shape)
        for i in range(7):
            assert np.array_equal(G[i], np.outer(Y[i], D[i]))
        np.testing.assert_allclose(G.sum(axis=0) + 0.05 * layer.W, grads[2 * l - 2], rtol=0, atol=1e-12)
        assert t[f"G_{l}"].sum_error <= 1e-12


@pytest.mark.parametrize("config, overrides, rows, max_params", [
    (XOR, [], 4, 0),
    (ROOT / "configs" / "moons.yaml", [], 8, 40),  # relu: entries at kinks skipped alike
    (ROOT / "configs" / "spiral.yaml", ["weight_decay=0.01"], 6, 30),  # float32 network
])
def test_central_differences_are_gradchecks(config, overrides, rows, max_params):
    cfg = nncli.load_config(config, overrides)
    report = gc.check_config(cfg, samples=rows, max_params=max_params)
    trace = tracing.trace_config(cfg, rows=rows, max_params=max_params)
    for tensor in report.tensors:
        q = trace.get(f"grad {tensor.kind}_{tensor.layer}")
        checked = ~np.isnan(q.rel_error)
        assert int(checked.sum()) == tensor.checked and int(q.skipped.sum()) == tensor.skipped
        ij = tuple(tensor.worst["index"])
        assert q.numerical[ij] == tensor.worst["numerical"]
        if cfg.dtype == "float64":
            assert q.value[ij] == tensor.worst["analytic"]
            assert tracing.max_rel_error(q) == tensor.max_rel_error
        else:  # the trace shows the float32 gradient training uses; gradcheck back-propagates in float64
            assert tracing.max_rel_error(q) < 1e-3


def test_the_step_is_the_one_training_takes():
    """For XOR the batch is the whole training set in order, the full batch training uses: the trace's new
    weights are those after one epoch of `nncli train`, for sgd and for adam."""
    for overrides in ([], ["optimizer.name=adam", "optimizer.lr=0.05"],
                      ["optimizer.momentum=0.9", "optimizer.nesterov=true", "weight_decay=0.01"]):
        trace = nncli.trace(XOR, overrides, step=True)
        run = nncli.train(XOR, overrides + ["train.epochs=1"], runs_dir=None)
        for name, p in run.network.state().items():
            assert np.array_equal(trace.get(f"new {name[0]}_{name[1:]}").value, p), (overrides, name)
    trace = nncli.trace(XOR, ["optimizer.name=adam"], step=True)
    m, v = trace.get("m of W_1").value, trace.get("v of W_1").value
    g = trace.get("grad W_1").value
    assert np.array_equal(m, (1 - 0.9) * g) and np.array_equal(v, (1 - 0.999) * (g * g))


def test_a_trained_run_is_traced_with_its_weights(tmp_path):
    run = nncli.train(XOR, ["train.epochs=30", "optimizer.schedule.name=step", "optimizer.schedule.step_size=10"],
                      out=tmp_path / "run")
    trace = nncli.trace(run.path, rows=2, step=True)
    assert np.array_equal(trace.get("W_1").value, run.network.layers[0].W)
    assert len(trace.rows) == 2 and trace.get("X").value.shape == (2, 2)
    assert trace.step["epoch"] == 30 and trace.step["lr"] == pytest.approx(0.25 * 0.1 ** 2)
    assert trace.weights == f"the weights of {run.path}"


# -- the command ------------------------------------------------------------------------------------
def test_trace_prints_every_quantity_in_order_with_its_formula(run_cli):
    result = run_cli("trace", XOR, "--per-sample", "--step")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    order = ["X = Y_0", "Z_1 = Y_0 @ W_1 + b_1", "Y_1 = phi_1(Z_1), phi_1 = tanh", "Z_2 = Y_1 @ W_2 + b_2",
             "L = (1/N) sum_i E(y_i, t_i)  +  (lambda/2) sum_l ||W_l||^2", "Delta_2 = (Y_2 - T) / N",
             "grad W_2 = Y_1^T @ Delta_2 + lambda W_2", "G_2[i] = outer(Y_1[i], Delta_2[i])",
             "grad b_2 = column sums of Delta_2", "Delta_1 = (Delta_2 @ W_2^T) * phi'_1(Z_1)",
             "grad W_1 = Y_0^T @ Delta_1 + lambda W_1", "grad b_1 = column sums of Delta_1", "W_1 after the step"]
    positions = [out.index(text) for text in order]
    assert positions == sorted(positions)
    for function in ("Network.forward_all", "Network.backprop", "BinaryCrossentropy.fused_delta",
                     "Tanh.backward", "SGD.step"):
        assert function in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_every_formula_is_written_so_in_the_docs():
    doc = DOC.read_text(encoding="utf-8")
    for key, text in tracing.FORMULAS.items():
        assert text in doc, key


def test_json_has_every_array_in_full(run_cli):
    result = run_cli("trace", XOR, "--json", "--step", "--per-sample")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    trace = nncli.trace(XOR, step=True, per_sample=True)
    assert [q["name"] for q in data["quantities"]] == [q.name for q in trace.quantities]
    for q, want in zip(data["quantities"], trace.quantities):
        assert np.array_equal(np.array(q["value"], dtype=np.float64), want.value), q["name"]
        if want.numerical is not None:
            assert np.array_equal(np.array(q["numerical"], dtype=np.float64), want.numerical)
    assert data["step"]["lr"] == 0.25 and data["rows"] == [0, 1, 2, 3]


def test_large_matrices_are_summarised(run_cli):
    result = run_cli("trace", ROOT / "configs" / "spiral.yaml", "--max-params", "20", "--per-sample")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "largest |entries|" in out and "central differences: 20 of 1024 entries checked" in out
    assert "(32x32 shown as 16x32 block means)" in out
    assert all(len(line) <= 100 for line in out.splitlines())


# -- the worked example in docs/backprop.md ---------------------------------------------------------
ROUND_OFF = re.compile(r"[-+]?\d\.\d+e-(?:1\d|[2-9]\d)|\b\d\.\de-\d\d\b")


def test_the_worked_example_in_the_docs_is_the_commands_output(run_cli, monkeypatch):
    """The doc pastes `nncli trace configs/xor.yaml --step` whole, and a part of `--per-sample`.
    Round-off-sized numbers (a gradient that is 0 up to 1e-17, the relative errors) depend on the CPU's
    floating-point kernels, so they are compared as tiny rather than digit for digit; every other
    character must be the same."""
    monkeypatch.chdir(ROOT)
    doc = DOC.read_text(encoding="utf-8")

    def same(pasted: str, printed: str) -> None:
        for token in ROUND_OFF.findall(printed):
            assert abs(float(token)) < 1e-6, token
        assert ROUND_OFF.sub("~0", pasted) == ROUND_OFF.sub("~0", printed)

    block = re.search(r"\$ nncli trace configs/xor\.yaml --step\n(.*?)```", doc, re.S)
    assert block, "docs/backprop.md has the worked example"
    result = run_cli("trace", "configs/xor.yaml", "--step")
    assert result.exit_code == 0, result.stderr
    same(block.group(1), result.stdout)
    part = re.search(r"\$ nncli trace configs/xor\.yaml --per-sample\n\.\.\.\n(.*?)```", doc, re.S)
    assert part, "docs/backprop.md has the per-sample excerpt"
    result = run_cli("trace", "configs/xor.yaml", "--per-sample")
    start = result.stdout.index(part.group(1).splitlines()[0])
    same(part.group(1), result.stdout[start:start + len(part.group(1))])


# -- bad input ----------------------------------------------------------------------------------------
def test_bad_input_exits_2_with_one_message(run_cli, tmp_path):
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "config.yaml").write_text(XOR.read_text())
    cases = [
        (["trace", killed], "has no weights.npz"),
        (["trace", XOR, "--rows", "0"], "--rows: must be at least 1"),
        (["trace", XOR, "--rows", "5"], "--rows: asks for 5 rows, but the training data of xor has 4"),
        (["trace", XOR, "--max-params", "-1"], "--max-params"),
        (["trace", tmp_path / "nope.yaml"], "config file not found"),
        (["trace", tmp_path], "not a run directory"),
        (["trace", XOR, "model.layerz=1"], "did you mean 'layers'"),
    ]
    for args, message in cases:
        result = run_cli(*args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
        assert result.stdout == ""


def test_unloadable_data_offers_random_data(run_cli, write_config, tmp_path):
    path = write_config("data: {name: mnist, path: %s}\nmodel:\n  layers: [{units: 4, activation: relu}, "
                        "{units: 10, activation: softmax}]\nloss: categorical_crossentropy\n"
                        "optimizer: {name: sgd, lr: 0.1}\ntrain: {epochs: 1}\n" % (tmp_path / "nowhere"))
    result = run_cli("trace", path)
    assert result.exit_code == 2 and "not found" in result.stderr and "use --random-data" in result.stderr
    result = run_cli("trace", path, "--random-data")
    assert result.exit_code == 2 and "model.input" in result.stderr and "--random-data" in result.stderr
    result = run_cli("trace", path, "model.input=20", "--random-data", "--rows", "3", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rows"] is None and "random" in data["data"] and data["quantities"][0]["shape"] == [3, 20]


# -- README ---------------------------------------------------------------------------------------------
def normalised(text: str) -> str:
    return "\n".join(ROUND_OFF.sub("~0", line.rstrip()) for line in text.splitlines())


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_readme_section_runs_as_shown_and_prints_what_it_shows(run_cli, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## See back-propagation happen")
    section = text[start:text.index("\n## ", start + 1)]
    script = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    bindir = Path(sys.executable).parent
    if not (bindir / "nncli").exists():
        pytest.skip("the nncli console script is not installed next to this Python")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    r = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script + 'echo "$run" > run.txt\n'], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    run = (tmp_path / "run.txt").read_text().strip()
    Image = pytest.importorskip("PIL.Image")
    with Image.open(tmp_path / "pics" / "evolution.gif") as gif:
        assert gif.n_frames == 40
    monkeypatch.chdir(tmp_path)
    shown = re.findall(r"```\n\$ (nncli [^\n]*)\n(.*?)```", section, re.S)
    assert len(shown) == 2
    for command, output in shown:
        printed = run_cli(*shlex.split(command.replace('"$run"', run))[1:])
        assert printed.exit_code == 0, printed.stderr
        for chunk in output.split("...\n"):
            if chunk.strip():
                assert normalised(chunk) in normalised(printed.stdout), chunk
