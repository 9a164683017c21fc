"""Terminal drawings for `inspect` and `compare`, as Rich Text: line charts in braille dots with axes,
heatmaps and decision maps in shaded block characters on a diverging colour scale, images in half blocks.

Everything stays readable without colour (a log file, `Console(force_terminal=False)`): magnitudes are
shown by the glyph (· ░ ▒ ▓ █), the sign or class by the colour.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from rich.style import Style
from rich.text import Text

from .style import fmt

SHADES = "·░▒▓█"
#: diverging scale: negative -> blue, zero -> light grey, positive -> red (ColorBrewer RdBu ends)
NEG, MID, POS = (33, 102, 172), (220, 220, 220), (178, 24, 43)
#: series and class colours (distinct on dark and light backgrounds)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
CLASS_MARKS = "ox+*@%&$?!"
#: without colour, the negative side of a diverging scale gets its own glyphs so the sign stays visible
MONO_NEG = "·-=≡#"
#: without colour, class regions are told apart by these glyphs
MONO_CLASSES = " :-=~^'\"/|"


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b))
    return f"#{r:02x}{g:02x}{bl:02x}"


def diverging(t: float) -> str:
    """Colour of t in [-1, 1] on the blue-grey-red scale."""
    if not math.isfinite(t):
        return "#ffff00"
    t = max(-1.0, min(1.0, t))
    return _mix(MID, POS, t) if t >= 0 else _mix(MID, NEG, -t)


def shade(m: float, negative: bool = False, mono: bool = False) -> str:
    """Glyph of a magnitude m in [0, 1] (of the negative side, drawn differently when `mono`)."""
    if not math.isfinite(m):
        return "?"
    glyphs = MONO_NEG if (mono and negative) else SHADES
    return glyphs[min(len(glyphs) - 1, int(max(0.0, m) * len(glyphs)))]


def fmt_num(v: float, width: int = 0) -> str:
    """A number on an axis or a scale (`fmt(v, spec="short")`), right-aligned to `width`."""
    s = fmt(v, spec="short")
    return s.rjust(width) if width else s


# -- line charts ----------------------------------------------------------------------------------
_LOG10_MAX = 308.25  # log10 of the largest float64 (1.8e308), rounded down
_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col] within a cell


def _braille(clean: dict, cols: int, height: int, tf, x_range: tuple[float, float],
             y_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The braille dot bits (height, cols) of the series, consecutive points joined, and the index of the
    series that last drew each cell (-1: empty)."""
    (x_lo, x_hi), (y_lo, y_hi) = x_range, y_range
    dots_w, dots_h = cols * 2, height * 4
    bits = np.zeros((height, cols), dtype=np.int32)
    colour = np.full((height, cols), -1, dtype=np.int32)
    for k, (x, y) in enumerate(clean.values()):
        px = fraction(x, x_lo, x_hi) * (dots_w - 1)
        py = fraction(tf(y), y_lo, y_hi) * (dots_h - 1)
        # join consecutive points: sample each segment densely enough to leave no gaps
        if len(px) > 1:
            steps = np.maximum(1, np.ceil(np.maximum(np.abs(np.diff(px)), np.abs(np.diff(py))))).astype(int)
            seg = np.repeat(np.arange(len(steps)), steps)
            tt = np.concatenate([np.linspace(0, 1, s, endpoint=False) for s in steps])
            px = np.append(px[:-1][seg] + tt * np.diff(px)[seg], px[-1])
            py = np.append(py[:-1][seg] + tt * np.diff(py)[seg], py[-1])
        dx = np.clip(np.round(px).astype(int), 0, dots_w - 1)
        dy = (dots_h - 1) - np.clip(np.round(py).astype(int), 0, dots_h - 1)
        for cx, cy in set(zip(dx.tolist(), dy.tolist())):
            r, c = cy // 4, cx // 2
            bits[r, c] |= _BRAILLE_BITS[cy % 4][cx % 2]
            colour[r, c] = k
    return bits, colour


def line_chart(series: dict[str, tuple[Sequence[float], Sequence[float]]], width: int = 80, height: int = 12,
               title: str = "", log_y: bool | None = None, x_label: str = "epoch") -> Text:
    """A braille line chart of several (x, y) series, with a y axis (3 ticks), an x axis and a legend.

    `width` is the total width in characters; the plot area gets what the labels leave. `log_y=None`
    chooses a log scale when all values are positive and span more than two decades. Non-finite points
    are skipped (a diverged run's NaN loss).
    """
    label_w = 10
    cols = max(10, width - label_w - len(x_label) - 3)
    clean = {}
    for name, (xs, ys) in series.items():
        x = np.asarray(xs, dtype=np.float64)
        y = np.asarray(ys, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            clean[name] = (x[ok], y[ok])
    out = Text()
    if title:
        out.append(title + "\n", style="bold")
    if not clean:
        out.append("(no finite values to draw)\n", style="dim")
        return out
    all_y = np.concatenate([y for _, y in clean.values()])
    all_x = np.concatenate([x for x, _ in clean.values()])
    if log_y is None:
        with np.errstate(over="ignore"):
            log_y = bool((all_y > 0).all() and all_y.max() / all_y.min() > 100)
    tf = np.log10 if log_y else (lambda a: a)
    y_lo, y_hi = axis_range(tf(all_y))
    x_lo, x_hi = axis_range(all_x)
    bits, colour = _braille(clean, cols, height, tf, (x_lo, x_hi), (y_lo, y_hi))
    names = list(clean)

    def y_value(frac: float) -> float:
        v = y_lo * (1 - frac) + y_hi * frac  # never y_hi - y_lo, which overflows for -1e308 .. 1e308
        return 10 ** min(v, _LOG10_MAX) if log_y else v  # a padded log axis may reach past 1.8e308

    ticks = {0: y_value(1.0), height // 2: y_value(0.5), height - 1: y_value(0.0)}
    for r in range(height):
        label = fmt_num(ticks[r], label_w - 1) + "┤" if r in ticks else " " * (label_w - 1) + "│"
        out.append(label, style="dim")
        for c in range(cols):
            if bits[r, c]:
                out.append(chr(0x2800 + int(bits[r, c])), style=PALETTE[colour[r, c] % len(PALETTE)])
            else:
                out.append(" ")
        out.append("\n")
    out.append(" " * (label_w - 1) + "└" + "─" * cols + "\n", style="dim")
    out.append(_x_axis(x_lo, x_hi, cols, label_w) + f"  {x_label}\n", style="dim")
    legend = Text(" " * label_w)
    for k, name in enumerate(names):
        legend.append("━━ ", style=PALETTE[k % len(PALETTE)])
        legend.append(name + "   ")
    if log_y:
        legend.append("(log scale)", style="dim")
    out.append_text(legend)
    out.append("\n")
    return out


def axis_range(values: np.ndarray) -> tuple[float, float]:
    """(lo, hi) of finite values with hi > lo: widened around a constant by 5% of its size (at least
    0.5), so a constant loss of 1e17 or 1e308 gets an axis too."""
    lo, hi = float(values.min()), float(values.max())
    big = np.finfo(np.float64).max
    if hi / 2 - lo / 2 <= 1e-12 * max(abs(lo), abs(hi), 1e-300):
        pad = max(0.5, abs(hi) * 0.05)
        lo, hi = max(-big, lo - pad), min(big, hi + pad)
    return lo, hi


def fraction(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Where v lies between lo (0) and hi (1), computed with halves so that no difference overflows."""
    return (v / 2 - lo / 2) / (hi / 2 - lo / 2)


def _x_axis(x_lo: float, x_hi: float, cols: int, label_w: int) -> str:
    """The x axis labels: the first, middle and last value under the plot area."""
    integral = float(x_lo).is_integer() and float(x_hi).is_integer()
    middle = x_lo / 2 + x_hi / 2  # halves: no overflow for axes near 1e308
    middle = round(middle) if integral else middle
    left, mid, right = fmt_num(x_lo), fmt_num(middle), fmt_num(x_hi)
    axis = [" "] * (cols + label_w)
    for pos, s in ((label_w, left), (label_w + cols // 2 - len(mid) // 2, mid), (label_w + cols - len(right), right)):
        axis[pos:pos + len(s)] = list(s)
    return "".join(axis).rstrip()


# -- heatmaps -------------------------------------------------------------------------------------
def pool(M: np.ndarray, max_rows: int, max_cols: int) -> np.ndarray:
    """Block means that shrink M to at most max_rows x max_cols (unchanged when it already fits)."""
    M = np.asarray(M, dtype=np.float64)
    r, c = M.shape
    fr, fc = math.ceil(r / max_rows), math.ceil(c / max_cols)
    if fr == 1 and fc == 1:
        return M
    R, C = math.ceil(r / fr), math.ceil(c / fc)
    pad = np.full((R * fr, C * fc), np.nan)
    pad[:r, :c] = M
    return np.nanmean(pad.reshape(R, fr, C, fc), axis=(1, 3))


def diverging_cells(M: np.ndarray, vmax: float, cell: int = 1, mono: bool = False) -> Text:
    """Rows of M as shaded, coloured characters (`cell` characters per value)."""
    out = Text()
    scale = vmax if vmax > 0 else 1.0
    for row in M:
        for v in row:
            t = v / scale
            out.append(shade(abs(t), t < 0, mono) * cell, style=diverging(t))
        out.append("\n")
    return out


def diverging_legend(vmax: float, centre: float = 0.0, steps: int = 5, mono: bool = False) -> Text:
    """`-1.2 █▓▒░· 0 ·░▒▓█ +1.2`: the glyphs and colours from -vmax to +vmax around `centre`."""
    out = Text("scale ", style="dim")
    out.append(fmt_num(centre - vmax) + " ")
    for i in range(steps, 0, -1):
        t = i / steps
        out.append(shade(t - 1e-9, True, mono), style=diverging(-t))
    out.append(f" {fmt_num(centre)} ")
    for i in range(1, steps + 1):
        t = i / steps
        out.append(shade(t - 1e-9), style=diverging(t))
    out.append(" " + ("+" if centre + vmax > 0 else "") + fmt_num(centre + vmax))
    return out


def heatmap(M: np.ndarray, max_rows: int = 24, max_cols: int = 88, vmax: float | None = None,
            mono: bool = False) -> Text:
    """M drawn as a diverging heatmap, shrunk by block means to fit; a note says when it was shrunk,
    then the legend."""
    M = np.asarray(M, dtype=np.float64)
    P = pool(M, max_rows, max_cols)
    vmax = float(np.nanmax(np.abs(P))) if vmax is None else vmax
    cell = 2 if P.shape[1] * 2 <= max_cols else 1
    out = diverging_cells(P, vmax, cell, mono)
    if P.shape != M.shape:
        out.append(f"({M.shape[0]}x{M.shape[1]} shown as {P.shape[0]}x{P.shape[1]} block means)\n", style="dim")
    out.append_text(diverging_legend(vmax, mono=mono))
    out.append("\n")
    return out


# -- decision maps --------------------------------------------------------------------------------
def value_map(V: np.ndarray, centre: float, scale: float, points: np.ndarray | None = None,
              labels: np.ndarray | None = None, xs: np.ndarray | None = None, ys: np.ndarray | None = None,
              mono: bool = False) -> Text:
    """A grid V (ny, nx) of values, rows by increasing y drawn bottom-up: glyph by |v - centre| / scale,
    colour by the sign of v - centre; training points (N, 2) marked by class (o, x, +, ...)."""
    marks = _marks(points, labels, xs, ys, V.shape)
    scale = scale if scale > 0 else 1.0
    out = Text()
    for i in range(V.shape[0] - 1, -1, -1):
        for j in range(V.shape[1]):
            t = (V[i, j] - centre) / scale
            bg = diverging(t)
            if (i, j) in marks:
                k = marks[(i, j)]
                out.append(CLASS_MARKS[k % len(CLASS_MARKS)], style=Style(color="black", bgcolor=bg, bold=True))
            else:
                out.append(shade(abs(t), t < 0, mono), style=bg)
        out.append("\n")
    return out


def class_map(predicted: np.ndarray, confidence: np.ndarray, n_classes: int, points: np.ndarray | None = None,
              labels: np.ndarray | None = None, xs: np.ndarray | None = None, ys: np.ndarray | None = None,
              mono: bool = False) -> Text:
    """Predicted class per cell (colour), confidence above chance as the glyph; points marked by class.
    Without colour (`mono`) the glyph tells the class instead."""
    marks = _marks(points, labels, xs, ys, predicted.shape)
    chance = 1.0 / n_classes
    out = Text()
    for i in range(predicted.shape[0] - 1, -1, -1):
        for j in range(predicted.shape[1]):
            k = int(predicted[i, j])
            colour = PALETTE[k % len(PALETTE)]
            if (i, j) in marks:
                m = marks[(i, j)]
                out.append(CLASS_MARKS[m % len(CLASS_MARKS)], style=Style(color="black", bgcolor=colour, bold=True))
            else:
                glyph = (MONO_CLASSES[k % len(MONO_CLASSES)] if mono
                         else shade((confidence[i, j] - chance) / (1 - chance)))
                out.append(glyph, style=colour)
        out.append("\n")
    return out


def _marks(points, labels, xs, ys, shape) -> dict[tuple[int, int], int]:
    """Grid cell (i, j) nearest each point -> its class (the most frequent class in the cell)."""
    if points is None or xs is None or ys is None or len(points) == 0:
        return {}
    j = np.clip(np.round((points[:, 0] - xs[0]) / (xs[-1] - xs[0]) * (shape[1] - 1)), 0, shape[1] - 1).astype(int)
    i = np.clip(np.round((points[:, 1] - ys[0]) / (ys[-1] - ys[0]) * (shape[0] - 1)), 0, shape[0] - 1).astype(int)
    lab = np.zeros(len(points), int) if labels is None else np.asarray(labels).astype(int)
    counts: dict[tuple[int, int], dict[int, int]] = {}
    for a, b, c in zip(i.tolist(), j.tolist(), lab.tolist()):
        cell = counts.setdefault((a, b), {})
        cell[c] = cell.get(c, 0) + 1
    return {cell: max(c, key=c.get) for cell, c in counts.items()}


def map_axes(body: Text, xs: np.ndarray, ys: np.ndarray, title: str = "") -> Text:
    """A map with its title, the y range on the left of the first and last rows and the x range below."""
    lines = body.split("\n")
    lines = [ln for ln in lines if len(ln)]
    out = Text()
    if title:
        out.append(title + "\n", style="bold")
    w = 7
    top, bottom = fmt_num(float(ys[-1])).rjust(w), fmt_num(float(ys[0])).rjust(w)
    for n, line in enumerate(lines):
        label = top if n == 0 else bottom if n == len(lines) - 1 else " " * w
        out.append(label + " ", style="dim")
        out.append_text(line)
        out.append("\n")
    width = len(lines[0]) if lines else 0
    left, right = fmt_num(float(xs[0])), fmt_num(float(xs[-1]))
    out.append(" " * (w + 1) + left + " " * max(1, width - len(left) - len(right)) + right + "\n", style="dim")
    return out


# -- images ---------------------------------------------------------------------------------------
def image(img: np.ndarray, vmax: float | None = None, mono: bool = False) -> Text:
    """A small image (h, w) in half blocks: each character shows two pixel rows (top = foreground,
    bottom = background) on the diverging scale, so a 28x28 image takes 28 columns and 14 lines.
    Without colour (`mono`) each character is the shade glyph of the mean of its two pixels."""
    img = np.asarray(img, dtype=np.float64)
    vmax = float(np.abs(img).max()) if vmax is None else vmax
    vmax = vmax if vmax > 0 else 1.0
    if img.shape[0] % 2:
        img = np.vstack([img, np.zeros((1, img.shape[1]))])
    if mono:
        return diverging_cells((img[0::2] + img[1::2]) / 2, vmax, 1, mono=True)
    out = Text()
    for r in range(0, img.shape[0], 2):
        for c in range(img.shape[1]):
            out.append("▀", style=Style(color=diverging(img[r, c] / vmax), bgcolor=diverging(img[r + 1, c] / vmax)))
        out.append("\n")
    return out
