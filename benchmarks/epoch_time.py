"""Time per training epoch of nncli against a minimal hand-written numpy loop, the GEMM-only floor (and
PyTorch CPU and scikit-learn's MLPClassifier when installed), on Fashion-MNIST's 60,000 training images
(random data of the same shape if the dataset is missing):

  float32  784-256-128-10 ReLU/softmax, batch 128, SGD with momentum 0.9: nncli, the numpy loop, the
           floor, torch, scikit-learn
  float64  the same network and optimizer in float64: nncli, the numpy loop, the floor
  noise    the recipe of configs/fashion-mnist.yaml (784-512-256-10, Adam, batch 128, 54,000 training
           and 6,000 validation images, validated every epoch) with its input_noise and without

    python benchmarks/epoch_time.py [--epochs 5] [--no-torch] [--no-sklearn] [--json]

In each group, epochs of the contenders alternate (nncli, numpy, floor, torch, ..., nncli, ...) so that a
change in the machine's load hits all of them alike; the tables show the median seconds per epoch and
ratios of medians. The GEMM-only floor is an epoch of only the matrix products of the same shapes (forward
X W_l, weight gradients Y_{l-1}^T Delta_l, input gradients Delta_l W_l^T except the first layer's) into
preallocated arrays: what no implementation of this network in numpy can go below.

Memory: the extra memory (tracemalloc, which counts numpy's allocations) that one nncli epoch allocates at
its peak, and the peak resident set size (RSS) of the process during one float32 nncli epoch, measured on
Linux by resetting the peak (/proc/self/clear_refs) before the epoch, less the RSS before the data was
loaded, against the size of the training set (target: at most 1.10 of it: the training set held once).

Only numpy is needed; torch and scikit-learn are optional and are not dependencies of nncli.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from contenders import (BATCH, LR, MOMENTUM, GemmFloor, NncliLoop, NumpyLoop, SklearnLoop, TorchLoop,
                        init_weights, load_data, recipe_contenders)


# -- memory ----------------------------------------------------------------------------------------
def _status_mb(field: str) -> float | None:
    """A field of /proc/self/status (VmRSS, VmHWM) in MB, or None where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float | None:
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Maximum resident set size of this process so far, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak RSS (VmHWM) to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mb("VmHWM") is not None
    except OSError:
        return False


# -- running ---------------------------------------------------------------------------------------
def race(contenders: list, epochs: int) -> list[dict]:
    """One untimed warm-up epoch each, then `epochs` rounds in which every contender runs one epoch."""
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    for c in contenders:  # first-touch allocation, BLAS start-up
        c.epoch()
    for _ in range(epochs):
        for c in contenders:
            start = time.perf_counter()
            c.epoch()
            times[c.name].append(time.perf_counter() - start)
    return [{"contender": name, "median_s": statistics.median(t), "min_s": min(t), "times_s": t}
            for name, t in times.items()]


def ratios(rows: list[dict], **baselines: str) -> None:
    """Add row["vs_<key>"] = median / the median of the contender named `baselines[key]`."""
    medians = {r["contender"]: r["median_s"] for r in rows}
    for r in rows:
        for key, name in baselines.items():
            r[f"vs_{key}"] = r["median_s"] / medians[name]


def memory_check(X, y, weights, seed, rss_before_data: float | None) -> dict:
    """One nncli epoch's peak extra memory (tracemalloc: numpy's allocations) and its peak RSS."""
    loop = NncliLoop(X, y, weights, seed)
    loop.epoch()  # optimizer slots and buffers exist after the first epoch
    out: dict = {"train_set_mb": X.nbytes / 2**20}
    if rss_before_data is not None and reset_peak_rss():
        loop.epoch()
        peak = _status_mb("VmHWM")
        out.update({"rss_before_data_mb": rss_before_data, "epoch_peak_rss_mb": peak,
                    "epoch_rss_over_train_set": (peak - rss_before_data) * 2**20 / X.nbytes})
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    loop.epoch()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    out.update({"epoch_peak_extra_mb": peak / 2**20, "ratio": peak / X.nbytes})
    return out


def optional(classes, args, X, y, weights) -> tuple[list, list[str]]:
    """PyTorch and scikit-learn contenders, if installed and not switched off."""
    out, skipped = [], []
    for cls, off, package in ((TorchLoop, args.no_torch, "torch"), (SklearnLoop, args.no_sklearn, "scikit-learn")):
        if off:
            continue
        try:
            out.append(cls(X, y, weights, args.seed))
        except ImportError:
            skipped.append(f"{cls.name} (not installed: pip install {package})")
    return out, skipped


def run(args) -> dict:
    weights32 = init_weights(args.seed)
    # the modules and BLAS's buffers (made on first use) count before the data, not as the data
    import nncli.data.datasets  # noqa: F401
    import nncli.trainer  # noqa: F401
    for dt in (np.float32, np.float64):
        np.ones((BATCH, 784), dt) @ np.ones((784, 256), dt)
    rss_before = rss_mb()
    X, y, source = load_data(args.seed)
    rss_data = peak_rss_mb()
    memory = memory_check(X, y, weights32, args.seed, rss_before)

    main = [NncliLoop(X, y, weights32, args.seed), NumpyLoop(X, y, weights32, args.seed),
            GemmFloor(X, y, weights32, args.seed)]
    extra, skipped = optional((TorchLoop, SklearnLoop), args, X, y, weights32)
    float32 = race(main + extra, args.epochs)
    ratios(float32, numpy=NumpyLoop.name, floor=GemmFloor.name)
    del main, extra

    float64 = []
    if not args.no_float64:
        X64, weights64 = X.astype(np.float64), init_weights(args.seed, np.float64)
        float64 = race([NncliLoop(X64, y, weights64, args.seed), NumpyLoop(X64, y, weights64, args.seed),
                        GemmFloor(X64, y, weights64, args.seed)], args.epochs)
        ratios(float64, numpy=NumpyLoop.name, floor=GemmFloor.name)
        del X64
    noise = []
    if not args.no_noise:
        recipes = recipe_contenders(X, y, args.seed)
        noise = race(recipes, args.epochs)
        ratios(noise, without=recipes[1].name)
    return {
        "data": source, "shape": list(X.shape), "network": "784-256-128-10 relu/softmax", "batch": BATCH,
        "optimizer": f"sgd lr={LR} momentum={MOMENTUM}", "epochs_timed": args.epochs,
        "float32": float32, "float64": float64, "input_noise": noise, "skipped": skipped, "memory": memory,
        # the peak is reset for the epoch's measurement: "at_end" is the peak since then
        "peak_rss_mb": {"after_loading_data": round(rss_data, 1), "at_end": round(peak_rss_mb(), 1)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                    "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "(default)")},
    }


def table(title: str, rows: list[dict], columns: dict[str, str]) -> list[str]:
    """A Markdown table: contender, median, min, then one column per ratio key in `columns`."""
    out = [title, "", f"| {'contender':<40} | {'s/epoch (median)':>16} | {'min':>6} | "
           + " | ".join(f"{c:>13}" for c in columns.values()) + " |",
           f"|{'-' * 42}|{'-' * 17}:|{'-' * 7}:|" + "|".join("-" * 14 + ":" for _ in columns) + "|"]
    for r in rows:
        out.append(f"| {r['contender']:<40} | {r['median_s']:>16.3f} | {r['min_s']:>6.3f} | "
                   + " | ".join(f"{r[k]:>12.2f}x" for k in columns) + " |")
    return out + [""]


def report(result: dict) -> str:
    ep = result["epochs_timed"]
    lines = [f"{result['data']}: {result['shape'][0]} x {result['shape'][1]}; 784-256-128-10 ReLU/softmax, batch "
             f"{BATCH}, SGD momentum {MOMENTUM}; medians of {ep} alternating epochs; {result['machine']['cpus']} "
             f"CPUs, numpy {result['machine']['numpy']}, OPENBLAS_NUM_THREADS "
             f"{result['machine']['OPENBLAS_NUM_THREADS']}", ""]
    lines += table("float32", result["float32"], {"vs_numpy": "vs numpy loop", "vs_floor": "vs GEMM floor"})
    lines += [f"skipped: {s}" for s in result["skipped"]] + ([""] if result["skipped"] else [])
    if result["float64"]:
        lines += table("float64", result["float64"], {"vs_numpy": "vs numpy loop", "vs_floor": "vs GEMM floor"})
    if result["input_noise"]:
        lines += table("input noise: configs/fashion-mnist.yaml (784-512-256-10, Adam, batch 128, 54,000 + "
                       "6,000 validated)", result["input_noise"], {"vs_without": "vs no noise"})
    m = result["memory"]
    lines.append(f"memory: training set {m['train_set_mb']:.1f} MB (held once); one nncli epoch allocates at most "
                 f"{m['epoch_peak_extra_mb']:.2f} MB more ({100 * m['ratio']:.2f}% of it)")
    if "epoch_peak_rss_mb" in m:
        lines.append(f"peak RSS of a float32 nncli epoch: {m['epoch_peak_rss_mb']:.0f} MB, "
                     f"{m['epoch_peak_rss_mb'] - m['rss_before_data_mb']:.1f} MB over the "
                     f"{m['rss_before_data_mb']:.0f} MB before loading the data: "
                     f"{m['epoch_rss_over_train_set']:.3f}x the training set")
    rss = result["peak_rss_mb"]
    lines.append(f"peak RSS of the process: {rss['after_loading_data']:.0f} MB while loading the data; "
                 f"{rss['at_end']:.0f} MB from the epoch's measurement on (every contender, every group)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs per contender (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    ap.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn even if installed")
    ap.add_argument("--no-float64", action="store_true", help="skip the float64 group")
    ap.add_argument("--no-noise", action="store_true", help="skip the input-noise group")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
