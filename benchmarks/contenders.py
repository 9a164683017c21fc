"""The contenders of benchmarks/epoch_time.py, each an object whose `epoch()` trains one epoch: nncli's
Trainer, a minimal numpy loop, the GEMM-only floor, PyTorch CPU and scikit-learn's MLPClassifier (the last
two only when installed), and configs/fashion-mnist.yaml's recipe with and without its input noise; and
the data and initial weights they share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZES = [784, 256, 128, 10]
BATCH = 128
LR = 0.01
MOMENTUM = 0.9
RECIPE = Path(__file__).resolve().parent.parent / "configs" / "fashion-mnist.yaml"


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
        optimizer = OPTIMIZERS.get(c.optimizer.name)(**c.optimizer.options)
        schedule = SCHEDULES.get(sched.name)(c.optimizer.lr, c.train.epochs, **sched.options)
        self.trainer = Trainer(self.net, c, LOSSES.get(c.loss)(), optimizer, schedule, np.random.default_rng(seed))
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
