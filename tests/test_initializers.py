"""Initializers: shapes, dtype, seeded reproducibility, the lab's clipped Glorot normal, limits."""

import math

import numpy as np
import pytest

from nncli.nn.initializers import INITIALIZERS


def draw(name, fan_in, fan_out, seed=0, dtype=np.float64, **options):
    return INITIALIZERS.get(name)(**options)(np.random.default_rng(seed), fan_in, fan_out, dtype)


@pytest.mark.parametrize("name", INITIALIZERS.names())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_and_seeded_reproducibility(name, dtype):
    W = draw(name, 7, 3, seed=11, dtype=dtype)
    assert W.shape == (7, 3) and W.dtype == dtype
    np.testing.assert_array_equal(W, draw(name, 7, 3, seed=11, dtype=dtype))
    if name != "zeros":
        assert not np.array_equal(W, draw(name, 7, 3, seed=12, dtype=dtype))


def test_glorot_normal_sd_and_clipping():
    """The lab's initializer: N(0, sd^2), sd = sqrt(2/(fan_in+fan_out)), clipped at +-2 sd.

    400 x 600 = 240000 draws: every statistic below is checked to within about 5 standard errors."""
    fan_in, fan_out = 400, 600
    sd = math.sqrt(2 / (fan_in + fan_out))
    W = draw("glorot_normal", fan_in, fan_out, seed=3)
    assert W.max() == pytest.approx(2 * sd, rel=1e-15) and W.min() == pytest.approx(-2 * sd, rel=1e-15)
    assert np.all(np.abs(W) <= 2 * sd)
    clipped = np.abs(W) >= 2 * sd * (1 - 1e-12)
    # P(|N(0,1)| > 2) = 0.0455; standard error sqrt(p(1-p)/n) = 0.00043
    p_out = math.erfc(2 / math.sqrt(2))
    assert clipped.mean() == pytest.approx(p_out, abs=0.002)
    # sd of a standard normal clipped at +-2: E[min(z^2, 4)] = (1 - p_out) - 4 phi(2) + 4 p_out
    phi2 = math.exp(-2) / math.sqrt(2 * math.pi)
    clipped_sd = math.sqrt((1 - p_out) - 4 * phi2 + 4 * p_out)  # 0.9594
    assert W.std() == pytest.approx(sd * clipped_sd, rel=0.005)
    assert abs(W.mean()) < 5 * sd / math.sqrt(W.size)
    # inside the clip it is a normal of sd `sd`: the fraction within +-1 sd is 0.6827
    assert (np.abs(W) < sd).mean() == pytest.approx(0.6827, abs=0.004)


@pytest.mark.parametrize("name,sd_of", [
    ("he_normal", lambda i, o: math.sqrt(2 / i)),
    ("lecun_normal", lambda i, o: math.sqrt(1 / i)),
])
def test_clipped_normals_scale(name, sd_of):
    W = draw(name, 300, 500, seed=4)
    sd = sd_of(300, 500)
    assert np.abs(W).max() == pytest.approx(2 * sd, rel=1e-15)
    assert (np.abs(W) < sd).mean() == pytest.approx(0.6827, abs=0.005)


@pytest.mark.parametrize("name,limit_of", [
    ("glorot_uniform", lambda i, o: math.sqrt(6 / (i + o))),
    ("he_uniform", lambda i, o: math.sqrt(6 / i)),
])
def test_uniform_families_limits(name, limit_of):
    W = draw(name, 200, 300, seed=5)
    limit = limit_of(200, 300)
    assert np.all(np.abs(W) <= limit)
    assert np.abs(W).max() > 0.999 * limit  # fills the interval
    assert W.std() == pytest.approx(limit / math.sqrt(3), rel=0.01)  # sd of U(-l, l)


def test_normal_and_uniform_options():
    W = draw("normal", 300, 400, seed=6, std=0.1)
    assert W.std() == pytest.approx(0.1, rel=0.01)
    assert np.abs(W).max() > 0.4  # not clipped at 2 sd
    U = draw("uniform", 300, 400, seed=7, limit=0.5)
    assert np.all(np.abs(U) <= 0.5) and np.abs(U).max() > 0.499
    assert draw("normal", 300, 400, seed=6).std() == pytest.approx(0.01, rel=0.01)  # default std
    assert np.all(np.abs(draw("uniform", 30, 40)) <= 0.05)  # default limit


def test_zeros():
    W = draw("zeros", 4, 5)
    assert W.shape == (4, 5) and not W.any()


def test_options_models_reject_bad_values():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        INITIALIZERS.get("normal").Options(std=-1)
    with pytest.raises(ValidationError):
        INITIALIZERS.get("uniform").Options(limt=1)
