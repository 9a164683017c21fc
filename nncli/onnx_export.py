"""A trained network as an ONNX model, and checking the model with onnxruntime.

Layer l becomes two nodes: Gemm(Y_{l-1}, W_l, b_l) = Y_{l-1} W_l + b_l -> Z_l (W_l stored as nncli keeps
it, (fan_in, fan_out), so no transpose), then the activation's own ONNX operator (`Activation.onnx_op`
with `onnx_attributes`: Relu, LeakyRelu alpha 0.01, Sigmoid, Tanh, Softmax over axis 1, Identity).
The graph's input `input` has shape (batch, n_0) and its output `output` (batch, n_L), with a dynamic
batch dimension, in the dtype the network was trained in (float32 or float64). The IR version is the
lowest that the opset needs, so that runtimes older than the `onnx` package load the model.

`onnx` and `onnxruntime` are the optional extra `nncli[onnx]`, imported when a function here is called.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np

from . import __version__
from .errors import ConfigError, NncliError, argument
from .extras import require
from .metrics import outputs
from .nn.network import Network

INPUT, OUTPUT = "input", "output"  # the graph's input and output names
DEFAULT_OPSET = 17  # every operator used here runs in onnxruntime in both dtypes at opsets 16 to 18
MIN_OPSET = 13
#: --check passes when |onnx - nncli| <= tol * max(1, |nncli|) for every output
CHECK_TOLERANCE = {"float32": 1e-5, "float64": 1e-6}


def onnx_module():
    return require("onnx", "onnx", "ONNX export")


def check_opset(opset: int) -> None:
    """ConfigError unless `opset` is one the installed onnx package can write (13 or newer)."""
    newest = onnx_module().defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ConfigError(f"opset {opset} is not available; choose {MIN_OPSET} to {newest} (the installed onnx "
                          f"package writes up to {newest}; default {DEFAULT_OPSET})", where=argument("opset"))


def to_onnx(net: Network, opset: int = DEFAULT_OPSET, metadata: Mapping[str, str] | None = None,
            name: str = "nncli") -> bytes:
    """The serialized ONNX model (ModelProto bytes) computing `net.forward`; `metadata` goes into the
    model's metadata_props. The model passes onnx's checker (with shape inference)."""
    onnx = onnx_module()
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    check_opset(opset)
    dtype = net.layers[0].W.dtype
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    nodes, weights, x = [], [], INPUT
    last = len(net.layers)
    for l, layer in enumerate(net.layers, start=1):
        act = layer.activation
        if act.onnx_op is None:
            raise ConfigError(f"the {act.name} activation has no ONNX operator, so this network cannot be "
                              f"exported (give its class an onnx_op)", where=f"model.layers.{l - 1}.activation")
        weights += [numpy_helper.from_array(layer.W, f"W{l}"), numpy_helper.from_array(layer.b, f"b{l}")]
        z, y = f"Z{l}", OUTPUT if l == last else f"Y{l}"
        nodes.append(helper.make_node("Gemm", [x, f"W{l}", f"b{l}"], [z], name=f"dense{l}"))
        nodes.append(helper.make_node(act.onnx_op, [z], [y], name=f"{act.name}{l}", **act.onnx_attributes))
        x = y
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(INPUT, elem, ["batch", net.sizes[0]])],
        [helper.make_tensor_value_info(OUTPUT, elem, ["batch", net.sizes[-1]])],
        initializer=weights)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="nncli", producer_version=__version__,
                              doc_string=f"dense network trained with nncli {__version__}")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(model, dict(metadata or {}))
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def read_metadata(model: bytes) -> dict[str, str]:
    """The metadata_props of a serialized ONNX model, as a dict."""
    proto = onnx_module().load_model_from_string(model)
    return {p.key: p.value for p in proto.metadata_props}


@dataclass
class Check:
    """How an exported model's outputs compare with nncli's on `rows` rows of a run's `split`."""

    split: str
    rows: int
    max_abs: float  # max |onnx - nncli|
    max_error: float  # max |onnx - nncli| / max(1, |nncli|)
    tolerance: float
    runtime: str  # "onnxruntime X.Y.Z"

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def run_onnx(model: bytes, X: np.ndarray) -> np.ndarray:
    """The model's outputs for inputs X (N, n_0), computed by onnxruntime on the CPU."""
    ort = require("onnxruntime", "onnx", "checking an ONNX export")
    try:
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        return session.run([OUTPUT], {INPUT: X})[0]
    except Exception as e:  # onnxruntime raises its own exception types (Fail, NotImplemented, ...)
        raise NncliError(f"onnxruntime {ort.__version__} cannot run the exported model: {e}. Operators in "
                         f"float64 are missing from some opsets of onnxruntime; opset {DEFAULT_OPSET} "
                         f"(the default {argument('opset')}) runs every activation") from None


def check(model: bytes, net: Network, X: np.ndarray, split: str) -> Check:
    """Run the model with onnxruntime on X and compare with nncli's own outputs for the same rows."""
    got = run_onnx(model, X)
    want = outputs(net, X)
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    scaled = diff / np.maximum(1.0, np.abs(want.astype(np.float64)))
    ort = require("onnxruntime", "onnx", "checking an ONNX export")
    return Check(split, len(X), float(diff.max(initial=0.0)), float(scaled.max(initial=0.0)),
                 CHECK_TOLERANCE[str(X.dtype)], f"onnxruntime {ort.__version__}")
