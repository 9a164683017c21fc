"""Time per training epoch of nncli against a minimal hand-written numpy loop (and PyTorch CPU and
scikit-learn's MLPClassifier when installed), on a 784-256-128-10 ReLU network with a softmax output,
batch 128, SGD with momentum 0.9, float32, on Fashion-MNIST's 60,000 training images (random data of the
same shape if the dataset is missing).

    python benchmarks/epoch_time.py [--epochs 5] [--threads N] [--no-torch] [--no-sklearn] [--json]

Epochs of the contenders alternate (nncli, numpy, torch, sklearn, nncli, ...) so that a change in the
machine's load hits all of them alike; the table shows the median seconds per epoch and the ratio to the
minimal numpy loop. It also checks memory: the extra memory (tracemalloc, which counts numpy's
allocations) that one nncli epoch allocates at its peak, against the size of the training set: the
training set must not be copied per epoch. Peak RSS is the process's maximum resident set size.

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

import numpy as np

SIZES = [784, 256, 128, 10]
BATCH = 128
LR = 0.01
MOMENTUM = 0.9


def peak_rss_mb() -> float:
    """Maximum resident set size of this process so far, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def init_weights(seed: int) -> list[np.ndarray]:
    """[W1, b1, W2, b2, W3, b3], He-normal weights, float32: every contender starts from these."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.normal(0, np.sqrt(2 / fan_in), (fan_in, fan_out))).astype(np.float32))
        params.append(np.zeros(fan_out, np.float32))
    return params


# -- contenders ------------------------------------------------------------------------------------
class NncliLoop:
    """nncli's own Trainer, one epoch per call (its shuffling, gather buffer, loss and accuracy per batch)."""

    name = "nncli Trainer"

    def __init__(self, X, y, weights, seed):
        from nncli import config as config_mod
        from nncli.nn.activations import ACTIVATIONS
        from nncli.nn.losses import LOSSES
        from nncli.nn.network import Dense, Network
        from nncli.nn.optimizers import OPTIMIZERS
        from nncli.nn.schedules import SCHEDULES
        from nncli.trainer import Split, TrainData, Trainer

        self.cfg = config_mod.validate({
            "seed": seed, "dtype": "float32", "data": "xor",
            "model": {"layers": [{"units": 256, "activation": "relu"}, {"units": 128, "activation": "relu"},
                                 {"units": 10, "activation": "softmax"}]},
            "loss": "categorical_crossentropy",
            "optimizer": {"name": "sgd", "lr": LR, "momentum": MOMENTUM},
            "train": {"epochs": 1, "batch_size": BATCH},
        })
        acts = ["relu", "relu", "softmax"]
        self.net = Network([Dense(weights[2 * i].copy(), weights[2 * i + 1].copy(), ACTIVATIONS.get(a)())
                            for i, a in enumerate(acts)])
        T = np.zeros((len(y), 10), np.float32)
        T[np.arange(len(y)), y] = 1
        self.data = TrainData(Split(X, T, y))
        self.trainer = Trainer(self.net, self.cfg, LOSSES.get("categorical_crossentropy")(),
                               OPTIMIZERS.get("sgd")(momentum=MOMENTUM), SCHEDULES.get("constant")(LR, 10**6),
                               np.random.default_rng(seed))
        self.state = None

    def epoch(self) -> float:
        self.cfg.train.epochs += 0 if self.state is None else 1
        result = self.trainer.fit(self.data, state=self.state)
        self.state = result.state
        return result.state.rows[-1]["loss"]


class NumpyLoop:
    """The floor: forward, fused softmax-CE gradient (P - T)/m, backward, momentum update; nothing else."""

    name = "minimal numpy loop"

    def __init__(self, X, y, weights, seed):
        self.X = X
        self.T = np.zeros((len(y), 10), np.float32)
        self.T[np.arange(len(y)), y] = 1
        self.p = [w.copy() for w in weights]
        self.v = [np.zeros_like(w) for w in weights]
        self.rng = np.random.default_rng(seed)

    def epoch(self) -> float:
        X, T = self.X, self.T
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
            d3 = (e / e.sum(axis=1, keepdims=True) - t) * np.float32(1 / len(x))
            d2 = (d3 @ W3.T) * (z2 > 0)
            d1 = (d2 @ W2.T) * (z1 > 0)
            grads = (x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0), a2.T @ d3, d3.sum(0))
            for p, v, g in zip(self.p, self.v, grads):
                v *= np.float32(MOMENTUM)
                v += g
                p -= np.float32(LR) * v
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


def memory_check(X, y, weights, seed) -> dict:
    """Peak extra memory (tracemalloc: numpy's allocations) during one nncli epoch vs the training set."""
    loop = NncliLoop(X, y, weights, seed)
    loop.epoch()  # optimizer slots and buffers exist after the first epoch
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    loop.epoch()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {"train_set_mb": X.nbytes / 2**20, "epoch_peak_extra_mb": peak / 2**20,
            "ratio": peak / X.nbytes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs per contender (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    ap.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn even if installed")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)

    X, y, source = load_data(args.seed)
    weights = init_weights(args.seed)
    rss_data = peak_rss_mb()
    contenders = [NncliLoop(X, y, weights, args.seed), NumpyLoop(X, y, weights, args.seed)]
    skipped = []
    for cls, off, module in ((TorchLoop, args.no_torch, "torch"), (SklearnLoop, args.no_sklearn, "sklearn")):
        if off:
            continue
        try:
            contenders.append(cls(X, y, weights, args.seed))
        except ImportError:
            skipped.append(f"{cls.name} (not installed: pip install {module})")
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    for c in contenders:  # one untimed warm-up epoch each (first-touch allocation, BLAS start-up)
        c.epoch()
    for _ in range(args.epochs):
        for c in contenders:
            start = time.perf_counter()
            c.epoch()
            times[c.name].append(time.perf_counter() - start)
    memory = memory_check(X, y, weights, args.seed)

    floor = statistics.median(times[NumpyLoop.name])
    rows = [{"contender": name, "median_s": statistics.median(t), "min_s": min(t),
             "ratio": statistics.median(t) / floor} for name, t in times.items()]
    result = {
        "data": source, "shape": list(X.shape), "network": "784-256-128-10 relu/softmax", "batch": BATCH,
        "optimizer": f"sgd lr={LR} momentum={MOMENTUM}", "dtype": "float32", "epochs_timed": args.epochs,
        "rows": rows, "skipped": skipped, "memory": memory,
        "peak_rss_mb": {"after_loading_data": round(rss_data, 1), "at_end": round(peak_rss_mb(), 1)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{source}: {X.shape[0]} x {X.shape[1]} float32; 784-256-128-10 ReLU, batch {BATCH}, "
              f"SGD momentum {MOMENTUM}; median of {args.epochs} epochs; {os.cpu_count()} CPUs, numpy "
              f"{np.__version__}")
        print()
        print(f"| {'contender':<38} | {'s/epoch (median)':>16} | {'min':>7} | {'vs numpy loop':>13} |")
        print(f"|{'-' * 40}|{'-' * 18}:|{'-' * 8}:|{'-' * 14}:|")
        for r in rows:
            print(f"| {r['contender']:<38} | {r['median_s']:>16.3f} | {r['min_s']:>7.3f} | "
                  f"{r['ratio']:>12.2f}x |")
        for s in skipped:
            print(f"skipped: {s}")
        print()
        m = memory
        print(f"memory: training set {m['train_set_mb']:.1f} MB (held once, float32); one nncli epoch "
              f"allocates at most {m['epoch_peak_extra_mb']:.2f} MB more ({100 * m['ratio']:.2f}% of it)")
        print(f"peak RSS: {result['peak_rss_mb']['after_loading_data']:.0f} MB after loading the data, "
              f"{result['peak_rss_mb']['at_end']:.0f} MB at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
