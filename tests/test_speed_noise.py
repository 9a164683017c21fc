"""Input noise drawn into reused arrays: Gaussian (mean 0, variance sd^2, normal quantiles and kurtosis),
independent across batches and between the two values of a Box-Muller pair, the float64 stream equal to
Generator.normal's, reproducible from a Generator state; and a float32 run with noise interrupted after any
batch and resumed from its checkpoint ends with the weights of the uninterrupted run, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nncli.nn.noise import GaussianNoise
from test_interrupt_resume import assert_same_weights, metrics, resume_lib, train_lib

SD = 0.3
ROWS, COLS = 51, 99  # an odd number of values per batch: the last Box-Muller pair is half used


def draws(dtype, batches=40, seed=0, rows=ROWS) -> np.ndarray:
    """(batches, rows * COLS) standardised noise: what add_to adds to zeros, divided by SD."""
    noise = GaussianNoise(SD, np.random.default_rng(seed), ROWS, COLS, dtype)
    out = []
    for _ in range(batches):
        X = np.zeros((rows, COLS), dtype)
        noise.add_to(X)
        out.append(X.ravel().astype(np.float64) / SD)
    return np.array(out)


def phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noise_is_standard_normal_times_sd(dtype):
    Z = draws(dtype)
    z, n = Z.ravel(), Z.size  # about 200,000 values
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs((z ** 4).mean() / z.var() ** 2 - 3) < 5 * math.sqrt(24 / n)  # normal tails, not uniform's
    for q in (-3, -2, -1, -0.5, 0, 0.5, 1, 2, 3):
        p = phi(q)
        assert abs((z <= q).mean() - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-12, q
    assert np.isfinite(z).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noise_is_independent_across_batches_and_within_a_pair(dtype):
    Z = draws(dtype)
    m = Z[:-1].size
    # consecutive batches: the values at the same places are uncorrelated, and so are their squares
    assert abs((Z[:-1] * Z[1:]).mean()) < 5 / math.sqrt(m)
    assert abs(((Z[:-1] ** 2 - 1) * (Z[1:] ** 2 - 1)).mean()) < 5 * 2 / math.sqrt(m)
    # the two values of a Box-Muller pair (r cos, r sin: positions k and k + half) are independent
    half = (Z.shape[1] + 1) // 2
    a, b = Z[:, :Z.shape[1] - half], Z[:, half:]
    k = a.size
    assert abs((a * b).mean()) < 5 / math.sqrt(k)
    assert abs(((a ** 2 - 1) * (b ** 2 - 1)).mean()) < 5 * 2 / math.sqrt(k)
    assert not np.array_equal(Z[0], Z[1])


def test_float64_noise_is_generator_normal_bit_for_bit():
    """So float64 runs (the weight-decay lab) draw exactly what X + rng.normal(0, sd, shape) drew."""
    base = np.random.default_rng(9).normal(size=(ROWS, COLS))
    noise = GaussianNoise(SD, np.random.default_rng(4), ROWS, COLS, np.float64)
    expected_rng = np.random.default_rng(4)
    for rows in (ROWS, 7, ROWS):
        X = base[:rows].copy()
        noise.add_to(X)
        expected = base[:rows] + expected_rng.normal(0.0, SD, (rows, COLS))
        assert X.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noise_continues_exactly_from_a_saved_generator_state(dtype):
    rng = np.random.default_rng(2)
    noise = GaussianNoise(SD, rng, ROWS, COLS, dtype)
    X = np.zeros((ROWS, COLS), dtype)
    noise.add_to(X)
    saved = rng.bit_generator.state  # what a checkpoint stores
    after = []
    for rows in (ROWS, 10):
        X = np.zeros((rows, COLS), dtype)
        noise.add_to(X)
        after.append(X)
    again = np.random.default_rng(99)
    again.bit_generator.state = saved
    resumed = GaussianNoise(SD, again, ROWS, COLS, dtype)
    for rows, expected in zip((ROWS, 10), after):
        X = np.zeros((rows, COLS), dtype)
        resumed.add_to(X)
        assert X.tobytes() == expected.tobytes()
    assert draws(dtype, 2, seed=5).tobytes() == draws(dtype, 2, seed=5).tobytes()
    assert draws(dtype, 2, seed=5).tobytes() != draws(dtype, 2, seed=6).tobytes()


def test_noise_refuses_a_batch_it_cannot_add_to_in_place():
    noise = GaussianNoise(SD, np.random.default_rng(0), 4, 6, np.float32)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        noise.add_to(np.zeros((6, 4), np.float32).T)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        noise.add_to(np.zeros((4, 6), np.float64))


CONFIG = """\
seed: 5
dtype: float32
data: {name: spiral, n_samples: 40, classes: 3}
model:
  layers:
    - {units: 8, activation: relu}
    - {units: 3, activation: softmax}
loss: categorical_crossentropy
optimizer: {name: adam, lr: 0.01}
train:
  epochs: 3
  batch_size: 8
  input_noise: 0.1
  validation_split: 0.2
"""


def test_a_float32_run_with_noise_resumes_bit_for_bit_after_any_batch(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG)
    ref = tmp_path / "ref"
    s = train_lib(cfg, ref)
    batches = s["steps"] // 3
    assert s["status"] == "completed" and batches >= 3
    for k in range(1, s["steps"]):
        run = tmp_path / f"run{k}"
        assert train_lib(cfg, run, stop_after=k)["status"] == "interrupted"
        assert resume_lib(run)["status"] == "completed"
        assert_same_weights(ref, run)
        assert metrics(run) == metrics(ref)
