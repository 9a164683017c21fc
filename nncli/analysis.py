"""What `nncli inspect` and `nncli compare` explain, computed from a network's weights (never printed here).

- `layer_stats(net)`: per layer shapes, norms and statistics of W_l and b_l.
- `truth_tables(net, low, high)`: every unit's thresholded output on the four XOR inputs, named as one of
  the 16 boolean functions of two inputs (A = x1 high, B = x2 high), and each unit of a layer that follows
  a 2-unit layer expressed as a function of those two units ("output ~ h1 AND NOT h2").
- `decision_grid(net, X)`: the output and every hidden unit's activation over a grid spanning the data.
- `strongest_units(W, k)`: the first-layer units with the largest weight norm, as square images.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .nn.network import Network
from .metrics import higher_is_better, predicted_classes

# -- boolean functions of two inputs --------------------------------------------------------------
#: truth table (f(0,0), f(0,1), f(1,0), f(1,1)) -> name with placeholders p, q for the two variables
BOOLEAN_FUNCTIONS: dict[tuple[int, int, int, int], str] = {
    (0, 0, 0, 0): "FALSE",
    (0, 0, 0, 1): "{p} AND {q}",
    (0, 0, 1, 0): "{p} AND NOT {q}",
    (0, 0, 1, 1): "{p}",
    (0, 1, 0, 0): "NOT {p} AND {q}",
    (0, 1, 0, 1): "{q}",
    (0, 1, 1, 0): "{p} XOR {q}",
    (0, 1, 1, 1): "{p} OR {q}",
    (1, 0, 0, 0): "{p} NOR {q}",
    (1, 0, 0, 1): "{p} XNOR {q}",
    (1, 0, 1, 0): "NOT {q}",
    (1, 0, 1, 1): "{p} OR NOT {q}",
    (1, 1, 0, 0): "NOT {p}",
    (1, 1, 0, 1): "NOT {p} OR {q}",
    (1, 1, 1, 0): "{p} NAND {q}",
    (1, 1, 1, 1): "TRUE",
}
SYMMETRIC = {"AND", "OR", "XOR", "NOR", "XNOR", "NAND"}


def boolean_name(bits: Sequence[int | bool], p: str = "A", q: str = "B", short: bool = False) -> str:
    """Name of the boolean function with truth table `bits` = (f(0,0), f(0,1), f(1,0), f(1,1)).

    `short=True` drops the variables of symmetric functions: "OR" instead of "A OR B".
    """
    key = tuple(int(bool(b)) for b in bits)
    if len(key) != 4:
        raise ValueError(f"a truth table of two inputs has 4 entries, got {len(key)}")
    name = BOOLEAN_FUNCTIONS[key].format(p=p, q=q)
    if short:
        words = name.split()
        if len(words) == 3 and words[1] in SYMMETRIC:
            return words[1]
    return name


def unit_names(net: Network) -> list[list[str]]:
    """Names of every unit, per layer: h1, h2 (one hidden layer) or h1.1, h2.3 (layer.unit), then
    `output` (one output unit) or out1, out2, ..."""
    hidden = len(net.layers) - 1
    names = []
    for l, layer in enumerate(net.layers):
        if l == hidden:
            names.append(["output"] if layer.units == 1 else [f"out{j + 1}" for j in range(layer.units)])
        elif hidden == 1:
            names.append([f"h{j + 1}" for j in range(layer.units)])
        else:
            names.append([f"h{l + 1}.{j + 1}" for j in range(layer.units)])
    return names


def _truth(net: Network, l: int, Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Boolean value of layer l's units: hidden units are true where Z > 0 (the sign of the
    pre-activation: tanh > 0, sigmoid > 0.5, relu > 0); output units where Y > 0.5 (the midpoint of
    0/1 targets), or for softmax where the unit has the largest output."""
    if l < len(net.layers) - 1:
        return Z > 0
    if net.layers[l].activation.normalised_rows:
        return Y == Y.max(axis=1, keepdims=True)
    return Y > 0.5


def xor_inputs(low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """The four inputs in truth-table order (A, B) = (0,0), (0,1), (1,0), (1,1); shape (4, 2)."""
    return np.array([[low, low], [low, high], [high, low], [high, high]], dtype=np.float64)


def truth_tables(net: Network, low: float = -1.0, high: float = 1.0) -> dict[str, Any]:
    """Every unit's truth table over the four XOR inputs and the boolean function it computes.

    Returns {"inputs": [[x1, x2] x4], "layers": [{"layer", "units": [{"name", "activation": [4],
    "pre_activation": [4], "bits": [4], "function", "margin"}]}], "in_terms_of_previous": [...],
    "summary": "h1 ~ OR, h2 ~ AND, output ~ h1 AND NOT h2"}.

    `margin` is min |Z| over the four inputs for hidden units (how far from the threshold the unit
    decides). A unit of a layer that follows a 2-unit layer is also named as a function of those two
    units: the layer is fed each of the four boolean patterns of the previous units, a unit's "low"
    and "high" level being its mean activation over the inputs where it is false or true (the activation
    at -/+ max |Z| when it is never false or never true); `observed` marks the patterns the four inputs
    actually produce.
    """
    if net.sizes[0] != 2:
        raise ValueError(f"truth tables need a network with 2 inputs, this one has {net.sizes[0]}")
    X = xor_inputs(low, high)
    net64 = net.copy(np.float64)
    Zs, Ys = net64.forward_all(X)
    names = unit_names(net64)
    layers, short = [], []
    for l, (Z, Y) in enumerate(zip(Zs, Ys[1:])):
        bits = _truth(net64, l, Z, Y)
        units = []
        for j in range(Z.shape[1]):
            fn = boolean_name(bits[:, j], short=True)
            units.append({"name": names[l][j], "activation": Y[:, j].tolist(), "pre_activation": Z[:, j].tolist(),
                          "bits": bits[:, j].astype(int).tolist(), "function": fn,
                          "margin": float(np.abs(Z[:, j]).min())})
        layers.append({"layer": l + 1, "activation": net64.layers[l].activation.name, "units": units})
    composed = []
    for l in range(1, len(net64.layers)):
        if net64.layers[l - 1].units != 2:
            continue
        prev_bits = _truth(net64, l - 1, Zs[l - 1], Ys[l])
        levels = []
        for j in range(2):
            act, z, b = Ys[l][:, j], Zs[l - 1][:, j], prev_bits[:, j]
            reach = float(np.abs(z).max()) or 1.0
            one = net64.layers[l - 1].activation.forward(np.array([[-reach, reach]]))[0]
            levels.append((float(act[~b].mean()) if (~b).any() else float(one[0]),
                           float(act[b].mean()) if b.any() else float(one[1])))
        patterns = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=bool)
        H = np.array([[levels[j][int(v)] for j, v in enumerate(row)] for row in patterns])
        layer = net64.layers[l]
        Z = H @ layer.W + layer.b
        Y = layer.activation.forward(Z)
        bits = _truth(net64, l, Z, Y)
        observed = [bool((prev_bits == row).all(axis=1).any()) for row in patterns]
        p, q = names[l - 1]
        composed.append({
            "layer": l + 1, "of": [p, q], "levels": [list(v) for v in levels], "observed": observed,
            "units": [{"name": names[l][j], "bits": bits[:, j].astype(int).tolist(),
                       "function": boolean_name(bits[:, j], p, q)} for j in range(layer.units)]})
    for entry in layers[:-1]:
        short += [f"{u['name']} ~ {u['function']}" for u in entry["units"]]
    last = composed[-1] if composed and composed[-1]["layer"] == len(net64.layers) else None
    for j, u in enumerate(layers[-1]["units"]):
        short.append(f"{u['name']} ~ {last['units'][j]['function'] if last else u['function']}")
    return {"inputs": X.tolist(), "layers": layers, "in_terms_of_previous": composed, "summary": ", ".join(short)}


# -- decision grids -------------------------------------------------------------------------------
def grid_range(X: np.ndarray, pad: float = 0.1) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x_min, x_max), (y_min, y_max)) of 2-D data, widened by `pad` of the span on each side."""
    lo, hi = X.min(axis=0).astype(float), X.max(axis=0).astype(float)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def decision_grid(net: Network, X: np.ndarray, nx: int = 48, ny: int = 24, pad: float = 0.1) -> dict[str, Any]:
    """The network over an ny x nx grid spanning the 2-D data X (N, 2), widened by `pad`.

    Returns xs (nx,), ys (ny,) increasing, and arrays indexed [i, j] at the point (xs[j], ys[i]):
    `outputs` (ny, nx, n_out), `hidden` [(ny, nx, n_l) per hidden layer], `predicted` (ny, nx) the
    class (argmax, or output > 0.5 for one unit) and `confidence` (ny, nx) the output of that class.
    One forward pass over all ny*nx points.
    """
    if net.sizes[0] != 2:
        raise ValueError(f"a decision grid needs a network with 2 inputs, this one has {net.sizes[0]}")
    (x0, x1), (y0, y1) = grid_range(X, pad)
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    gx, gy = np.meshgrid(xs, ys)
    P = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(net.layers[0].W.dtype)
    _, Ys = net.forward_all(P)
    out = Ys[-1].astype(np.float64)
    predicted = predicted_classes(out)
    confidence = np.abs(out[:, 0] - 0.5) + 0.5 if out.shape[1] == 1 else out.max(axis=1)
    return {
        "xs": xs, "ys": ys,
        "outputs": out.reshape(ny, nx, -1),
        "hidden": [Y.astype(np.float64).reshape(ny, nx, -1) for Y in Ys[1:-1]],
        "predicted": predicted.reshape(ny, nx),
        "confidence": confidence.reshape(ny, nx),
    }


# -- weights --------------------------------------------------------------------------------------
def layer_stats(net: Network) -> list[dict[str, Any]]:
    """Per layer: shape, activation, and for W and b: Frobenius / L2 norm, mean, std, min, max."""

    def stats(a: np.ndarray) -> dict[str, float]:
        a = a.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged run's huge weights: inf, not a warning
            return {"norm": float(np.linalg.norm(a)), "mean": float(a.mean()), "std": float(a.std()),
                    "min": float(a.min()), "max": float(a.max()), "abs_max": float(np.abs(a).max())}

    return [{"layer": l + 1, "shape": list(layer.W.shape), "activation": layer.activation.name,
             "W": stats(layer.W), "b": stats(layer.b)} for l, layer in enumerate(net.layers)]


def image_side(n_inputs: int) -> int | None:
    """28 for 784 inputs: the side of a square image of n_inputs pixels (at least 8x8), else None."""
    side = math.isqrt(n_inputs)
    return side if side >= 8 and side * side == n_inputs else None


def strongest_units(W: np.ndarray, k: int = 8) -> list[dict[str, Any]]:
    """The k units of a first layer W (n_in, units) with the largest incoming weight norm ||W[:, j]||,
    strongest first, each with its weights as a side x side image (n_in must be a square)."""
    side = image_side(W.shape[0])
    if side is None:
        raise ValueError(f"{W.shape[0]} inputs are not a square image")
    norms = np.linalg.norm(W.astype(np.float64), axis=0)
    order = np.argsort(-norms, kind="stable")[:k]
    return [{"unit": int(j) + 1, "norm": float(norms[j]), "image": W[:, j].astype(np.float64).reshape(side, side)}
            for j in order]


# -- curves ---------------------------------------------------------------------------------------
def curves(columns: list[str], rows: list[dict[str, float | None]]) -> dict[str, dict[str, list[float]]]:
    """metrics.csv as {"loss": {"epoch": [...], "value": [...]}, "val_loss": ...}, for every column
    except epoch, step, lr and seconds; empty cells are left out."""
    out = {}
    for col in columns:
        if col in ("epoch", "step", "lr", "seconds"):
            continue
        pts = [(r["epoch"], r[col]) for r in rows if r.get(col) is not None and r.get("epoch") is not None]
        if pts:
            out[col] = {"epoch": [p[0] for p in pts], "value": [p[1] for p in pts]}
    return out


def curve_stats(c: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """first, last, min, max and the epoch of the best value (min for losses, max for accuracies)."""
    out = {}
    for name, pts in c.items():
        v = np.asarray(pts["value"], dtype=np.float64)
        finite = np.isfinite(v)
        if not finite.any():
            out[name] = {"first": float(v[0]), "last": float(v[-1]), "points": len(v)}
            continue
        w = np.where(finite, v, np.nan)
        best = int(np.nanargmax(w) if higher_is_better(name) else np.nanargmin(w))
        out[name] = {"first": float(v[0]), "last": float(v[-1]), "min": float(np.nanmin(w)),
                     "max": float(np.nanmax(w)), "best_epoch": pts["epoch"][best], "points": len(v)}
    return out
