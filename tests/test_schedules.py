"""Learning-rate schedules: their values at given epochs (epochs counted from 1)."""

import math

import pytest
from pydantic import ValidationError

from nncli.nn.schedules import SCHEDULES


def lrs(name, base, epochs, at, **options):
    s = SCHEDULES.get(name)(base, epochs, **options)
    return [s.lr(e) for e in at]


def test_constant():
    assert lrs("constant", 0.1, 10, [1, 5, 10]) == [0.1, 0.1, 0.1]


def test_step():
    got = lrs("step", 1.0, 30, [1, 10, 11, 20, 21, 30], step_size=10, gamma=0.5)
    assert got == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25], rel=1e-15)
    # defaults: step_size 10, gamma 0.1
    assert lrs("step", 2.0, 30, [10, 11]) == pytest.approx([2.0, 0.2])


def test_exponential():
    got = lrs("exponential", 2.0, 10, [1, 2, 3, 10], gamma=0.9)
    assert got == pytest.approx([2.0, 1.8, 1.62, 2.0 * 0.9 ** 9], rel=1e-14)


def test_cosine_from_base_towards_min_lr():
    got = lrs("cosine", 1.0, 5, [1, 2, 3, 4, 5], min_lr=0.1)
    expected = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / 5)) for k in range(5)]
    assert got == pytest.approx(expected, rel=1e-14)
    assert got[0] == 1.0
    assert got[2] == pytest.approx(0.6890576474687264, rel=1e-12)  # 0.1 + 0.45 (1 + cos(2 pi / 5))
    assert all(a > b for a, b in zip(got, got[1:]))  # decreasing
    assert min(got) > 0.1


def test_linear_warmup_then_the_schedule_from_its_start():
    assert lrs("constant", 0.3, 10, [1, 2, 3, 10], warmup=2) == pytest.approx([0.1, 0.2, 0.3, 0.3])
    # cosine over 7 epochs with 2 of warm-up: epochs 3..7 are the cosine's epochs 1..5
    warm = lrs("cosine", 1.0, 7, [1, 2, 3, 5, 7], warmup=2, min_lr=0.1)
    plain = lrs("cosine", 1.0, 5, [1, 3, 5], min_lr=0.1)
    assert warm[:2] == pytest.approx([1 / 3, 2 / 3])
    assert warm[2:] == pytest.approx(plain, rel=1e-15)
    assert lrs("step", 1.0, 30, [1, 2, 11, 12], warmup=1, step_size=10, gamma=0.5) == pytest.approx(
        [0.5, 1.0, 1.0, 0.5])


def test_warmup_longer_than_training_does_not_divide_by_zero():
    assert lrs("cosine", 1.0, 3, [1, 2, 3, 4], warmup=3) == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_bad_options_are_rejected():
    with pytest.raises(ValidationError):
        SCHEDULES.get("step")(0.1, 10, gamma=0)
    with pytest.raises(ValidationError):
        SCHEDULES.get("cosine")(0.1, 10, min_lr=-1)
    with pytest.raises(ValidationError):
        SCHEDULES.get("constant")(0.1, 10, gama=0.5)
