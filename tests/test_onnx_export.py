"""ONNX export: every activation as hidden and as output layer, in float32 and float64, runs in onnxruntime
and gives nncli's outputs; metadata (class names) round-trips; `nncli export` and its bad inputs."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from nncli import exporting, onnx_export
from nncli.model import WEIGHTS
from nncli.nn.activations import ACTIVATIONS
from nncli.nn.network import Dense, Network

from conftest import ROOT, XOR

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

# each activation class once (aliases such as identity/logistic name the same class)
ACTIVATION_NAMES = sorted({cls.name for _, cls in ACTIVATIONS.items()})


def random_network(hidden: str, output: str, dtype, seed: int = 0) -> Network:
    """3 inputs -> 5 hidden units -> 3 outputs, weights large enough to reach every activation's regimes."""
    rng = np.random.default_rng(seed)
    sizes = [3, 5, 3]
    layers = [Dense(rng.normal(0, 1.5, (a, b)).astype(dtype), rng.normal(0, 0.5, b).astype(dtype),
                    ACTIVATIONS.get(act)()) for a, b, act in zip(sizes, sizes[1:], (hidden, output))]
    return Network(layers)


def test_every_activation_exports():
    """A new activation cannot be registered without an ONNX operator (or a decision that it has none)."""
    missing = [name for name in ACTIVATION_NAMES if ACTIVATIONS.get(name).onnx_op is None]
    assert not missing, f"activations without onnx_op: {missing}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ACTIVATION_NAMES)
@pytest.mark.parametrize("hidden", ACTIVATION_NAMES)
def test_onnxruntime_matches_nncli(hidden, output, dtype):
    net = random_network(hidden, output, dtype)
    model = onnx_export.to_onnx(net)
    X = np.random.default_rng(1).normal(0, 2, (64, 3)).astype(dtype)
    got = onnx_export.run_onnx(model, X)
    want = net.forward(X)
    assert got.dtype == np.dtype(dtype) and got.shape == want.shape
    if dtype == "float64":
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        # in fact the same arithmetic up to rounding, but for leaky_relu: an ONNX float attribute is a
        # float32, so LeakyRelu's alpha is 0.0099999998 there (a relative difference of 2.2e-8)
        exact = "leaky_relu" not in (hidden, output)
        np.testing.assert_allclose(got, want, rtol=1e-12 if exact else 1e-7, atol=1e-12 if exact else 1e-9)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_graph_is_gemm_and_activation_with_dynamic_batch():
    net = random_network("leaky_relu", "softmax", "float32")
    proto = onnx.load_model_from_string(onnx_export.to_onnx(net))
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "LeakyRelu", "Gemm", "Softmax"]
    leaky = proto.graph.node[1]
    assert onnx.helper.get_attribute_value(leaky.attribute[0]) == pytest.approx(0.01)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 3
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(list(proto.opset_import))
    for rows in (1, 7, 300):  # any batch size
        X = np.ones((rows, 3), np.float32)
        assert onnx_export.run_onnx(onnx_export.to_onnx(net), X).shape == (rows, 3)


def test_opset_range(run_cli):
    net = random_network("relu", "sigmoid", "float32")
    with pytest.raises(Exception, match="opset 12 is not available; choose 13 to"):
        onnx_export.to_onnx(net, opset=12)
    for opset in (13, onnx_export.DEFAULT_OPSET):
        proto = onnx.load_model_from_string(onnx_export.to_onnx(net, opset=opset))
        assert proto.opset_import[0].version == opset


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    from typer.testing import CliRunner
    from nncli.cli import app

    out = tmp_path_factory.mktemp("runs") / "xor"
    result = CliRunner().invoke(app, ["train", str(XOR), "train.epochs=50", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def test_cli_export_with_check(xor_run, run_cli, tmp_path):
    out = tmp_path / "xor.onnx"
    result = run_cli("export", xor_run, "--out", out, "--check", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["path"] == str(out) and out.is_file() and report["opset"] == onnx_export.DEFAULT_OPSET
    check = report["check"]
    assert check["split"] == "train" and check["rows"] == 4 and check["passed"]
    assert check["max_abs"] < 1e-12  # float64 network: rounding only
    meta = onnx_export.read_metadata(out.read_bytes())
    assert meta["input_name"] == "input" and meta["output_name"] == "output"
    assert meta["architecture"] == "2 -> [2 tanh] -> [1 sigmoid]" and meta["dtype"] == "float64"
    assert "class_names" not in meta  # xor has no class names
    # the default place is the run directory, and stdout is the path (for scripts)
    result = run_cli("export", xor_run)
    assert result.exit_code == 0 and result.stdout.strip() == str(xor_run / "model.onnx")
    X = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    import nncli

    np.testing.assert_allclose(onnx_export.run_onnx((xor_run / "model.onnx").read_bytes(), X),
                               nncli.load_run(xor_run).predict(X), atol=1e-12)


def test_class_names_round_trip(tmp_path, run_cli, write_config):
    """A CSV with text labels: the class names go into the model's metadata and come back."""
    rng = np.random.default_rng(0)
    names = ["setosa", "versicolor", "virginica"]
    lines = ["a,b,species"] + [f"{x:.3f},{y:.3f},{names[i % 3]}" for i, (x, y) in enumerate(rng.normal(size=(30, 2)))]
    (tmp_path / "iris.csv").write_text("\n".join(lines) + "\n")
    cfg = write_config(f"""
data: {{name: csv, path: {tmp_path / 'iris.csv'}}}
model: {{layers: [{{units: 4, activation: relu}}, {{units: 3, activation: softmax}}]}}
loss: categorical_crossentropy
optimizer: {{name: adam, lr: 0.01}}
train: {{epochs: 5, batch_size: 8}}
""")
    run = tmp_path / "iris-run"
    assert run_cli("train", cfg, "--out", run, "-q").exit_code == 0
    result = run_cli("export", run, "--check")
    assert result.exit_code == 0, result.output
    meta = onnx_export.read_metadata((run / "model.onnx").read_bytes())
    assert json.loads(meta["class_names"]) == names and meta["task"] == "classification"
    assert "check with onnxruntime" in result.stderr and ": ok" in result.stderr


def test_float32_fashion_mnist_check(tmp_path, run_cli):
    """A real float32 network on Fashion-MNIST: checked on the 10,000 test images, within 1e-5."""
    from nncli.data import DATASETS

    if not DATASETS.get("fashion-mnist").locate().get("found"):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    run = tmp_path / "fm"
    result = run_cli("train", ROOT / "configs" / "fashion-mnist.yaml", "data.limit=500", "train.epochs=1",
                     "model.layers.0.units=32", "model.layers.1.units=16", "train.validation_split=0",
                     "--out", run, "-q")
    assert result.exit_code == 0, result.output
    result = run_cli("export", run, "--check", "--json")
    assert result.exit_code == 0, result.output
    check = json.loads(result.stdout)["check"]
    assert check["split"] == "test" and check["rows"] == 10000 and check["max_error"] <= 1e-5
    meta = onnx_export.read_metadata((run / "model.onnx").read_bytes())
    assert json.loads(meta["class_names"])[0] == "T-shirt/top"


# -- bad input: one message, exit 2, nothing written ---------------------------------------------------
def listing(path):
    return sorted(p.name for p in path.iterdir())


def test_unknown_format_names_the_closest(xor_run, run_cli):
    before = listing(xor_run)
    result = run_cli("export", xor_run, "--format", "onxx")
    assert result.exit_code == 2
    assert "--format: unknown export format 'onxx'; did you mean 'onnx'?" in result.stderr
    assert listing(xor_run) == before


def test_option_of_another_format(xor_run, run_cli, tmp_path):
    result = run_cli("export", xor_run, "--format", "tensorboard", "--opset", "13", "--out", tmp_path / "tb")
    assert result.exit_code == 2 and "--opset: applies to the onnx format only" in result.stderr
    assert not (tmp_path / "tb").exists()


def test_out_into_missing_directory(xor_run, run_cli, tmp_path):
    result = run_cli("export", xor_run, "--out", tmp_path / "nope" / "m.onnx")
    assert result.exit_code == 2 and "nope does not exist; create it first" in result.stderr
    assert not (tmp_path / "nope").exists()


def test_run_without_weights(xor_run, run_cli, tmp_path):
    import shutil

    run = tmp_path / "killed"
    shutil.copytree(xor_run, run)
    (run / WEIGHTS).unlink()
    (run / "model.onnx").unlink(missing_ok=True)
    result = run_cli("export", run)
    assert result.exit_code == 2 and "has no weights.npz" in result.stderr
    assert "Traceback" not in result.output and not (run / "model.onnx").exists()
    (run / "summary.json").unlink()  # killed before any summary: still no network to export
    result = run_cli("export", run)
    assert result.exit_code == 2 and "has no weights.npz" in result.stderr


def test_damaged_run(xor_run, run_cli, tmp_path):
    import shutil

    run = tmp_path / "damaged"
    shutil.copytree(xor_run, run)
    (run / "model.onnx").unlink(missing_ok=True)
    data = (run / WEIGHTS).read_bytes()
    (run / WEIGHTS).write_bytes(data[: len(data) // 2])
    result = run_cli("export", run)
    assert result.exit_code == 2 and "weights.npz" in result.stderr and "Traceback" not in result.output
    assert not (run / "model.onnx").exists()


def test_missing_extra(xor_run, run_cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    result = run_cli("export", xor_run, "--out", tmp_path / "m.onnx")
    assert result.exit_code == 2
    assert 'pip install "nncli[onnx]"' in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_onnxruntime_failure_writes_nothing(xor_run, run_cli, tmp_path, monkeypatch):
    """When the check cannot run the model, nothing is written and the message says what to try."""
    def fail(model, X):
        raise onnx_export.NncliError("onnxruntime cannot run the exported model: NOT_IMPLEMENTED")

    monkeypatch.setattr(onnx_export, "run_onnx", fail)
    result = run_cli("export", xor_run, "--out", tmp_path / "m.onnx", "--check")
    assert result.exit_code == 2 and "cannot run the exported model" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_failed_check_exits_1(xor_run, run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "run_onnx", lambda model, X: np.zeros((len(X), 1)) + 0.5)
    result = run_cli("export", xor_run, "--out", tmp_path / "m.onnx", "--check")
    assert result.exit_code == 1 and ": FAILED" in result.stderr


def test_python_api(xor_run, tmp_path):
    import nncli

    exported = nncli.export(xor_run, "onnx", tmp_path / "api.onnx", check=True)
    assert isinstance(exported, exporting.Exported) and exported.check.passed
    assert (tmp_path / "api.onnx").read_bytes()[:2]  # a file was written
