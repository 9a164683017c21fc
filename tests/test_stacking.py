"""A stack of networks trained together (nncli/stacking.py) equals each member trained alone by its own
Trainer, bit for bit: weights, optimizer state, metrics rows, status, message and best epoch, for every
optimizer, schedule, activation and loss, with mini-batches, input noise, weight decay, validation and
test sets, early stopping and divergence; a member that leaves the stack does not disturb the others;
an interrupted stack continues exactly; the engine's stacked pieces equal their single-network forms."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import XOR
from nncli import config as C
from nncli.history import Columns
from nncli.nn.activations import ACTIVATIONS
from nncli.nn.losses import LOSSES
from nncli.nn.network import Dense, Network, column_sums
from nncli.nn.optimizers import OPTIMIZERS
from nncli.runner import prepare
from nncli.stacking import StackTrainer

MOONS = {"seed": 0, "dtype": "float64", "data": {"name": "moons", "n_samples": 60, "noise": 0.2},
         "model": {"layers": [{"units": 5, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]},
         "loss": "binary_crossentropy", "optimizer": {"name": "sgd", "lr": 0.1},
         "train": {"epochs": 12, "batch_size": 16, "validation_split": 0.25, "snapshots": 0}}


def configs(base: dict, points: list[dict]) -> list[C.Config]:
    return [C.validate(C.apply_overrides(base, point)) for point in points]


def without_seconds(rows) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def assert_stack_equals_alone(cfgs: list[C.Config], should_stop=None):
    """Train the configs as one stack and each alone; everything training decides must be equal."""
    stacked = [prepare(c) for c in cfgs]
    results = StackTrainer(stacked).fit(*(should_stop,) if should_stop else ())
    for cfg, m, r in zip(cfgs, stacked, results):
        alone = prepare(cfg)
        a = alone.trainer.fit(alone.data)
        assert (r.status, r.message, r.diverged_at) == (a.status, a.message, a.diverged_at)
        for mine, theirs in zip(m.net.parameters(), alone.net.parameters()):
            assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
        assert m.trainer.optimizer.t == alone.trainer.optimizer.t
        for key, arrays in alone.trainer.optimizer.slots.items():
            assert all(np.array_equal(x, y) for x, y in zip(m.trainer.optimizer.slots[key], arrays)), key
        assert isinstance(r.state.rows, Columns)
        assert without_seconds(r.state.rows) == without_seconds(a.state.rows)
        assert (r.state.epoch, r.state.step, r.state.best, r.state.bad_epochs) == (
            a.state.epoch, a.state.step, a.state.best, a.state.bad_epochs)
        assert m.trainer.rng.bit_generator.state == alone.trainer.rng.bit_generator.state
    return results


OPTIMIZER_SPECS = [{"name": "sgd", "lr": 0.3}, {"name": "sgd", "lr": 0.1, "momentum": 0.9},
                   {"name": "sgd", "lr": 0.1, "momentum": 0.8, "nesterov": True},
                   {"name": "adam", "lr": 0.02}, {"name": "adam", "lr": 0.01, "beta1": 0.5, "beta2": 0.99, "eps": 1e-6}]


@pytest.mark.parametrize("optimizer", OPTIMIZER_SPECS, ids=lambda o: "-".join(map(str, o.values())))
def test_every_optimizer_with_mixed_seeds_rates_and_inits(optimizer):
    assert {o["name"] for o in OPTIMIZER_SPECS} == kinds(OPTIMIZERS)
    points = [{"seed": s, "optimizer": dict(optimizer, lr=optimizer["lr"] * f), "model.init": init}
              for s in range(3) for f, init in ((1, "glorot_normal"), (0.5, "he_normal"), (2, "glorot_uniform"))]
    if optimizer["name"] == "adam":  # members may differ in Adam's options too
        points[1]["optimizer"]["beta1"], points[2]["optimizer"]["beta2"] = 0.7, 0.95
    elif optimizer.get("momentum"):
        points[1]["optimizer"]["momentum"] = 0.5
    assert_stack_equals_alone(configs(MOONS, points))


@pytest.mark.parametrize("schedule", ["constant", {"name": "step", "step_size": 3, "gamma": 0.5},
                                      {"name": "exponential", "gamma": 0.8}, {"name": "cosine", "warmup": 2}],
                         ids=str)
def test_every_schedule(schedule):
    points = [{"seed": s, "optimizer.lr": lr, "optimizer.schedule": schedule} for s in range(2) for lr in (0.05, 0.3)]
    assert_stack_equals_alone(configs(MOONS, points))


def kinds(registry) -> set[str]:
    """The registered names without their aliases."""
    return {cls.name for _, cls in registry.items()}


HIDDEN = sorted(name for name in kinds(ACTIVATIONS) if not ACTIVATIONS.get(name).normalised_rows)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output, loss, units", [("sigmoid", "binary_crossentropy", 1),
                                                 ("softmax", "categorical_crossentropy", 2),
                                                 ("linear", "mse", 1), ("tanh", "mse", 1)])
def test_every_activation_and_loss(hidden, output, loss, units):
    base = C.apply_overrides(MOONS, {"model.layers": [{"units": 4, "activation": hidden},
                                                      {"units": 3, "activation": hidden},
                                                      {"units": units, "activation": output}], "loss": loss})
    assert_stack_equals_alone(configs(base, [{"seed": s, "optimizer.lr": lr} for s in range(2) for lr in (0.05, 0.2)]))


def test_all_losses_and_activations_are_covered():
    assert {"binary_crossentropy", "categorical_crossentropy", "mse"} == kinds(LOSSES)
    assert set(HIDDEN) | {"softmax"} == kinds(ACTIVATIONS)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_noise_weight_decay_full_batch_and_a_test_set(dtype):
    base = C.apply_overrides(MOONS, {"dtype": dtype, "train.test_every": 4, "data.n_samples": 70,
                                     "train.validation_split": 0.3})  # 21 rows: float32 sums are not exact
    points = [{"seed": s, "train.input_noise": noise, "weight_decay": wd, "train.batch_size": bs}
              for s in range(2) for noise, wd in ((0.0, 0.0), (0.1, 0.01), (0.3, 0.0)) for bs in (10, "full")]
    by_batch = {}
    for p in points:
        by_batch.setdefault(p["train.batch_size"], []).append(p)
    for group in by_batch.values():  # members of a stack share the batch size
        assert_stack_equals_alone(configs(base, group))


def test_a_regression_with_a_test_set():
    base = {"seed": 0, "dtype": "float64", "data": {"name": "linear", "n_samples": 40, "n_features": 3},
            "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "linear"}]},
            "loss": "mse", "optimizer": {"name": "adam", "lr": 0.05},
            "train": {"epochs": 10, "batch_size": 8, "validation_split": 0.2}}
    assert_stack_equals_alone(configs(base, [{"seed": s, "weight_decay": wd} for s in range(3) for wd in (0, 0.1)]))


def test_early_stopping_per_member_with_its_own_best_epoch():
    base = C.apply_overrides(MOONS, {"train.epochs": 60, "optimizer.name": "adam",
                                     "train.early_stopping": {"monitor": "val_loss", "patience": 3}})
    points = [{"seed": s, "optimizer.lr": lr} for s in range(3) for lr in (0.003, 0.05, 0.5)]
    results = assert_stack_equals_alone(configs(base, points))
    stopped = [r.state.epoch for r in results if r.status == "early_stopped"]
    assert len(set(stopped)) > 1 and any(r.status == "completed" for r in results)  # they left at their own times


def test_members_that_diverge_leave_and_the_others_go_on():
    base = C.apply_overrides(MOONS, {"loss": "mse", "model.layers.1.activation": "linear", "train.epochs": 20})
    points = [{"seed": s, "optimizer.lr": lr} for s in range(2) for lr in (0.01, 3.0, 30.0, 3000.0)]
    results = assert_stack_equals_alone(configs(base, points))
    statuses = [r.status for r in results]
    assert statuses.count("diverged") >= 2 and statuses.count("completed") >= 2
    assert len({r.diverged_at["epoch"] for r in results if r.diverged_at}) >= 1


def test_xor_the_labs_network_over_seeds_and_rates():
    base = C.load(XOR, ["train.epochs=300", "train.snapshots=0"]).model_dump(mode="json")
    points = [{"seed": s, "optimizer.lr": lr} for s in range(5) for lr in (0.25, 1.0, 4.0)]
    assert_stack_equals_alone(configs(base, points))


def test_an_interrupted_stack_continues_exactly():
    cfgs = configs(C.apply_overrides(MOONS, {"train.input_noise": 0.1, "optimizer.name": "adam"}),
                   [{"seed": s, "optimizer.lr": lr} for s in range(3) for lr in (0.01, 0.1)])
    whole = [prepare(c) for c in cfgs]
    StackTrainer(whole).fit()
    for stop_after in (1, 7, 9, 30):  # inside the first epoch, inside a later one, at an epoch's end
        calls = iter(range(10_000))
        first = [prepare(c) for c in cfgs]
        results = StackTrainer(first).fit(lambda: next(calls) >= stop_after)
        assert {r.status for r in results} == {"interrupted"}
        assert len({(r.state.epoch, r.state.batch) for r in results}) == 1
        StackTrainer(first, [r.state for r in results]).fit()
        for a, b in zip(first, whole):
            assert all(np.array_equal(x, y) for x, y in zip(a.net.parameters(), b.net.parameters()))


def test_column_sums_equal_numpys_sum_of_each_member():
    rng = np.random.default_rng(0)
    for rows in (1, 2, 4, 9, 16, 17, 40):
        for cols in (1, 2, 5):
            D = rng.normal(size=(6, rows, cols)) * 10.0 ** rng.integers(-10, 10, size=(6, rows, cols))
            D[rng.random(D.shape) < 0.2] = -0.0
            out = np.empty((6, 1, cols))
            column_sums(D, out)
            for k in range(6):
                alone = np.sum(D[k], axis=0)
                assert np.array_equal(out[k, 0], alone) and np.array_equal(np.signbit(out[k, 0]), np.signbit(alone))


def test_a_stacked_backprop_is_each_members_backprop():
    rng = np.random.default_rng(1)
    sizes, acts = [3, 4, 2], ["tanh", "softmax"]
    nets = [Network.from_arrays([(rng.normal(size=(a, b)), rng.normal(size=b)) for a, b in zip(sizes, sizes[1:])],
                                acts) for _ in range(5)]
    stack = Network([Dense(np.stack([n.layers[l].W for n in nets]), np.stack([n.layers[l].b for n in nets])[:, None],
                           nets[0].layers[l].activation) for l in range(2)])
    X = rng.normal(size=(5, 7, 3))
    T = np.eye(2)[rng.integers(0, 2, (5, 7))]
    decay = np.array([0.0, 0.1, 0.2, 0.0, 1.0]).reshape(-1, 1, 1)
    loss = LOSSES.get("categorical_crossentropy")()
    values, grads, Y = stack.backprop(X, T, loss, decay)
    for k, net in enumerate(nets):
        v, g, y = net.backprop(X[k], T[k], loss, float(decay[k, 0, 0]))
        assert values[k] == v and np.array_equal(Y[k], y)
        for mine, theirs in zip(grads, g):
            assert np.array_equal(mine[k].reshape(theirs.shape), theirs)


def test_members_with_and_without_momentum_keep_their_own_optimizer_state():
    """SGD without momentum keeps no velocity: in a stack beside members with momentum it hands none
    back, and a stack continued from such members' own states (one with velocity, one without) goes on
    exactly, in either order."""
    for order in ((0.0, 0.9), (0.9, 0.0)):
        cfgs = configs(MOONS, [{"seed": 1, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": mu}} for mu in order])
        results = assert_stack_equals_alone(cfgs)
        del results
        alone, stopped = [], []
        for c in cfgs:  # each interrupted alone after 7 batches, then continued as one stack
            p = prepare(c)
            calls = iter(range(10_000))
            stopped.append(p.trainer.fit(p.data, should_stop=lambda: next(calls) >= 7).state)
            alone.append(p)
        StackTrainer(alone, stopped).fit()
        for c, p in zip(cfgs, alone):
            ref = prepare(c)
            ref.trainer.fit(ref.data)
            assert set(p.trainer.optimizer.slots) == set(ref.trainer.optimizer.slots)
            assert all(np.array_equal(x, y) for x, y in zip(p.net.parameters(), ref.net.parameters()))


@pytest.mark.parametrize("dtype, lr", [("float32", 1e30), ("float64", 1e160)])
def test_a_member_without_weight_decay_is_not_hurt_by_the_others(dtype, lr):
    """Weights so large that their squares overflow: a member without decay has no decay term at all (not
    0 times infinity), as alone."""
    base = C.apply_overrides(MOONS, {"dtype": dtype, "train.epochs": 4})
    assert_stack_equals_alone(configs(base, [{"seed": 0, "optimizer.lr": lr, "weight_decay": wd}
                                             for wd in (0.0, 1e-4)]))


def test_members_whose_data_differ_in_size_train_in_stacks_of_their_own(tmp_path):
    """A seeded subset (data.limit) changes the class counts and so the stratified validation split's
    sizes: members of other sizes train as separate stacks, each run as it would alone."""
    from nncli.data.idx import write_idx
    from nncli.stack_runner import execute_stack
    from nncli.tasks import Stack, Task

    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (400, 4, 3), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 400).astype(np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (50, 4, 3), dtype=np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", (np.arange(50) % 10).astype(np.uint8))
    base = {"dtype": "float64", "data": {"name": "mnist", "path": str(tmp_path), "limit": 150},
            "model": {"layers": [{"units": 6, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
            "loss": "categorical_crossentropy", "optimizer": {"name": "adam", "lr": 0.01},
            "train": {"epochs": 3, "batch_size": 16, "validation_split": 0.3}}
    cfgs = configs(base, [{"seed": s} for s in range(4)])
    sizes = {len(prepare(c).data.train) for c in cfgs}
    assert len(sizes) > 1  # the premise: the seeds give training sets of other sizes
    tasks = [Task(i, f"r{i}", c.model_dump(mode="json"), ["nncli"]) for i, c in enumerate(cfgs)]
    outcomes = execute_stack(Stack(tasks))
    assert [o.status for o in outcomes] == ["completed"] * 4
    for c, o in zip(cfgs, outcomes):
        alone = prepare(c)
        alone.trainer.fit(alone.data)
        weights = np.load(__import__("io").BytesIO(o.files["weights.npz"]))
        assert all(np.array_equal(weights[k], v) for k, v in alone.net.state().items())
