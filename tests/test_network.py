"""Network: whole-network gradients against central differences (float64) for several depths,
activations and losses, with and without weight decay; batched gradients equal the mean of per-sample
gradients; weight decay's value and gradient are exact and independent of the batch size."""

import numpy as np
import pytest

from conftest import numeric_gradient
from nncli.nn.losses import LOSSES
from nncli.nn.network import Network


def make_net(sizes, activations, seed=0, dtype=np.float64, scale=0.8):
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(0, scale, size=(a, b)).astype(dtype), rng.normal(0, 0.3, size=b).astype(dtype))
               for a, b in zip(sizes[:-1], sizes[1:])]
    return Network.from_arrays(weights, activations)


def make_data(loss, n, n_in, n_out, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    if loss == "categorical_crossentropy":
        T = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif loss == "binary_crossentropy":
        T = rng.integers(0, 2, size=(n, n_out)).astype(float)
    else:
        T = rng.normal(size=(n, n_out))
    return X, T


CASES = [  # sizes, activations, loss
    ([2, 2, 1], ["tanh", "sigmoid"], "binary_crossentropy"),  # the lab's XOR network
    ([3, 5, 4, 3], ["relu", "leaky_relu", "softmax"], "categorical_crossentropy"),
    ([3, 4, 2], ["sigmoid", "linear"], "mse"),
    ([4, 3, 3, 2, 2], ["tanh", "softmax", "relu", "sigmoid"], "binary_crossentropy"),
    ([3, 4, 3], ["tanh", "softmax"], "mse"),  # softmax output without the fused pair
    ([3, 4, 2], ["leaky_relu", "sigmoid"], "mse"),  # sigmoid output without the fused pair
    ([5, 2], ["linear"], "mse"),  # no hidden layer: linear regression
]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("sizes,activations,loss_name", CASES)
def test_gradients_match_central_differences(sizes, activations, loss_name, weight_decay):
    net = make_net(sizes, activations)
    loss = LOSSES.get(loss_name)()
    X, T = make_data(loss_name, 6, sizes[0], sizes[-1])
    value, grads = net.loss_and_gradients(X, T, loss, weight_decay)
    assert value == pytest.approx(net.loss_value(X, T, loss, weight_decay), rel=1e-14)
    for name, p, g in zip(net.parameter_names(), net.parameters(), grads):
        assert g.shape == p.shape, name
        numeric = numeric_gradient(lambda _: net.loss_value(X, T, loss, weight_decay), p)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("sizes,activations,loss_name", CASES[:4])
def test_batched_gradient_is_the_mean_of_per_sample_gradients(sizes, activations, loss_name):
    net = make_net(sizes, activations, seed=4)
    loss = LOSSES.get(loss_name)()
    X, T = make_data(loss_name, 8, sizes[0], sizes[-1], seed=5)
    wd = 0.05
    value, grads = net.loss_and_gradients(X, T, loss, wd)
    per_sample = [net.loss_and_gradients(X[i:i + 1], T[i:i + 1], loss, wd) for i in range(len(X))]
    assert value == pytest.approx(np.mean([v for v, _ in per_sample]), rel=1e-12)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, np.mean([gs[k] for _, gs in per_sample], axis=0), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("n", [1, 4, 64])
def test_weight_decay_gradient_is_lambda_w_on_weights_and_zero_on_biases(n):
    net = make_net([3, 4, 2], ["tanh", "sigmoid"], seed=6)
    loss = LOSSES.get("binary_crossentropy")()
    X, T = make_data("binary_crossentropy", n, 3, 2, seed=n)
    lam = 0.3
    v0, g0 = net.loss_and_gradients(X, T, loss, 0.0)
    v1, g1 = net.loss_and_gradients(X, T, loss, lam)
    for name, p, a, b in zip(net.parameter_names(), net.parameters(), g0, g1):
        if name.startswith("W"):
            np.testing.assert_allclose(b - a, lam * p, rtol=1e-12, atol=1e-15, err_msg=name)
        else:
            np.testing.assert_array_equal(b, a, err_msg=name)  # biases are not decayed
    squares = sum(float(np.sum(W ** 2)) for W in net.parameters()[0::2])
    assert v1 - v0 == pytest.approx(lam / 2 * squares, rel=1e-12)
    assert net.decay_value(lam) == pytest.approx(lam / 2 * squares, rel=1e-14)
    assert net.decay_value(0.0) == 0.0


def test_weight_decay_alone_has_gradient_lambda_w_whatever_the_batch():
    """With targets equal to the outputs of an mse network the data gradient is 0: only lambda W is left."""
    net = make_net([2, 3, 2], ["tanh", "linear"], seed=7)
    loss = LOSSES.get("mse")()
    for n in (1, 5, 50):
        X = np.random.default_rng(n).normal(size=(n, 2))
        value, grads = net.loss_and_gradients(X, net.forward(X), loss, 0.2)
        assert value == pytest.approx(net.decay_value(0.2), rel=1e-14)
        for name, p, g in zip(net.parameter_names(), net.parameters(), grads):
            np.testing.assert_allclose(g, 0.2 * p if name.startswith("W") else 0 * p, atol=1e-15)


def test_fused_output_is_used_and_stays_finite_for_saturated_outputs():
    net = make_net([2, 1], ["sigmoid"])
    net.layers[0].W[...] = [[500.0], [500.0]]
    loss = LOSSES.get("binary_crossentropy")()
    X = np.array([[1.0, 1.0], [-1.0, -1.0]])
    T = np.array([[0.0], [1.0]])  # both wrong by a logit of 1000 (plus the bias)
    assert net.is_fused(loss)
    value, grads = net.loss_and_gradients(X, T, loss)
    b = net.layers[0].b[0]
    assert value == pytest.approx(((1000 + b) + (1000 - b)) / 2, rel=1e-12)
    np.testing.assert_allclose(grads[0], [[1.0], [1.0]])  # X^T (Y - T)/N = ([1,1] + [1,1]) / 2
    assert not make_net([2, 2], ["softmax"]).is_fused(LOSSES.get("binary_crossentropy")())
    assert not make_net([2, 2], ["sigmoid"]).is_fused(LOSSES.get("mse")())


def test_forward_all_and_parameters():
    net = make_net([3, 4, 2], ["relu", "softmax"])
    X = np.random.default_rng(0).normal(size=(5, 3))
    Zs, Ys = net.forward_all(X)
    assert [z.shape for z in Zs] == [(5, 4), (5, 2)]
    assert Ys[0] is X and len(Ys) == 3
    np.testing.assert_array_equal(Zs[0], X @ net.layers[0].W + net.layers[0].b)
    np.testing.assert_array_equal(Ys[-1], net.forward(X))
    assert net.sizes == [3, 4, 2]
    assert net.activation_names == ["relu", "softmax"]
    assert net.parameter_names() == ["W1", "b1", "W2", "b2"]
    assert net.parameter_count() == 3 * 4 + 4 + 4 * 2 + 2
    assert net.parameters()[0] is net.layers[0].W  # the arrays themselves, updated in place
    assert list(net.state()) == ["W1", "b1", "W2", "b2"]
    c = net.copy(np.float32)
    assert c.layers[0].W.dtype == np.float32 and c.layers[0].W is not net.layers[0].W


def test_float32_network_stays_float32():
    net = make_net([3, 4, 2], ["tanh", "softmax"], dtype=np.float32)
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    T = np.eye(2, dtype=np.float32)[[0, 1, 1, 0, 1]]
    _, grads = net.loss_and_gradients(X, T, LOSSES.get("categorical_crossentropy")(), 0.01)
    assert all(g.dtype == np.float32 for g in grads)
    assert net.forward(X).dtype == np.float32


def test_docs_backprop_points_at_functions_that_exist():
    """Every `Class.method` and `path.py: name` that docs/backprop.md cites is real code."""
    import importlib
    import re

    from conftest import ROOT

    text = (ROOT / "docs" / "backprop.md").read_text()
    modules = [importlib.import_module(m) for m in ("nncli.nn.network", "nncli.nn.losses", "nncli.nn.activations",
                                                    "nncli.nn.optimizers", "nncli.data.datasets")]
    cited = set(re.findall(r"`(?:nncli/[\w/]+\.py: )?([A-Z]\w+)\.(\w+)`", text))
    assert len(cited) >= 15
    for cls_name, attr in cited:
        owners = [getattr(m, cls_name) for m in modules if hasattr(m, cls_name)]
        assert owners and hasattr(owners[0], attr), f"{cls_name}.{attr}"
    for path, name in re.findall(r"`(nncli/[\w/]+\.py): (\w+)`", text):
        module = importlib.import_module(path[:-3].replace("/", "."))
        assert hasattr(module, name), f"{path}: {name}"
    for test_file, test_name in re.findall(r"`(tests/\w+\.py):\s+(\w+)`", text):
        assert f"def {test_name}(" in (ROOT / test_file).read_text(), test_name
