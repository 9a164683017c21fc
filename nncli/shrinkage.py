"""Weight decay as shrinkage along the Hessian's eigenvectors (the weight-decay lab; docs/weight-decay.md).

For a linear network (one layer, `linear` activation) with `mse`, the training objective is
  L(W, b) = (1/2N) ||X W + 1 b - T||^2 + (tau/2) ||W||^2,
with tau = weight_decay + input_noise^2 (Gaussian input noise of sd sigma adds sigma^2/2 ||W||^2 to the
expected error, so it acts as weight decay sigma^2). The bias is not decayed, so for any W the best bias is
b = t_mean - x_mean W, and putting it back leaves the same problem on centred data Xc = X - x_mean,
Tc = T - t_mean:
  H = Xc^T Xc / N (d, d),  c = Xc^T Tc / N (d, k),  W_tau = (H + tau I)^-1 c.
(H is the Hessian of the error in W once b is optimal: the Schur complement of the bias in the full
Hessian of (W, b); it equals X^T X / N when the inputs have mean 0, as the `linear` dataset's do.)
With H = Q diag(lambda) Q^T, the components w_i = q_i^T w of the minimisers satisfy
  w_tau,i = lambda_i / (lambda_i + tau) * w_star,i,   w_star = W_0 (the unregularised solution),
so directions with small lambda_i (the error barely depends on them) are shrunk most.

`analyse(X, T, W, b, weight_decay, input_noise)` compares trained weights with this; `for_run(cfg, net)` does
it for a run directory's network on the run's own training data (regenerated from its config), or returns
None when the run is not a single linear layer trained with mse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .nn.activations import ACTIVATIONS
from .nn.losses import LOSSES
from .nn.network import Network
from .runner import run_data

#: eigenvalues below this fraction of the largest are treated as 0 (w_star has no component there)
RANK_TOL = 1e-12


@dataclass
class ShrinkageReport:
    """The eigen-analysis of one trained linear model. Directions are sorted by decreasing lambda.

    Shapes: d inputs, k outputs. Components are coordinates in the eigenbasis, q_i^T w, per output.
    """

    n_samples: int
    weight_decay: float
    input_noise: float
    tau: float  # weight_decay + input_noise^2
    eigenvalues: np.ndarray  # (d,) lambda_i of H = Xc^T Xc / N, decreasing
    eigenvectors: np.ndarray  # (d, d), column i is q_i
    w_star: np.ndarray  # (d, k) the unregularised least-squares weights
    w_ridge: np.ndarray  # (d, k) the minimiser with decay tau
    w_trained: np.ndarray  # (d, k)
    b_ridge: np.ndarray  # (k,) t_mean - x_mean W_ridge
    b_trained: np.ndarray  # (k,)
    star_components: np.ndarray  # (d, k) Q^T w_star
    trained_components: np.ndarray  # (d, k) Q^T w_trained
    measured_ratio: np.ndarray  # (d, k) trained / star component (NaN where the star component is 0)
    predicted_ratio: np.ndarray  # (d,) lambda_i / (lambda_i + tau)
    distance_to_ridge: float  # ||W - W_ridge||_F / ||W_ridge||_F
    distance_to_star: float  # ||W - W_star||_F / ||W_star||_F
    max_abs_to_ridge: float  # max |W - W_ridge|, biases included
    gradient_norm: float  # ||dL/d(W, b)|| of the noise-free objective with decay tau at the trained weights

    @property
    def n_features(self) -> int:
        return self.w_star.shape[0]

    @property
    def outputs(self) -> int:
        return self.w_star.shape[1]

    @property
    def condition(self) -> float:
        """lambda_max / lambda_min of H (inf when H is singular)."""
        lo = float(self.eigenvalues[-1])
        return float(self.eigenvalues[0]) / lo if lo > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and floats (NaN stays NaN; the JSON writer turns it into null)."""
        return {
            "n_samples": self.n_samples, "n_features": self.n_features, "outputs": self.outputs,
            "weight_decay": self.weight_decay, "input_noise": self.input_noise, "tau": self.tau,
            "hessian": "Xc^T Xc / N (centred training inputs; the bias is not decayed)",
            "condition": self.condition,
            "eigenvalues": self.eigenvalues.tolist(),
            "directions": [
                {"i": i + 1, "lambda": float(lam),
                 "w_star": self.star_components[i].tolist(),
                 "w_trained": self.trained_components[i].tolist(),
                 "measured_ratio": self.measured_ratio[i].tolist(),
                 "predicted_ratio": float(self.predicted_ratio[i])}
                for i, lam in enumerate(self.eigenvalues)],
            "w_star": self.w_star.tolist(), "w_ridge": self.w_ridge.tolist(),
            "w_trained": self.w_trained.tolist(), "b_ridge": self.b_ridge.tolist(),
            "b_trained": self.b_trained.tolist(),
            "distance_to_ridge": self.distance_to_ridge, "distance_to_star": self.distance_to_star,
            "max_abs_to_ridge": self.max_abs_to_ridge, "gradient_norm": self.gradient_norm,
        }


def centred_moments(X: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """H = Xc^T Xc / N (d, d), c = Xc^T Tc / N (d, k), and the means x_mean (d,), t_mean (k,), in float64."""
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    x_mean, t_mean = X.mean(axis=0), T.mean(axis=0)
    Xc, Tc = X - x_mean, T - t_mean
    n = len(X)
    return Xc.T @ Xc / n, Xc.T @ Tc / n, x_mean, t_mean


def eigen(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (decreasing, tiny negatives from rounding set to 0) and eigenvectors (columns) of H."""
    lam, Q = np.linalg.eigh(H)
    order = np.argsort(lam)[::-1]
    return np.clip(lam[order], 0.0, None), Q[:, order]


def ridge(X: np.ndarray, T: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The minimiser (W (d, k), b (k,)) of (1/2N)||X W + 1 b - T||^2 + (tau/2)||W||^2, bias not decayed:
    W = (H + tau I)^-1 c on centred data, b = t_mean - x_mean W. For tau = 0 and a singular H, the
    minimum-norm solution (no component along eigenvalues below RANK_TOL * lambda_max)."""
    H, c, x_mean, t_mean = centred_moments(X, T)
    lam, Q = eigen(H)
    W = Q @ (_inverse(lam, tau)[:, None] * (Q.T @ c))
    return W, t_mean - x_mean @ W


def _inverse(lam: np.ndarray, tau: float) -> np.ndarray:
    """1 / (lambda_i + tau), and 0 where lambda_i + tau is 0 to within RANK_TOL * lambda_max."""
    scale = max(float(lam[0]) if len(lam) else 0.0, tau, np.finfo(float).tiny)
    denom = lam + tau
    out = np.zeros_like(denom)
    ok = denom > RANK_TOL * scale
    out[ok] = 1.0 / denom[ok]
    return out


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    nb = float(np.linalg.norm(b))
    d = float(np.linalg.norm(a - b))
    return d / nb if nb > 0 else d


def analyse(X: np.ndarray, T: np.ndarray, W: np.ndarray, b: np.ndarray, weight_decay: float = 0.0,
            input_noise: float = 0.0) -> ShrinkageReport:
    """Compare trained weights W (d, k), b (k,) of the linear model T ~ X W + b with the closed-form
    solutions on training data X (N, d), T (N, k), for tau = weight_decay + input_noise^2."""
    tau = float(weight_decay) + float(input_noise) ** 2
    X64, T64 = np.asarray(X, dtype=np.float64), np.asarray(T, dtype=np.float64)
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    H, c, x_mean, t_mean = centred_moments(X64, T64)
    lam, Q = eigen(H)
    star_c = _inverse(lam, 0.0)[:, None] * (Q.T @ c)  # components of w_star
    predicted = np.where(lam + tau > 0, lam / np.where(lam + tau > 0, lam + tau, 1.0), 1.0)
    ridge_c = _inverse(lam, tau)[:, None] * (Q.T @ c)
    w_star, w_ridge = Q @ star_c, Q @ ridge_c
    b_ridge = t_mean - x_mean @ w_ridge
    trained_c = Q.T @ W
    identifiable = np.abs(star_c) > RANK_TOL * max(float(np.abs(star_c).max(initial=0.0)), np.finfo(float).tiny)
    with np.errstate(divide="ignore", invalid="ignore"):
        measured = np.where(identifiable, trained_c / np.where(identifiable, star_c, 1.0), np.nan)
    residual = X64 @ W + b - T64
    n = len(X64)
    grad_W = X64.T @ residual / n + tau * W
    grad_b = residual.mean(axis=0)
    both = np.concatenate([(W - w_ridge).ravel(), b - b_ridge])
    return ShrinkageReport(
        n_samples=n, weight_decay=float(weight_decay), input_noise=float(input_noise), tau=tau,
        eigenvalues=lam, eigenvectors=Q, w_star=w_star, w_ridge=w_ridge, w_trained=W, b_ridge=b_ridge,
        b_trained=b, star_components=star_c, trained_components=trained_c, measured_ratio=measured,
        predicted_ratio=predicted, distance_to_ridge=_relative(W, w_ridge), distance_to_star=_relative(W, w_star),
        max_abs_to_ridge=float(np.abs(both).max()),
        gradient_norm=float(np.sqrt(np.vdot(grad_W, grad_W) + np.vdot(grad_b, grad_b))),
    )


def applies(cfg) -> str | None:
    """None when the eigen-analysis applies to runs of this config, else why not."""
    layers = cfg.model.layers
    if len(layers) != 1:
        return f"the network has {len(layers)} layers; the analysis needs one linear layer"
    if not ACTIVATIONS.get(layers[0].activation).identity:
        return f"the layer's activation is {layers[0].activation}; the analysis needs linear"
    if not LOSSES.get(cfg.loss).quadratic:
        return f"the loss is {cfg.loss}; the analysis needs mse"
    return None


def training_data(cfg) -> tuple[np.ndarray, np.ndarray]:
    """The run's training inputs X (N, d) and targets T (N, k) exactly as training saw them."""
    train = run_data(cfg).train
    return train.X, train.T


def for_run(cfg, net: Network | None) -> ShrinkageReport | None:
    """The eigen-analysis of a run's network `net` trained with config `cfg`, or None when it does not
    apply (no weights, not a single linear layer, not mse). May raise NncliError when the data cannot be
    regenerated (e.g. a data file that is gone)."""
    if net is None or applies(cfg) is not None:
        return None
    X, T = training_data(cfg)
    layer = net.layers[0]
    return analyse(X, T, layer.W, layer.b, cfg.weight_decay, cfg.train.input_noise)
