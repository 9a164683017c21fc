"""Losses: every registered loss's gradient against central differences (float64); the fused
sigmoid + BCE and softmax + CCE paths against the unfused composition; stability for huge logits;
check_output messages."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import numeric_gradient
from nncli.nn.activations import ACTIVATIONS
from nncli.nn.losses import LOSSES

#: each loss's natural output activation, so outputs lie in its domain
OUTPUT = {"binary_crossentropy": "sigmoid", "categorical_crossentropy": "softmax", "mse": "tanh"}
NAMES = LOSSES.names()


def cls(name):
    return LOSSES.get(name)


def sample(name, n=5, k=3, seed=0):
    """Outputs Y in the loss's domain, logits Z with Y = phi(Z), and targets T."""
    rng = np.random.default_rng(seed)
    canonical = cls(name).name
    act = ACTIVATIONS.get(OUTPUT[canonical])()
    Z = rng.normal(0, 1.5, size=(n, k))
    Y = act.forward(Z)
    if canonical == "categorical_crossentropy":
        T = np.eye(k)[rng.integers(0, k, n)]
    elif canonical == "binary_crossentropy":
        T = rng.integers(0, 2, size=(n, k)).astype(float)
    else:
        T = rng.normal(size=(n, k))
    return act, Z, Y, T


def test_every_loss_has_a_known_output_activation():
    assert {cls(n).name for n in NAMES} <= set(OUTPUT), "add the new loss to OUTPUT in this test"


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name):
    loss = cls(name)()
    _, _, Y, T = sample(name)
    if cls(name).name == "categorical_crossentropy":
        # the value is -sum t log y without the sum-to-one constraint, so any positive Y is in the domain
        Y = Y * 0.9 + 0.05
    numeric = numeric_gradient(lambda y: loss.value(y, T), Y.copy(), h=1e-7)
    np.testing.assert_allclose(loss.gradient(Y, T), numeric, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_value_is_the_mean_over_the_batch_of_per_sample_errors(name):
    loss = cls(name)()
    _, _, Y, T = sample(name, n=6)
    per_sample = [loss.value(Y[i:i + 1], T[i:i + 1]) for i in range(len(Y))]
    assert loss.value(Y, T) == pytest.approx(np.mean(per_sample), rel=1e-12)


def test_known_values():
    y = np.array([[0.8], [0.4]])
    t = np.array([[1.0], [0.0]])
    assert cls("binary_crossentropy")().value(y, t) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)
    y2 = np.array([[0.7, 0.2, 0.1]])
    t2 = np.array([[0.0, 1.0, 0.0]])
    assert cls("categorical_crossentropy")().value(y2, t2) == pytest.approx(-np.log(0.2))
    assert cls("mse")().value(np.array([[1.0, 2.0], [0.0, 0.0]]), np.zeros((2, 2))) == pytest.approx(
        0.5 * (1 + 4) / 2)


@pytest.mark.parametrize("name", [n for n in NAMES if cls(n).fused_activation])
def test_fused_delta_equals_composed_unfused_gradient(name):
    loss = cls(name)()
    act, Z, Y, T = sample(name, n=7, k=4 if cls(name).name == "categorical_crossentropy" else 2)
    composed = act.backward(Z, Y, loss.gradient(Y, T))
    np.testing.assert_allclose(loss.fused_delta(Y, T), composed, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(loss.fused_delta(Y, T), (Y - T) / len(Y), rtol=1e-15, atol=0)
    # and the fused value is the unfused value of the same outputs
    assert loss.fused_value(Z, T) == pytest.approx(loss.value(Y, T), rel=1e-12)


@pytest.mark.parametrize("name", [n for n in NAMES if cls(n).fused_activation])
def test_fused_value_gradient_matches_central_differences_in_z(name):
    loss = cls(name)()
    act, Z, Y, T = sample(name, n=4, k=3)
    numeric = numeric_gradient(lambda z: loss.fused_value(z, T), Z.copy())
    np.testing.assert_allclose(loss.fused_delta(act.forward(Z), T), numeric, rtol=1e-6, atol=1e-9)


def test_bce_fused_is_finite_and_exact_for_huge_logits():
    loss = cls("binary_crossentropy")()
    sig = ACTIVATIONS.get("sigmoid")()
    Z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]])
    T = np.array([[0.0], [1.0], [1.0], [0.0]])
    Y = sig.forward(Z)  # exactly 1, 0, 1, 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fused = loss.fused_value(Z, T)
        delta = loss.fused_delta(Y, T)
    # two samples are wrong by a logit of 1000 (error 1000 each), two are right (error exp(-1000) = 0)
    assert fused == 500.0
    np.testing.assert_array_equal(delta, [[0.25], [-0.25], [0.0], [0.0]])
    assert loss.value(Y, T) == np.inf  # the unfused value takes log(0)
    # a moderate logit: fused and unfused agree where the unfused one is finite
    Zm = np.array([[10.0], [-10.0], [3.0]])
    Tm = np.array([[0.0], [1.0], [1.0]])
    assert loss.fused_value(Zm, Tm) == pytest.approx(loss.value(sig.forward(Zm), Tm), rel=1e-10)
    # at z = 30 the unfused 1 - sigmoid(z) has lost 4 digits; the fused value is exact to rounding
    Zb, Tb = np.array([[30.0], [-30.0]]), np.zeros((2, 1))
    exact = (30 + 2 * np.log1p(np.exp(-30.0))) / 2
    assert loss.fused_value(Zb, Tb) == pytest.approx(exact, rel=1e-15)
    assert abs(loss.value(sig.forward(Zb), Tb) - exact) > 1e-6


def test_cce_fused_is_finite_and_exact_for_huge_logits():
    loss = cls("categorical_crossentropy")()
    soft = ACTIVATIONS.get("softmax")()
    Z = np.array([[1000.0, 0.0, -1000.0], [1000.0, 0.0, -1000.0]])
    T = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    Y = soft.forward(Z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fused = loss.fused_value(Z, T)
        delta = loss.fused_delta(Y, T)
    assert fused == 1000.0  # (2000 + 0) / 2
    np.testing.assert_array_equal(delta, [[0.5, 0.0, -0.5], [0.0, 0.0, 0.0]])
    assert loss.value(Y, T) == np.inf


def test_fused_pairs_are_exactly_sigmoid_bce_and_softmax_cce():
    assert cls("binary_crossentropy").fused_activation == "sigmoid"
    assert cls("categorical_crossentropy").fused_activation == "softmax"
    assert cls("mse").fused_activation is None


def test_check_output_messages():
    cce, bce, mse = cls("categorical_crossentropy")(), cls("binary_crossentropy")(), cls("mse")()
    msg = cce.check_output("softmax", 1)
    assert "needs at least 2 softmax output units" in msg and "has 1" in msg
    assert "needs a softmax output layer, but it uses sigmoid" in cce.check_output("sigmoid", 3)
    msg = bce.check_output("softmax", 3)
    assert "binary_crossentropy needs sigmoid outputs" in msg and "uses softmax" in msg
    assert bce.check_output("sigmoid", 1) is None and bce.check_output("sigmoid", 4) is None
    assert cce.check_output("softmax", 2) is None
    assert mse.check_output("linear", 1) is None
    assert mse.check_output("softmax", 1) == "a softmax output layer needs at least 2 units"


@settings(max_examples=200, deadline=None)
@given(z=arrays(np.float64, (3, 4), elements=st.floats(-1e6, 1e6)),
       labels=arrays(np.int64, (3,), elements=st.integers(0, 3)))
def test_fused_values_and_deltas_are_finite_for_any_logits(z, labels):
    T = np.eye(4)[labels]
    for name, act in (("binary_crossentropy", "sigmoid"), ("categorical_crossentropy", "softmax")):
        loss = cls(name)()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = loss.fused_value(z, T)
            delta = loss.fused_delta(ACTIVATIONS.get(act)().forward(z), T)
        assert np.isfinite(value) and value >= 0
        assert np.all(np.abs(delta) <= 1 / 3 + 1e-15)
