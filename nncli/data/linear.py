"""The `linear` regression dataset of the weight-decay lab: t = x W_true + noise, with an input covariance
whose eigenvalues are spread evenly in log over `condition` (so the Hessian of the squared error has
directions the error barely depends on).

Construction (all randomness from the run's data Generator):
  Z ~ N(0, 1) of shape (N, d), centred and whitened so that Z^T Z / N = I and the columns of Z sum to 0;
  lambda_j = condition^(-j / (d - 1)), j = 0..d-1 (largest 1, smallest 1/condition);
  R a random rotation (QR of a Gaussian matrix, signs fixed);
  X = Z diag(sqrt(lambda)) R^T,  W_true ~ N(0, 1) of shape (d, outputs),
  T = X W_true + noise * N(0, 1) of shape (N, outputs).
So the generated inputs have mean exactly 0 and covariance X^T X / N = R diag(lambda) R^T exactly: its
eigenvalues are the lambda_j and its condition number is `condition` (up to rounding).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from ..options import Options
from .datasets import DATASETS, Dataset, DatasetSource


class LinearOptions(Options):
    n_samples: int = Field(500, ge=2, strict=True, description="samples N (more than n_features)")
    n_features: int = Field(8, ge=1, strict=True, description="input dimension d")
    condition: float = Field(1000.0, ge=1, allow_inf_nan=False,
                             description="condition number of the input covariance X^T X / N")
    noise: float = Field(0.1, ge=0, allow_inf_nan=False, description="standard deviation of the target noise")
    outputs: int = Field(1, ge=1, strict=True, description="target columns")

    @model_validator(mode="after")
    def _enough_samples(self):
        if self.n_samples <= self.n_features:
            raise ValueError(f"n_samples ({self.n_samples}) must exceed n_features ({self.n_features}) so that "
                             f"the centred inputs can have a full-rank covariance; use n_samples: "
                             f"{max(10 * self.n_features, self.n_features + 2)} or more")
        return self


def eigenvalues(n_features: int, condition: float) -> np.ndarray:
    """lambda_j = condition^(-j / (d - 1)), j = 0..d-1: from 1 down to 1/condition, evenly in log."""
    if n_features == 1:
        return np.ones(1)
    return condition ** (-np.arange(n_features) / (n_features - 1))


def rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random orthogonal matrix (d, d), Haar-distributed: Q of the QR of a Gaussian, column signs fixed."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def whitened(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Z (n, d) with column sums 0 and Z^T Z / n = I exactly (centred Gaussian rows, then orthonormalised)."""
    G = rng.standard_normal((n, d))
    G -= G.mean(axis=0)
    U, _, Vt = np.linalg.svd(G, full_matrices=False)
    return np.sqrt(n) * U @ Vt  # the orthogonal factor of G: still centred, columns orthogonal


@DATASETS.register("linear")
class Linear(DatasetSource):
    """Linear regression data t = x W_true + noise with input covariance eigenvalues 1 .. 1/condition."""

    Options = LinearOptions

    def known_shape(self):
        return (self.options.n_samples, self.options.n_features)

    def load(self, rng, dtype):
        o = self.options
        lam = eigenvalues(o.n_features, o.condition)
        R = rotation(rng, o.n_features)
        X = whitened(rng, o.n_samples, o.n_features) * np.sqrt(lam) @ R.T
        W_true = rng.standard_normal((o.n_features, o.outputs))
        T = X @ W_true + o.noise * rng.standard_normal((o.n_samples, o.outputs))
        extra = {"eigenvalues": lam.tolist(), "true_weights": W_true.tolist()}
        return Dataset("linear", X.astype(dtype), T.astype(dtype), task="regression", extra=extra)


