"""Activations: every registered one's backward against central differences (float64), softmax's
vector-Jacobian product against its explicit Jacobian, sigmoid's stability, derivatives taken at z."""

import warnings

import numpy as np
import pytest

from conftest import numeric_gradient
from nncli.nn.activations import ACTIVATIONS

NAMES = ACTIVATIONS.names()  # every registered name, aliases included: a new activation is covered


def away_from_kinks(z: np.ndarray, kinks, margin: float = 1e-2) -> np.ndarray:
    """Move every entry of z at least `margin` away from the activation's kinks."""
    z = z.copy()
    for k in kinks:
        close = np.abs(z - k) < margin
        z[close] = k + np.where(z[close] >= k, margin, -margin) * 2
    return z


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(name):
    act = ACTIVATIONS.get(name)()
    rng = np.random.default_rng(1)
    z = away_from_kinks(rng.normal(0, 2, size=(5, 4)), act.kinks)
    g = rng.normal(size=z.shape)  # dL/da for L = sum(g * phi(z))
    analytic = act.backward(z, act.forward(z), g)
    numeric = numeric_gradient(lambda zz: float(np.sum(g * act.forward(zz))), z.copy())
    assert analytic.shape == z.shape
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_forward_keeps_shape_and_dtype(name):
    act = ACTIVATIONS.get(name)()
    z = np.linspace(-3, 3, 12, dtype=np.float32).reshape(4, 3)
    a = act.forward(z)
    assert a.shape == z.shape and a.dtype == np.float32
    assert act.backward(z, a, np.ones_like(z)).dtype == np.float32


def test_known_values():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ACTIVATIONS.get("relu")().forward(z), [[0, 0, 3]])
    np.testing.assert_allclose(ACTIVATIONS.get("leaky_relu")().forward(z), [[-0.02, 0, 3]])
    np.testing.assert_allclose(ACTIVATIONS.get("sigmoid")().forward(z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(ACTIVATIONS.get("tanh")().forward(z), np.tanh(z))
    np.testing.assert_array_equal(ACTIVATIONS.get("linear")().forward(z), z)
    s = ACTIVATIONS.get("softmax")().forward(z)
    np.testing.assert_allclose(s, np.exp(z) / np.exp(z).sum())
    # relu's derivative at the kink is 0 by convention, leaky_relu's is alpha
    np.testing.assert_array_equal(ACTIVATIONS.get("relu")().backward(z, None, np.ones_like(z)), [[0, 0, 1]])
    np.testing.assert_allclose(ACTIVATIONS.get("leaky_relu")().backward(z, None, np.ones_like(z)),
                               [[0.01, 0.01, 1]])


def test_softmax_vjp_equals_explicit_jacobian():
    act = ACTIVATIONS.get("softmax")()
    rng = np.random.default_rng(2)
    z = rng.normal(0, 3, size=(6, 5))
    g = rng.normal(size=z.shape)
    got = act.backward(z, act.forward(z), g)
    for i in range(len(z)):  # a per-sample loop is fine in a test
        a = act.forward(z[i:i + 1])[0]
        J = np.diag(a) - np.outer(a, a)  # J[k, j] = d a_k / d z_j
        np.testing.assert_allclose(got[i], g[i] @ J, rtol=1e-12, atol=1e-15)


def test_softmax_rows_sum_to_one_and_large_logits_do_not_overflow():
    act = ACTIVATIONS.get("softmax")()
    z = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = act.forward(z)
    np.testing.assert_array_equal(a[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(a[1], [1 / 3] * 3)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)


def test_sigmoid_is_stable_at_huge_inputs():
    act = ACTIVATIONS.get("sigmoid")()
    z = np.array([[-1000.0, -40.0, 0.0, 40.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow RuntimeWarning would fail the test
        a = act.forward(z)
        d = act.backward(z, a, np.ones_like(z))
    assert a[0, 0] == 0.0 and a[0, -1] == 1.0 and a[0, 2] == 0.5
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))
    assert d[0, 0] == 0.0 and d[0, -1] == 0.0 and d[0, 2] == 0.25
    np.testing.assert_allclose(a[0, 1], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax"])
def test_derivative_is_taken_at_z_not_from_a(name):
    """A wrong `a` (here garbage) must not change dL/dz: the lab's R code took sigmoid' at the output."""
    act = ACTIVATIONS.get(name)()
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 3))
    g = rng.normal(size=z.shape)
    right = act.backward(z, act.forward(z), g)
    wrong_a = rng.uniform(-5, 5, size=z.shape)
    np.testing.assert_array_equal(act.backward(z, wrong_a, g), right)
    if name == "sigmoid":  # and it is not the derivative at the output, s(s(z)) (1 - s(s(z)))
        s = act.forward(act.forward(z))
        assert not np.allclose(right, g * s * (1 - s))
