"""The optimised engine computes exactly what the plain formulas compute: every activation's forward and
derivative, the fused output delta, the whole back-propagation (with its reused workspace, for batches of
different sizes), every optimizer step and a whole shuffled training run are equal bit for bit to the
straightforward numpy expressions they replaced (written out below), in float64 and in float32; and a
training batch allocates no array of the size of a layer."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from nncli import config as C
from nncli.data.splits import Split, TrainData
from nncli.nn.activations import ACTIVATIONS
from nncli.nn.losses import LOSSES
from nncli.nn.network import Network
from nncli.nn.optimizers import OPTIMIZERS
from nncli.nn.schedules import SCHEDULES
from nncli.trainer import Trainer


# -- the unoptimised formulas (what the engine computed before it reused arrays) ---------------------
def ref_forward(name: str, z: np.ndarray) -> np.ndarray:
    if name in ("linear", "identity"):
        return z
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, z * z.dtype.type(0.01))
    if name in ("sigmoid", "logistic"):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1, e) / (1 + e)
    if name == "tanh":
        return np.tanh(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))  # softmax
    return e / e.sum(axis=1, keepdims=True)


def ref_backward(name: str, z: np.ndarray, g: np.ndarray) -> np.ndarray:
    if name in ("linear", "identity"):
        return g
    if name == "relu":
        return g * (z > 0)
    if name == "leaky_relu":
        return g * np.where(z > 0, 1, 0.01).astype(z.dtype, copy=False)
    if name in ("sigmoid", "logistic"):
        s = ref_forward(name, z)
        return g * s * (1 - s)
    if name == "tanh":
        t = np.tanh(z)
        return g * (1 - t * t)
    s = ref_forward(name, z)  # softmax
    return s * (g - (g * s).sum(axis=1, keepdims=True))


def ref_backprop(net: Network, X, T, loss, wd: float):
    """Network.backprop as it was: new arrays everywhere, derivatives at Z."""
    Zs, Ys = [], [X]
    for layer in net.layers:
        Zs.append(Ys[-1] @ layer.W + layer.b)
        Ys.append(ref_forward(layer.activation.name, Zs[-1]))
    value = net.data_loss(Zs[-1], Ys[-1], T, loss) + net.decay_value(wd)
    if net.is_fused(loss):
        delta = (Ys[-1] - T) * Ys[-1].dtype.type(1.0 / len(X))
    else:
        delta = ref_backward(net.layers[-1].activation.name, Zs[-1], loss.gradient(Ys[-1], T))
    grads = [None] * (2 * len(net.layers))
    for l in range(len(net.layers) - 1, -1, -1):
        W = net.layers[l].W
        gW = Ys[l].T @ delta
        if wd:
            gW += W.dtype.type(wd) * W
        grads[2 * l], grads[2 * l + 1] = gW, delta.sum(axis=0)
        if l > 0:
            delta = ref_backward(net.layers[l - 1].activation.name, Zs[l - 1], delta @ W.T)
    return value, grads, Ys[-1]


class RefOptimizer:
    """The optimizers' updates as the plain expressions (new arrays for every intermediate)."""

    def __init__(self, name: str, **options):
        self.name, self.o, self.t, self.s = name, options, 0, None

    def step(self, params, grads, lr):
        self.t += 1
        if self.s is None:
            self.s = [[np.zeros_like(p) for p in params] for _ in range(2)]
        for p, g, v, m in zip(params, grads, self.s[0], self.s[1]):
            dt = p.dtype.type
            if self.name == "adam":
                b1, b2, eps = self.o.get("beta1", 0.9), self.o.get("beta2", 0.999), self.o.get("eps", 1e-8)
                c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
                m *= dt(b1)
                m += dt(1 - b1) * g
                v *= dt(b2)
                v += dt(1 - b2) * (g * g)
                p -= dt(lr / c1) * m / (np.sqrt(v * dt(1 / c2)) + dt(eps))
            elif not self.o.get("momentum"):
                p -= dt(lr) * g
            else:
                mu = self.o["momentum"]
                v *= dt(mu)
                v += g
                p -= dt(lr) * (g + dt(mu) * v) if self.o.get("nesterov") else dt(lr) * v


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to the last bit, signs of zeros included."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


NAMES = ACTIVATIONS.names()
DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_activation_forward_and_derivatives_equal_the_formulas_bit_for_bit(name, dtype):
    act = ACTIVATIONS.get(name)()
    rng = np.random.default_rng(1)
    z = (rng.normal(0, 3, size=(7, 5)) * rng.integers(0, 2, size=(7, 5))).astype(dtype)  # zeros included
    g = rng.normal(size=z.shape).astype(dtype)
    a = ref_forward(name, z)
    expected = ref_backward(name, z, g)
    assert same_bits(act.forward(z), a)
    buf = np.empty_like(z)
    assert act.forward(z, out=buf) is buf and same_bits(buf, a)
    inplace = z.copy()
    assert same_bits(act.forward(inplace, out=inplace), a)  # a hidden layer's Z overwritten by A
    assert same_bits(act.backward(z, a, g), expected)
    assert act.derivative_from_output
    grad = g.copy()
    assert same_bits(act.backward_at_output(a, grad, out=grad), expected)  # in place, as in training
    assert same_bits(act.backward_at_output(a, g), expected) and same_bits(g, g.copy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_deltas_equal_the_formula_and_soft_targets_get_the_exact_gradient(dtype):
    rng = np.random.default_rng(2)
    Y = rng.uniform(0.01, 0.99, size=(6, 4)).astype(dtype)
    T = np.eye(4, dtype=dtype)[rng.integers(0, 4, 6)]
    for name in ("categorical_crossentropy", "binary_crossentropy"):
        loss = LOSSES.get(name)()
        out = np.empty_like(Y)
        expected = (Y - T) * dtype(1.0 / 6)
        assert same_bits(loss.fused_delta(Y, T), expected)
        assert loss.fused_delta(Y, T, out=out) is out and same_bits(out, expected)
    Z = rng.normal(0, 3, size=(6, 4)).astype(dtype)
    m = Z.max(axis=1, keepdims=True)
    ref_value = float(-(T * (Z - m - np.log(np.exp(Z - m).sum(axis=1, keepdims=True)))).sum() / 6)
    assert LOSSES.get("categorical_crossentropy")().fused_value(Z, T) == ref_value
    # softmax + cross-entropy with targets whose rows do not sum to 1: d/dz of -sum t log softmax(z)
    cce, soft = LOSSES.get("categorical_crossentropy")(), ACTIVATIONS.get("softmax")()
    Z = rng.normal(size=(5, 3))
    Tsoft = rng.uniform(0, 1, size=(5, 3))
    composed = soft.backward(Z, soft.forward(Z), cce.gradient(soft.forward(Z), Tsoft))
    np.testing.assert_allclose(cce.fused_delta(soft.forward(Z), Tsoft), composed, rtol=1e-12, atol=1e-15)
    assert not np.allclose(composed, (soft.forward(Z) - Tsoft) / 5)  # (Y - T)/N would be wrong here


CASES = [  # sizes, activations, loss
    ([3, 5, 4, 3], ["relu", "leaky_relu", "softmax"], "categorical_crossentropy"),
    ([2, 2, 1], ["tanh", "sigmoid"], "binary_crossentropy"),
    ([4, 3, 3, 2, 2], ["tanh", "softmax", "relu", "sigmoid"], "binary_crossentropy"),
    ([3, 4, 3], ["sigmoid", "softmax"], "mse"),
    ([3, 4, 2], ["leaky_relu", "sigmoid"], "mse"),
    ([3, 6, 2], ["linear", "tanh"], "mse"),
    ([5, 2], ["linear"], "mse"),
]


def make(sizes, activations, loss_name, dtype, n, seed):
    rng = np.random.default_rng(seed)
    net = Network.from_arrays([(rng.normal(0, 0.8, (a, b)).astype(dtype), rng.normal(0, 0.3, b).astype(dtype))
                               for a, b in zip(sizes[:-1], sizes[1:])], activations)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    if loss_name == "categorical_crossentropy":
        T = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    elif loss_name == "binary_crossentropy":
        T = rng.integers(0, 2, size=(n, sizes[-1])).astype(dtype)
    else:
        T = rng.normal(size=(n, sizes[-1])).astype(dtype)
    return net, X, T


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize("sizes,activations,loss_name", CASES)
def test_backprop_equals_the_unoptimised_formulas_bit_for_bit(sizes, activations, loss_name, wd, dtype):
    net, X, T = make(sizes, activations, loss_name, dtype, 9, seed=3)
    loss = LOSSES.get(loss_name)()
    work = net.workspace(9)
    for rows in (9, 4, 9, 1):  # one workspace for batches of several sizes, as the last batch of an epoch
        value, grads, Y = net.backprop(X[:rows], T[:rows], loss, wd, work=work)
        ref_value, ref_grads, ref_Y = ref_backprop(net, X[:rows], T[:rows], loss, wd)
        assert value == ref_value
        assert same_bits(Y, ref_Y)
        for name, g, r in zip(net.parameter_names(), grads, ref_grads):
            assert same_bits(g, r), (rows, name)
    fresh_value, fresh_grads = net.loss_and_gradients(X, T, loss, wd)  # no workspace: new arrays
    ref_value, ref_grads, _ = ref_backprop(net, X, T, loss, wd)
    assert fresh_value == ref_value and all(same_bits(g, r) for g, r in zip(fresh_grads, ref_grads))
    assert not any(np.shares_memory(g, h) for g, h in zip(fresh_grads, net.loss_and_gradients(X, T, loss, wd)[1]))
    assert same_bits(net.forward(X), ref_backprop(net, X, T, loss, wd)[2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_backprop_at_the_benchmark_shapes_equals_the_formulas_bit_for_bit(dtype):
    """784-256-128-10 with batches of 128 and 96 rows: the matrix products into reused arrays are the
    same BLAS calls as the allocating ones."""
    net, X, T = make([784, 256, 128, 10], ["relu", "relu", "softmax"], "categorical_crossentropy", dtype, 128, 8)
    loss, work = LOSSES.get("categorical_crossentropy")(), net.workspace(128)
    for rows in (128, 96):
        value, grads, Y = net.backprop(X[:rows], T[:rows], loss, 0.001, work=work)
        ref_value, ref_grads, ref_Y = ref_backprop(net, X[:rows], T[:rows], loss, 0.001)
        assert value == ref_value and same_bits(Y, ref_Y)
        assert all(same_bits(g, r) for g, r in zip(grads, ref_grads))


def test_a_custom_activation_that_defines_backward_is_used_at_z():
    """An activation written the general way (backward at Z) keeps its Z and gets its own derivative."""
    base = ACTIVATIONS.get("tanh")

    class Custom(base):
        calls = 0

        def backward(self, z, a, grad_a):
            Custom.calls += 1
            return grad_a * (1 - np.tanh(z) ** 2)

    net, X, T = make([3, 4, 2], ["tanh", "linear"], "mse", np.float64, 5, seed=4)
    net.layers[0].activation = Custom()
    assert not net.layers[0].activation.derivative_from_output
    loss = LOSSES.get("mse")()
    _, grads, _ = net.backprop(X, T, loss, work=net.workspace(5))
    _, expected, _ = ref_backprop(net, X, T, loss, 0.0)
    assert Custom.calls == 1
    for g, r in zip(grads, expected):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,options", [("sgd", {}), ("sgd", {"momentum": 0.9}),
                                          ("sgd", {"momentum": 0.7, "nesterov": True}),
                                          ("adam", {}), ("adam", {"beta1": 0.8, "beta2": 0.95, "eps": 1e-7})])
def test_optimizer_steps_equal_the_formulas_bit_for_bit(name, options, dtype):
    rng = np.random.default_rng(5)
    params = [rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=3).astype(dtype)]
    ref_params = [p.copy() for p in params]
    opt, ref = OPTIMIZERS.get(name)(**options), RefOptimizer(name, **options)
    for step in range(6):
        grads = [rng.normal(size=p.shape).astype(dtype) for p in params]
        kept = [g.copy() for g in grads]
        lr = [0.1, 0.05, 0.2][step % 3]
        opt.step(params, grads, lr)
        ref.step(ref_params, grads, lr)
        assert all(same_bits(g, k) for g, k in zip(grads, kept))  # the gradients are not touched
        for p, r in zip(params, ref_params):
            assert same_bits(p, r), step


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 0.05, "momentum": 0.9}, {"name": "adam", "lr": 0.01}])
def test_a_shuffled_training_run_equals_the_plain_loop_bit_for_bit(dtype, optimizer):
    """The Trainer (gathered batches, workspace, in-place updates) against the loop written out with the
    unoptimised formulas: the same permutations from the same Generator, 3 epochs of batches of 16 out
    of 70 rows (the last batch has 6), weight decay on."""
    cfg = C.validate({"seed": 0, "dtype": dtype, "data": "xor", "weight_decay": 0.01,
                      "loss": "categorical_crossentropy",
                      "model": {"layers": [{"units": 8, "activation": "relu"}, {"units": 6, "activation": "tanh"},
                                           {"units": 3, "activation": "softmax"}]},
                      "optimizer": optimizer, "train": {"epochs": 3, "batch_size": 16}})
    net, X, T = make([5, 8, 6, 3], ["relu", "tanh", "softmax"], "categorical_crossentropy", np.dtype(dtype).type, 70, 6)
    y = T.argmax(axis=1)
    ref_net = net.copy()
    loss = LOSSES.get("categorical_crossentropy")()
    opt_options = {k: v for k, v in optimizer.items() if k not in ("name", "lr")}
    trainer = Trainer(net, cfg, loss, OPTIMIZERS.get(optimizer["name"])(**opt_options),
                      SCHEDULES.get("constant")(optimizer["lr"], 3), np.random.default_rng(11))
    result = trainer.fit(TrainData(Split(X, T, y)))
    assert result.status == "completed"

    rng, ref_opt = np.random.default_rng(11), RefOptimizer(optimizer["name"], **opt_options)
    losses = []
    for _ in range(3):
        perm, total = rng.permutation(70), 0.0
        for lo in range(0, 70, 16):
            idx = perm[lo:lo + 16]
            value, grads, _ = ref_backprop(ref_net, X[idx], T[idx], loss, 0.01)
            ref_opt.step(ref_net.parameters(), grads, optimizer["lr"])
            total += float(value) * len(idx)
        losses.append(total / 70)
    for name, p, r in zip(net.parameter_names(), net.parameters(), ref_net.parameters()):
        assert same_bits(p, r), name
    assert [row["loss"] for row in result.state.rows] == losses


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_training_batch_allocates_no_layer_sized_array(optimizer):
    """Once the workspace, the optimizer's state and scratch arrays and the noise arrays exist, a batch
    (noise, back-propagation, step) allocates only small temporaries: row maxima, ReLU's mask of bytes,
    numpy's own casting buffers (at most 8192 elements). At its peak that is less than half of the hidden
    layer's array (256 x 512 float32), so no float array of a layer's size is made per batch."""
    from nncli.nn.noise import GaussianNoise

    net, X, T = make([784, 512, 10], ["relu", "softmax"], "categorical_crossentropy", np.float32, 256, 7)
    loss = LOSSES.get("categorical_crossentropy")()
    opt = OPTIMIZERS.get("sgd")(momentum=0.9) if optimizer == "sgd" else OPTIMIZERS.get("adam")()
    work, noise = net.workspace(256), GaussianNoise(0.1, np.random.default_rng(0), 256, 784, np.float32)
    Xb = np.empty_like(X)

    def batch():
        np.copyto(Xb, X)
        noise.add_to(Xb)
        _, grads, _ = net.backprop(Xb, T, loss, 0.01, work=work)
        opt.step(net.parameters(), grads, 1e-3)

    batch()
    tracemalloc.start()
    for _ in range(3):
        batch()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    layer_bytes = 256 * 512 * 4
    assert peak < layer_bytes / 2, peak
