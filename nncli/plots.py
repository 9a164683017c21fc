"""PNG pictures for `--png` (matplotlib, the optional `plot` extra, imported only when asked for).

Each function writes one figure to `path` with the Agg backend (no display needed) and returns the path.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import NncliError

INSTALL_HINT = 'pip install -e ".[plot]"'


def pyplot():
    """matplotlib.pyplot with the Agg backend; NncliError (exit 2) telling how to install it if missing."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise NncliError(f"--png needs matplotlib, which is not installed; install the plot extra with "
                         f"{INSTALL_HINT} (or pip install matplotlib)") from None
    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    except OSError as e:
        raise NncliError(f"cannot write the picture: {e.strerror or e}", where=str(path)) from None
    finally:
        pyplot().close(fig)
    return path


def loss_curves(path: Path, series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str = "",
                ylabel: str = "loss", log_y: bool | None = None) -> Path:
    """Lines of (epoch, value) per series; a log y axis when all values are positive and span > 2 decades.
    Any finite values: matplotlib's axis arithmetic near 1e308 overflows harmlessly, and says nothing."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return _loss_curves(path, series, title, ylabel, log_y)


def _loss_curves(path: Path, series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str,
                 ylabel: str, log_y: bool | None) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    values = [np.asarray(y, float) for _, y in series.values()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if log_y is None:
        log_y = bool(finite.size and (finite > 0).all() and finite.max() / finite.min() > 100)
    for name, (x, y) in series.items():
        ax.plot(x, y, label=name, linewidth=1.2)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if 1 < len(series) <= 20:
        ax.legend(fontsize=7)
    elif len(series) > 20:
        ax.legend(fontsize=5, ncol=2)
    return _save(fig, path)


def weights(path: Path, layers: list[tuple[str, np.ndarray, np.ndarray]]) -> Path:
    """One diverging heatmap per layer: W (fan_in rows x units columns) with the bias as an extra row."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(layers), figsize=(4 * len(layers), 4), squeeze=False)
    for ax, (name, W, b) in zip(axes[0], layers):
        M = np.vstack([W, b[None, :]]).astype(float)
        v = float(np.abs(M).max()) or 1.0
        im = ax.imshow(M, cmap="RdBu_r", vmin=-v, vmax=v, aspect="auto", interpolation="nearest")
        ax.set_title(f"{name} ({W.shape[0]}x{W.shape[1]}, last row: bias)", fontsize=8)
        ax.set_xlabel("unit")
        ax.set_ylabel("input")
        fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def decision_maps(path: Path, grid: dict[str, Any], points: np.ndarray | None, labels: np.ndarray | None,
                  maps: list[tuple[str, np.ndarray, float, float]]) -> Path:
    """Maps over the grid (title, values (ny, nx), centre, scale) with the training points on top."""
    plt = pyplot()
    n = len(maps)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3 * rows), squeeze=False)
    xs, ys = grid["xs"], grid["ys"]
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    for ax, (title, V, centre, scale) in zip(axes.flat, maps):
        s = scale or 1.0
        ax.imshow(V, origin="lower", extent=extent, cmap="RdBu_r", vmin=centre - s, vmax=centre + s, aspect="auto")
        if points is not None:
            ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=8, edgecolors="k", linewidths=0.3,
                       vmin=0, vmax=9)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return _save(fig, path)


def unit_images(path: Path, units: list[dict[str, Any]]) -> Path:
    """The first-layer weights of units as images (diverging colours, one scale for all)."""
    plt = pyplot()
    cols = min(8, len(units))
    rows = math.ceil(len(units) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
    v = max(float(np.abs(u["image"]).max()) for u in units) or 1.0
    for ax, u in zip(axes.flat, units):
        ax.imshow(u["image"], cmap="RdBu_r", vmin=-v, vmax=v)
        ax.set_title(f"unit {u['unit']} |w|={u['norm']:.2f}", fontsize=6)
        ax.axis("off")
    for ax in list(axes.flat)[len(units):]:
        ax.axis("off")
    return _save(fig, path)
