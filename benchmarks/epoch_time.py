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

SIZES = [784, 256, 128, 10]
BATCH = 128
LR = 0.01
MOMENTUM = 0.9
RECIPE = Path(__file__).resolve().parent.parent / "configs" / "fashion-mnist.yaml"


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


# -- data ------------------------------------------------------------------------------------------
def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Fashion-MNIST's training set as float32 (60000, 784) in [0, 1] with labels, or random data."""
    from nncli.config import Spec
    from nncli.data import datasets
    from nncli.errors import DataError

    try:
        ds = datasets.load(Spec(name="fashion-mnist"), np.random.default_rng(seed), "float32")
        return ds.X, ds.y, f"fashion-mnist ({ds.source})"
    except DataError:
        rng = np.random.default_rng(seed)
        X = rng.random((60000, 784), dtype=np.float32)
        y = rng.integers(0, 10, 60000)
        return X, y, "random data (Fashion-MNIST not found)"


def one_hot(y: np.ndarray, dtype) -> np.ndarray:
    T = np.zeros((len(y), 10), dtype)
    T[np.arange(len(y)), y] = 1
    return T


def init_weights(seed: int, dtype=np.float32) -> list[np.ndarray]:
    """[W1, b1, W2, b2, W3, b3], He-normal weights: every contender starts from these."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.normal(0, np.sqrt(2 / fan_in), (fan_in, fan_out))).astype(dtype))
        params.append(np.zeros(fan_out, dtype))
    return params


# -- contenders ------------------------------------------------------------------------------------
class NncliLoop:
    """nncli's own Trainer, one epoch per call (its shuffling, gather buffer, loss and accuracy per batch,
    divergence checks). `cfg` is a config mapping; `val` (X, y) is evaluated after every epoch."""

    name = "nncli Trainer"

    def __init__(self, X, y, weights, seed, cfg: dict | None = None, val=None, name: str | None = None):
        from nncli import config as config_mod
        from nncli.data.splits import Split, TrainData
        from nncli.nn.activations import ACTIVATIONS
        from nncli.nn.initializers import INITIALIZERS
        from nncli.nn.losses import LOSSES
        from nncli.nn.network import Dense, Network
        from nncli.nn.optimizers import OPTIMIZERS
        from nncli.nn.schedules import SCHEDULES
        from nncli.trainer import Trainer

        self.name = name or self.name
        dtype = X.dtype
        self.cfg = config_mod.validate(cfg or {
            "seed": seed, "dtype": str(dtype), "data": "xor",
            "model": {"layers": [{"units": 256, "activation": "relu"}, {"units": 128, "activation": "relu"},
                                 {"units": 10, "activation": "softmax"}]},
            "loss": "categorical_crossentropy",
            "optimizer": {"name": "sgd", "lr": LR, "momentum": MOMENTUM},
            "train": {"epochs": 1, "batch_size": BATCH},
        })
        c = self.cfg
        if weights is None:  # the config's initializer, from the seed
            init, rng, weights, fan_in = INITIALIZERS.get(c.model.init.name)(**c.model.init.options), \
                np.random.default_rng(seed), [], X.shape[1]
            for spec in c.model.layers:
                weights += [init(rng, fan_in, spec.units, dtype), np.zeros(spec.units, dtype)]
                fan_in = spec.units
        acts = [spec.activation for spec in c.model.layers]
        self.net = Network([Dense(weights[2 * i].copy(), weights[2 * i + 1].copy(), ACTIVATIONS.get(a)())
                            for i, a in enumerate(acts)])
        self.data = TrainData(Split(X, one_hot(y, dtype), y),
                              Split(val[0], one_hot(val[1], dtype), val[1]) if val is not None else None)
        sched = c.optimizer.schedule
        self.trainer = Trainer(self.net, c, LOSSES.get(c.loss)(), OPTIMIZERS.get(c.optimizer.name)(**c.optimizer.options),
                               SCHEDULES.get(sched.name)(c.optimizer.lr, c.train.epochs, **sched.options),
                               np.random.default_rng(seed))
        self.state = None

    def epoch(self) -> float:
        self.cfg.train.epochs = 1 if self.state is None else self.state.epoch + 1
        result = self.trainer.fit(self.data, state=self.state)
        self.state = result.state
        return result.state.rows[-1]["loss"]


class NumpyLoop:
    """A minimal loop: forward, fused softmax-CE gradient (P - T)/m, backward, momentum update; nothing else."""

    name = "minimal numpy loop"

    def __init__(self, X, y, weights, seed):
        self.X = X
        self.T = one_hot(y, X.dtype)
        self.p = [w.copy() for w in weights]
        self.v = [np.zeros_like(w) for w in weights]
        self.rng = np.random.default_rng(seed)

    def epoch(self) -> float:
        X, T = self.X, self.T
        dt = X.dtype.type
        W1, b1, W2, b2, W3, b3 = self.p
        perm = self.rng.permutation(len(X))
        for lo in range(0, len(X), BATCH):
            idx = perm[lo:lo + BATCH]
            x, t = X[idx], T[idx]
            z1 = x @ W1 + b1
            a1 = np.maximum(z1, 0)
            z2 = a1 @ W2 + b2
            a2 = np.maximum(z2, 0)
            z3 = a2 @ W3 + b3
            e = np.exp(z3 - z3.max(axis=1, keepdims=True))
            d3 = (e / e.sum(axis=1, keepdims=True) - t) * dt(1 / len(x))
            d2 = (d3 @ W3.T) * (z2 > 0)
            d1 = (d2 @ W2.T) * (z1 > 0)
            grads = (x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0), a2.T @ d3, d3.sum(0))
            for p, v, g in zip(self.p, self.v, grads):
                v *= dt(MOMENTUM)
                v += g
                p -= dt(LR) * v
        return float("nan")


class GemmFloor:
    """Only the matrix products of an epoch, of the same shapes, into arrays allocated once: per batch (a
    contiguous slice of X, no gather) the forward products, the weight gradients and the input gradients
    of every layer but the first. No activation, loss, bias, update or gather."""

    name = "GEMM-only floor"

    def __init__(self, X, y, weights, seed):
        self.X = X
        self.W = [w for w in weights[0::2]]
        dt = X.dtype
        self.Z = [np.empty((BATCH, n), dt) for n in SIZES[1:]]
        self.D = [np.empty((BATCH, n), dt) for n in SIZES[1:-1]]
        self.G = [np.empty_like(w) for w in self.W]

    def epoch(self) -> float:
        X, W, Z, D, G = self.X, self.W, self.Z, self.D, self.G
        for lo in range(0, len(X), BATCH):
            x = X[lo:lo + BATCH]
            m = len(x)
            z1, z2, z3 = Z[0][:m], Z[1][:m], Z[2][:m]
            d1, d2 = D[0][:m], D[1][:m]
            np.matmul(x, W[0], out=z1)
            np.matmul(z1, W[1], out=z2)
            np.matmul(z2, W[2], out=z3)
            np.matmul(z2.T, z3, out=G[2])  # z3 stands for Delta_3
            np.matmul(z3, W[2].T, out=d2)
            np.matmul(z1.T, d2, out=G[1])
            np.matmul(d2, W[1].T, out=d1)
            np.matmul(x.T, d1, out=G[0])
        return float("nan")


class TorchLoop:
    """PyTorch CPU: nn.Sequential, CrossEntropyLoss, optim.SGD(momentum), the same batches and weights."""

    name = "PyTorch CPU"

    def __init__(self, X, y, weights, seed):
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(np.asarray(y, dtype=np.int64))
        layers = []
        for i in range(3):
            lin = torch.nn.Linear(SIZES[i], SIZES[i + 1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(weights[2 * i].T.copy()))
                lin.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
            layers += [lin, torch.nn.ReLU()] if i < 2 else [lin]
        self.model = torch.nn.Sequential(*layers)
        self.loss = torch.nn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.gen = torch.Generator().manual_seed(seed)
        self.name = f"PyTorch CPU {torch.__version__}"

    def epoch(self) -> float:
        torch = self.torch
        perm = torch.randperm(len(self.X), generator=self.gen)
        for lo in range(0, len(self.X), BATCH):
            idx = perm[lo:lo + BATCH]
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss(self.model(self.X[idx]), self.y[idx])
            loss.backward()
            self.opt.step()
        return float(loss.detach())


class SklearnLoop:
    """scikit-learn's MLPClassifier(solver="sgd", momentum=0.9, nesterov off), one partial_fit per epoch."""

    name = "scikit-learn MLPClassifier"

    def __init__(self, X, y, weights, seed):
        import sklearn
        from sklearn.neural_network import MLPClassifier

        self.X, self.y = X, np.asarray(y)
        self.model = MLPClassifier(hidden_layer_sizes=(256, 128), activation="relu", solver="sgd",
                                   learning_rate_init=LR, momentum=MOMENTUM, nesterovs_momentum=False,
                                   batch_size=BATCH, alpha=0.0, shuffle=True, random_state=seed)
        self.classes = np.arange(10)
        self.name = f"scikit-learn {sklearn.__version__} MLPClassifier"

    def epoch(self) -> float:
        self.model.partial_fit(self.X, self.y, classes=self.classes)
        return float(self.model.loss_)


def recipe_contenders(X, y, seed) -> list[NncliLoop]:
    """configs/fashion-mnist.yaml as nncli trains it (its network, init, Adam, cosine schedule, batch size;
    the last 6,000 images as the validation set), with its input noise and with none."""
    from nncli import config as config_mod

    raw = config_mod.load(RECIPE).model_dump(mode="json")
    raw["train"]["validation_split"] = 0.0  # the split is made here (views, no copy)
    n_val = len(X) // 10
    train, val = (X[:-n_val], y[:-n_val]), (X[-n_val:], y[-n_val:])
    sd = raw["train"]["input_noise"]
    out = []
    for noise in (sd, 0.0):
        cfg = {**raw, "train": {**raw["train"], "input_noise": noise}}
        out.append(NncliLoop(*train, None, seed, cfg=cfg, val=val, name=f"recipe, input_noise {noise:g}"))
    return out


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
    import nncli.data.datasets, nncli.train  # noqa: F401,E401
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
    lines.append(f"peak RSS of the process: {rss['after_loading_data']:.0f} MB after loading the data, "
                 f"{rss['at_end']:.0f} MB at the end")
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
