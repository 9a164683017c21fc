"""Optimizers: each update against its formula written out by hand over several steps, and the
state() / load_state() round trip continuing identically."""

import numpy as np
import pytest

from nncli.nn.optimizers import OPTIMIZERS

STEPS = 4


def problem(seed=0):
    """Two parameter arrays and a list of gradient pairs, one per step."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    grads = [[rng.normal(size=(3, 2)), rng.normal(size=2)] for _ in range(STEPS)]
    lrs = [0.1, 0.05, 0.2, 0.1]
    return params, grads, lrs


def run(name, params, grads, lrs, **options):
    opt = OPTIMIZERS.get(name)(**options)
    params = [p.copy() for p in params]
    arrays = list(params)
    for g, lr in zip(grads, lrs):
        opt.step(params, g, lr)
    assert all(a is p for a, p in zip(arrays, params))  # updated in place
    assert opt.t == len(grads)
    return params, opt


def test_sgd_is_the_labs_gradient_step():
    params, grads, lrs = problem()
    got, _ = run("sgd", params, grads, lrs)
    for k in range(2):
        w = params[k].copy()
        for g, lr in zip(grads, lrs):
            w = w - lr * g[k]
        np.testing.assert_allclose(got[k], w, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_and_nesterov(nesterov):
    params, grads, lrs = problem(1)
    mu = 0.9
    got, _ = run("sgd", params, grads, lrs, momentum=mu, nesterov=nesterov)
    for k in range(2):
        w, v = params[k].copy(), np.zeros_like(params[k])
        for g, lr in zip(grads, lrs):
            v = mu * v + g[k]
            w = w - lr * (g[k] + mu * v if nesterov else v)
        np.testing.assert_allclose(got[k], w, rtol=1e-14, atol=1e-15)


def test_sgd_momentum_first_steps_by_hand():
    """Scalar numbers written out: g = 1, 1; mu = 0.5, lr = 0.1; v = 1, 1.5; w = -0.1, -0.25."""
    w = [np.array([0.0])]
    opt = OPTIMIZERS.get("sgd")(momentum=0.5)
    opt.step(w, [np.array([1.0])], 0.1)
    assert w[0][0] == pytest.approx(-0.1)
    opt.step(w, [np.array([1.0])], 0.1)
    assert w[0][0] == pytest.approx(-0.25)


def test_adam_with_bias_correction():
    params, grads, lrs = problem(2)
    b1, b2, eps = 0.8, 0.95, 1e-7
    got, _ = run("adam", params, grads, lrs, beta1=b1, beta2=b2, eps=eps)
    for k in range(2):
        w, m, v = params[k].copy(), np.zeros_like(params[k]), np.zeros_like(params[k])
        for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
            m = b1 * m + (1 - b1) * g[k]
            v = b2 * v + (1 - b2) * g[k] ** 2
            m_hat = m / (1 - b1 ** t)
            v_hat = v / (1 - b2 ** t)
            w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(got[k], w, rtol=1e-12, atol=1e-14)


def test_adam_first_step_moves_every_weight_by_about_lr():
    """With bias correction the first step is lr * g / (|g| + eps): lr times the sign of g."""
    w = [np.zeros(3)]
    OPTIMIZERS.get("adam")().step(w, [np.array([3.0, -0.001, 250.0])], 0.01)
    np.testing.assert_allclose(w[0], [-0.01, 0.01, -0.01], rtol=1e-4)


@pytest.mark.parametrize("name,options", [("sgd", {}), ("sgd", {"momentum": 0.9}),
                                          ("sgd", {"momentum": 0.7, "nesterov": True}), ("adam", {})])
def test_state_round_trip_continues_identically(name, options):
    params, grads, lrs = problem(3)
    # straight through: 4 steps
    straight, _ = run(name, params, grads, lrs, **options)
    # 2 steps, save params + state, a fresh optimizer loads them and takes the other 2
    first, opt = run(name, params, grads[:2], lrs[:2], **options)
    state = {k: np.array(v) for k, v in opt.state().items()}  # copies, as a checkpoint file holds
    assert int(state["t"]) == 2
    resumed = OPTIMIZERS.get(name)(**options)
    resumed.load_state(state)
    assert resumed.t == 2
    continued = [p.copy() for p in first]
    for g, lr in zip(grads[2:], lrs[2:]):
        resumed.step(continued, g, lr)
    for a, b in zip(straight, continued):
        np.testing.assert_array_equal(a, b)


def test_state_names_its_slots():
    params, grads, lrs = problem()
    _, opt = run("adam", params, grads, lrs)
    assert sorted(opt.state()) == ["m.0", "m.1", "t", "v.0", "v.1"]
    _, opt = run("sgd", params, grads, lrs, momentum=0.5)
    assert sorted(opt.state()) == ["t", "velocity.0", "velocity.1"]
    _, opt = run("sgd", params, grads, lrs)
    assert sorted(opt.state()) == ["t"]


def test_float32_parameters_stay_float32():
    for name, options in (("sgd", {}), ("sgd", {"momentum": 0.9, "nesterov": True}), ("adam", {})):
        w = [np.ones((2, 2), dtype=np.float32)]
        opt = OPTIMIZERS.get(name)(**options)
        opt.step(w, [np.full((2, 2), 0.5, dtype=np.float32)], 0.1)
        assert w[0].dtype == np.float32
        assert all(a.dtype == np.float32 for k, a in opt.state().items() if k != "t")


def test_bad_options_are_rejected():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        OPTIMIZERS.get("sgd")(momentum=1.0)
    with pytest.raises(ValidationError):
        OPTIMIZERS.get("adam")(beta3=0.1)
