"""What recording snapshots (`train.snapshots`) costs: whole training runs of the 2-D example configs
(xor, moons, spiral) with the default 20 snapshots against the same runs with none, in the same process.

    python benchmarks/snapshots.py [--repeats 7] [--snapshots 20] [--json]

Each repeat trains every config twice, once with train.snapshots=0 and once with K snapshots, in
alternating order, into a fresh run directory (so the cost of writing snapshots.npz is counted: the wall
time is that of `nncli.train`, from loading the config to the last file). The table shows the median
wall time of each and their ratio (with snapshots / without), and, because on a busy machine that ratio
is only as precise as the noise (a few percent), the direct cost too, measured inside the runs with
snapshots as shares of their wall time (medians): `copies`, the time spent taking snapshots during
training (the recorder's on_epoch and Record.take); `snapshots.npz`, writing the file (an atomic write:
temporary file, fsync, rename); and for comparison `all files`, the run's writes of all its files
(config.yaml, weights.npz, metrics.csv, summary.json, snapshots.npz). The default of 20 snapshots for
2-D data and small networks is meant to cost under 2%.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ["xor.yaml", "moons.yaml", "spiral.yaml"]


class Timed:
    """Wraps methods with a stopwatch: `spent` is the time inside them since the last reset (nested
    calls counted once)."""

    def __init__(self, targets):
        self.spent, self.depth = 0.0, 0
        for owner, name in targets:
            setattr(owner, name, self.wrap(getattr(owner, name)))

    def wrap(self, method):
        def timed(*args, **kwargs):
            self.depth += 1
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.spent += time.perf_counter() - started
        return timed


def train_seconds(config: Path, snapshots: int, runs_dir: Path, timers: dict[str, Timed]) -> tuple[float, dict]:
    """Wall time of one `nncli.train` into a new run directory under runs_dir, and the time spent in each
    timer's methods."""
    import nncli

    for timer in timers.values():
        timer.spent = 0.0
    started = time.perf_counter()
    nncli.train(config, {"train.snapshots": snapshots}, runs_dir=runs_dir, command=["benchmark"])
    return time.perf_counter() - started, {name: timer.spent for name, timer in timers.items()}


def measure(config: Path, snapshots: int, repeats: int, timers: dict[str, Timed]) -> dict:
    """Median wall times with and without snapshots, alternating which goes first, and the median shares
    of each timer in the runs with snapshots."""
    times, shares = {0: [], snapshots: []}, {name: [] for name in timers}
    with tempfile.TemporaryDirectory() as tmp:
        train_seconds(config, 0, Path(tmp), timers)  # warm-up: imports, data generation paths, caches
        for r in range(repeats):
            for k in ((0, snapshots) if r % 2 == 0 else (snapshots, 0)):
                wall, spent = train_seconds(config, k, Path(tmp), timers)
                times[k].append(wall)
                for name in timers if k else ():
                    shares[name].append(spent[name] / wall)
    without, with_ = statistics.median(times[0]), statistics.median(times[snapshots])
    return {"config": config.name, "without": without, "with": with_, "ratio": with_ / without,
            **{name: statistics.median(v) for name, v in shares.items()}, "runs": repeats}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each config with and without (median)")
    parser.add_argument("--snapshots", type=int, default=20, help="snapshots of the runs that record them")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from nncli import runs, snapshots

    timers = {"copies": Timed([(snapshots.Record, "take"), (snapshots.Recorder, "on_epoch")]),
              "snapshots.npz": Timed([(runs.RunDir, "write_snapshots")]),
              "all files": Timed([(runs.RunDir, "_write")])}
    results = [measure(ROOT / "configs" / name, args.snapshots, args.repeats, timers) for name in CONFIGS]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"train.snapshots={args.snapshots} against 0: median wall time of nncli.train over {args.repeats} runs")
    print(f"{'config':<12} {'without (s)':>12} {'with (s)':>10} {'ratio':>7} {'copies':>8} {'snapshots.npz':>14} "
          f"{'all files':>10}")
    for r in results:
        print(f"{r['config']:<12} {r['without']:>12.3f} {r['with']:>10.3f} {r['ratio']:>7.3f} "
              f"{100 * r['copies']:>7.2f}% {100 * r['snapshots.npz']:>13.2f}% {100 * r['all files']:>9.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
