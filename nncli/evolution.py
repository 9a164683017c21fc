"""How a network evolved during training, read from its snapshots (train.snapshots, snapshots.npz): the
numbers of `nncli inspect --section evolution`. Never prints.

- `losses`: the loss (and accuracy) of each snapshot's weights on the training split;
- `weight_norms`: ||W_l|| (Frobenius) of every layer at every snapshot;
- `truth_tables`: for XOR, the boolean function each unit computes at every snapshot, and the epoch from
  which it computes its final one (the moment a hidden unit "becomes" AND or OR);
- `decision_frames`: the network's output over the 2-D data's range at chosen snapshots;
- `frame_indices`: which snapshots to show side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import analysis
from .data.splits import Split
from .metrics import evaluate
from .nn.losses import Loss
from .nn.network import Network
from .snapshots import Record

HOW_TO = ("this run recorded no snapshots of its weights; to see how a network evolves, train it with "
          "train.snapshots=K (K epochs spread over the run, for example train.snapshots=20)")


def frame_indices(count: int, frames: int) -> list[int]:
    """`frames` snapshot indices out of `count`, evenly spread, the first and the last included (all of
    them when there are no more than `frames`). Snapshots are log-spaced in epochs, so these are too."""
    if count <= frames:
        return list(range(count))
    return sorted({int(round(v)) for v in np.linspace(0, count - 1, frames)})


def networks(record: Record, like: Network) -> list[Network]:
    """The network at every snapshot."""
    return [record.network(i, like) for i in range(len(record))]


def losses(nets: list[Network], split: Split | None, loss: Loss) -> dict[str, list[float | None]]:
    """{"loss": [...], "accuracy": [...]} of every snapshot's network on the training split (the data loss,
    without weight decay; accuracy for classification); empty lists when the data is not available."""
    out: dict[str, list[float | None]] = {"loss": [], "accuracy": []}
    if split is None:
        return out
    for net in nets:
        m = evaluate(net, split, loss)
        out["loss"].append(float(m["loss"]))
        out["accuracy"].append(float(m["accuracy"]) if "accuracy" in m else None)
    if all(a is None for a in out["accuracy"]):
        out["accuracy"] = []
    return out


def weight_norms(record: Record) -> dict[str, list[float]]:
    """{"W1": [||W1|| at each snapshot], ...}: Frobenius norms, in float64."""
    return {name: [float(np.linalg.norm(W.astype(np.float64))) for W in column]
            for name, column in zip(record.names, record.params) if name.startswith("W")}


def truth_tables(nets: list[Network], epochs: list[int], low: float = -1.0, high: float = 1.0) -> dict[str, Any]:
    """For an XOR network at every snapshot: each unit's truth table bits and boolean function of the inputs
    A, B (analysis.truth_tables), the output's function of the hidden units where there are two of them,
    and `settled`: per unit, the first epoch from which it computes its final function to the end."""
    rows = []
    for net, epoch in zip(nets, epochs):
        tt = analysis.truth_tables(net, low, high)
        units = {u["name"]: u["function"] for layer in tt["layers"] for u in layer["units"]}
        bits = {u["name"]: u["bits"] for layer in tt["layers"] for u in layer["units"]}
        last = tt["in_terms_of_previous"][-1] if tt["in_terms_of_previous"] else None
        of_hidden = ({u["name"]: u["function"] for u in last["units"]}
                     if last and last["layer"] == len(net.layers) else {})
        rows.append({"epoch": epoch, "units": units, "bits": bits, "of_hidden": of_hidden,
                     "summary": tt["summary"]})
    settled = {}
    for name in rows[-1]["units"] if rows else []:
        k = len(rows) - 1
        while k > 0 and rows[k - 1]["units"][name] == rows[-1]["units"][name]:
            k -= 1
        settled[name] = rows[k]["epoch"]
    return {"snapshots": rows, "settled": settled}


def decision_frames(nets: list[Network], X: np.ndarray, nx: int, ny: int) -> list[dict[str, Any]]:
    """analysis.decision_grid of each network over the range of the 2-D data X, on an ny x nx grid."""
    return [analysis.decision_grid(net, X, nx=nx, ny=ny) for net in nets]
