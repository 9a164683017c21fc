"""PNG pictures for `--png` (matplotlib, the optional `plot` extra, imported only when asked for).

Each function writes one figure to `path` with the Agg backend (no display needed) and returns the path.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import NncliError, argument

INSTALL_HINT = 'pip install -e ".[plot]"'


def pyplot():
    """matplotlib.pyplot with the Agg backend; NncliError (exit 2) telling how to install it if missing."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise NncliError(f"{argument('png')} needs matplotlib, which is not installed; install the plot extra with "
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


def metric_vs_key(path: Path, series: dict[str, tuple[list[Any], list[float], list[float | None]]],
                  xlabel: str, ylabel: str, title: str = "") -> Path:
    """One line per series of (x values, means, sds) with a ±sd band; numeric x values on a log axis
    when all are positive and span more than a decade, other values as evenly spaced categories."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    xs_all = [x for xs, _, _ in series.values() for x in xs]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
    categories = list(dict.fromkeys(map(str, xs_all)))
    for name, (xs, means, sds) in series.items():
        order = sorted(range(len(xs)), key=lambda i: xs[i] if numeric else categories.index(str(xs[i])))
        x = np.array([xs[i] if numeric else categories.index(str(xs[i])) for i in order], float)
        y = np.array([np.nan if means[i] is None else means[i] for i in order], float)
        sd = np.array([0.0 if sds[i] is None else sds[i] for i in order], float)
        (line,) = ax.plot(x, y, marker="o", linewidth=1.2, label=name)
        ax.fill_between(x, y - sd, y + sd, color=line.get_color(), alpha=0.15)
    if numeric and xs_all and min(xs_all) > 0 and max(xs_all) / min(xs_all) > 10:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7)
    return _save(fig, path)


def _panel(ax, panel: tuple[str, np.ndarray, float, float], extent, points, labels, fontsize: int = 7):
    """One map or matrix of a frame: (title, values, centre, scale) on the diverging scale; with an
    `extent` it is a map over the data's range (origin lower) with the training points on top."""
    title, V, centre, scale = panel
    s = scale or 1.0
    image = ax.imshow(V, origin="lower" if extent else "upper", extent=extent, cmap="RdBu_r", vmin=centre - s,
                      vmax=centre + s, aspect="auto", interpolation="nearest")
    if extent is not None and points is not None:
        ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6, edgecolors="k", linewidths=0.3,
                   vmin=0, vmax=9)
    ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def evolution_grid(path: Path, frames: list[tuple[str, list]], extent=None, points=None, labels=None) -> Path:
    """Every frame (title, panels) of the evolution in one picture: frames of one panel (a decision map)
    fill rows of up to 5; frames of several panels (the layers' weights) take a row each."""
    plt = pyplot()
    panels = len(frames[0][1])
    cols = min(5, len(frames)) if panels == 1 else panels
    rows = math.ceil(len(frames) / cols) if panels == 1 else len(frames)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.4 * rows), squeeze=False)
    cells = list(axes.flat)
    for k, (title, frame_panels) in enumerate(frames):
        for j, panel in enumerate(frame_panels):
            name = title if panels == 1 else f"{title}: {panel[0]}"
            _panel(cells[k * panels + j], (name, *panel[1:]), extent, points, labels)
    for ax in cells[len(frames) * panels:]:
        ax.axis("off")
    return _save(fig, path)


def evolution_gif(path: Path, frames: list[tuple[str, list]], extent=None, points=None, labels=None,
                  fps: float = 4) -> Path:
    """The frames (title, panels) as an animated GIF, one frame per snapshot (matplotlib's Pillow writer)."""
    plt = pyplot()
    from matplotlib.animation import FuncAnimation, PillowWriter  # the plot extra, imported when asked for

    panels = frames[0][1]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), squeeze=False)
    images = [_panel(ax, p, extent, points, labels, fontsize=9) for ax, p in zip(axes[0], panels)]
    heading = fig.suptitle(frames[0][0])

    def show(k: int):
        heading.set_text(frames[k][0])
        for image, ax, panel in zip(images, axes[0], frames[k][1]):
            image.set_data(panel[1])
            ax.set_title(panel[0], fontsize=9)
        return images

    animation = FuncAnimation(fig, show, frames=len(frames), blit=False)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        animation.save(path, writer=PillowWriter(fps=fps), dpi=80)
    except OSError as e:
        raise NncliError(f"cannot write the animation: {e.strerror or e}", where=str(path)) from None
    finally:
        plt.close(fig)
    return path
