"""What writing TensorBoard events while training (train.tensorboard) costs: the same runs trained in
memory with and without events, alternating in one process, median wall time of each and their ratio.

    python benchmarks/tensorboard_overhead.py [--repeats 5] [--json]

Two cases bound the cost: XOR (2000 epochs of 4 rows: an epoch takes microseconds, so the per-epoch cost
of the events dominates) and the spiral (300 epochs of 15 mini-batches: a small real run). Histograms
are written at the default interval (about 50 per tensor over a run). Needs tensorboardX
(pip install "nncli[tensorboard]").
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import nncli

ROOT = Path(__file__).resolve().parent.parent
CASES = {"xor (2000 epochs x 1 batch)": (ROOT / "configs" / "xor.yaml", {}),
         "spiral (300 epochs x 15 batches)": (ROOT / "configs" / "spiral.yaml", {})}


def timed(config: Path, overrides: dict, logdir: Path | None) -> float:
    if logdir is not None:
        overrides = {**overrides, "train.tensorboard": str(logdir)}
    started = time.perf_counter()
    nncli.train(config, overrides, runs_dir=None, name=f"bench-{time.monotonic_ns()}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (config, overrides) in CASES.items():
            plain, events = [], []
            timed(config, overrides, None)  # warm-up: imports, caches
            for _ in range(args.repeats):
                plain.append(timed(config, overrides, None))
                events.append(timed(config, overrides, Path(tmp)))
            results[name] = {"without": statistics.median(plain), "with": statistics.median(events),
                             "ratio": statistics.median(events) / statistics.median(plain)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'run':34} {'without (s)':>12} {'with events (s)':>16} {'ratio':>7}   (medians of {args.repeats})")
    for name, r in results.items():
        print(f"{name:34} {r['without']:12.3f} {r['with']:16.3f} {r['ratio']:7.2f}")


if __name__ == "__main__":
    main()
