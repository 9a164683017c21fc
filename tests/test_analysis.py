"""nncli.analysis: truth tables of hand-set XOR networks, decision grids, weight statistics, strongest units,
and the differing-keys / sorting logic of `nncli compare`."""

from __future__ import annotations

import numpy as np
import pytest

from nncli import analysis as A
from nncli import comparison as C
from nncli.errors import ConfigError
from nncli.nn.network import Network


def xor_net(hidden: str = "tanh") -> Network:
    """h1 = OR, h2 = AND (inputs in {-1, 1}), output = h1 AND NOT h2 = XOR; large weights, so saturated."""
    W1 = np.array([[10.0, 10.0], [10.0, 10.0]])
    b1 = np.array([10.0, -10.0])
    W2 = np.array([[10.0], [-10.0]])
    b2 = np.array([-10.0])
    return Network.from_arrays([(W1, b1), (W2, b2)], [hidden, "sigmoid"])


def test_the_sixteen_boolean_functions_have_distinct_names():
    tables = [tuple(int(c) for c in f"{i:04b}") for i in range(16)]
    names = [A.boolean_name(t) for t in tables]
    assert len(set(names)) == 16
    assert A.boolean_name((0, 0, 0, 1), short=True) == "AND"
    assert A.boolean_name((0, 1, 1, 1), short=True) == "OR"
    assert A.boolean_name((0, 1, 1, 0), short=True) == "XOR"
    assert A.boolean_name((1, 0, 0, 1), short=True) == "XNOR"
    assert A.boolean_name((1, 1, 1, 0), short=True) == "NAND"
    assert A.boolean_name((1, 0, 0, 0), short=True) == "NOR"
    assert A.boolean_name((0, 0, 1, 1), short=True) == "A"
    assert A.boolean_name((1, 1, 0, 0)) == "NOT A"
    assert A.boolean_name((0, 0, 1, 0), "h1", "h2") == "h1 AND NOT h2"
    assert A.boolean_name((0, 1, 0, 0)) == "NOT A AND B"
    with pytest.raises(ValueError):
        A.boolean_name((0, 1, 1))


def test_truth_tables_of_a_hand_set_xor_network():
    tt = A.truth_tables(xor_net())
    assert tt["inputs"] == [[-1, -1], [-1, 1], [1, -1], [1, 1]]
    h1, h2 = tt["layers"][0]["units"]
    out = tt["layers"][1]["units"][0]
    assert (h1["name"], h1["bits"], h1["function"]) == ("h1", [0, 1, 1, 1], "OR")
    assert (h2["name"], h2["bits"], h2["function"]) == ("h2", [0, 0, 0, 1], "AND")
    assert (out["name"], out["bits"], out["function"]) == ("output", [0, 1, 1, 0], "XOR")
    # pre-activations are exact: z1 = 10 (x1 + x2) + 10
    assert h1["pre_activation"] == [-10.0, 10.0, 10.0, 30.0]
    assert h1["margin"] == 10.0
    np.testing.assert_allclose(h2["activation"], np.tanh([-30.0, -10.0, -10.0, 10.0]))
    comp = tt["in_terms_of_previous"][0]
    assert comp["of"] == ["h1", "h2"]
    assert comp["units"][0]["function"] == "h1 AND NOT h2"
    assert comp["observed"] == [True, False, True, True]  # h1 = 0 with h2 = 1 never happens
    assert tt["summary"] == "h1 ~ OR, h2 ~ AND, output ~ h1 AND NOT h2"


def test_truth_tables_of_another_decomposition_with_sigmoid_units_and_0_1_inputs():
    """h1 = A AND NOT B, h2 = NOT A AND B, output = h1 OR h2, on inputs {0, 1}."""
    W1 = np.array([[20.0, -20.0], [-20.0, 20.0]])
    b1 = np.array([-10.0, -10.0])
    W2 = np.array([[20.0], [20.0]])
    b2 = np.array([-10.0])
    net = Network.from_arrays([(W1, b1), (W2, b2)], ["sigmoid", "sigmoid"])
    tt = A.truth_tables(net, low=0.0, high=1.0)
    assert [u["function"] for u in tt["layers"][0]["units"]] == ["A AND NOT B", "NOT A AND B"]
    assert tt["layers"][1]["units"][0]["function"] == "XOR"
    assert tt["summary"] == "h1 ~ A AND NOT B, h2 ~ NOT A AND B, output ~ h1 OR h2"


def test_truth_tables_name_units_of_deeper_networks_and_need_two_inputs():
    rng = np.random.default_rng(0)
    net = Network.from_arrays([(rng.normal(size=(2, 3)), np.zeros(3)), (rng.normal(size=(3, 2)), np.zeros(2)),
                               (rng.normal(size=(2, 1)), np.zeros(1))], ["tanh", "relu", "sigmoid"])
    tt = A.truth_tables(net)
    assert [u["name"] for u in tt["layers"][0]["units"]] == ["h1.1", "h1.2", "h1.3"]
    assert [u["name"] for u in tt["layers"][1]["units"]] == ["h2.1", "h2.2"]
    # the output follows a 2-unit layer, so it is also named in terms of h2.1, h2.2
    assert tt["in_terms_of_previous"][-1]["of"] == ["h2.1", "h2.2"]
    for layer in tt["layers"]:
        for u in layer["units"]:
            assert u["function"] == A.boolean_name(u["bits"], short=True)
    with pytest.raises(ValueError, match="2 inputs"):
        A.truth_tables(Network.from_arrays([(np.ones((3, 1)), np.zeros(1))], ["sigmoid"]))


def test_decision_grid_shape_range_and_values_of_a_linear_network():
    # output = 2 x + 3 y + 1 exactly; one hidden linear layer that copies the inputs
    net = Network.from_arrays([(np.eye(2), np.zeros(2)), (np.array([[2.0], [3.0]]), np.array([1.0]))],
                              ["linear", "linear"])
    X = np.array([[0.0, -1.0], [4.0, 1.0]])
    g = A.decision_grid(net, X, nx=9, ny=5, pad=0.25)
    assert g["outputs"].shape == (5, 9, 1)
    assert g["predicted"].shape == g["confidence"].shape == (5, 9)
    assert len(g["hidden"]) == 1 and g["hidden"][0].shape == (5, 9, 2)
    np.testing.assert_allclose(g["xs"], np.linspace(-1.0, 5.0, 9))  # span 4, padded by 1 on each side
    np.testing.assert_allclose(g["ys"], np.linspace(-1.5, 1.5, 5))
    gx, gy = np.meshgrid(g["xs"], g["ys"])
    np.testing.assert_allclose(g["outputs"][:, :, 0], 2 * gx + 3 * gy + 1)
    np.testing.assert_allclose(g["hidden"][0][:, :, 0], gx)  # row i is ys[i], column j is xs[j]
    np.testing.assert_allclose(g["hidden"][0][:, :, 1], gy)


def test_decision_grid_of_the_xor_network_predicts_the_four_quadrants():
    g = A.decision_grid(xor_net(), A.xor_inputs(), nx=11, ny=11, pad=0.0)
    P = g["predicted"]
    # corners: (-1,-1) -> 0, (1,-1) -> 1, (-1,1) -> 1, (1,1) -> 0; rows are y, columns x
    assert (P[0, 0], P[0, -1], P[-1, 0], P[-1, -1]) == (0, 1, 1, 0)
    assert g["confidence"].min() >= 0.5 and g["confidence"][0, 0] > 0.999
    # a softmax output: predicted is the argmax, confidence its probability
    soft = Network.from_arrays([(np.array([[1.0, -1.0], [0.0, 0.0]]), np.zeros(2))], ["softmax"])
    g2 = A.decision_grid(soft, np.array([[-1.0, -1.0], [1.0, 1.0]]), nx=3, ny=2, pad=0.0)
    assert g2["predicted"].tolist() == [[1, 0, 0], [1, 0, 0]]  # x = 0 is a tie: argmax takes unit 0
    np.testing.assert_allclose(g2["confidence"][0], [1 / (1 + np.exp(-2)), 0.5, 1 / (1 + np.exp(-2))])


def test_layer_stats_are_the_norms_and_moments_of_the_weights():
    st = A.layer_stats(xor_net())
    assert st[0]["shape"] == [2, 2] and st[0]["activation"] == "tanh"
    assert st[0]["W"]["norm"] == pytest.approx(20.0)
    assert st[0]["b"]["norm"] == pytest.approx(np.sqrt(200.0))
    assert (st[1]["W"]["mean"], st[1]["W"]["std"], st[1]["W"]["min"], st[1]["W"]["max"]) == (0.0, 10.0, -10.0, 10.0)


def test_strongest_units_are_ordered_by_norm_and_reshaped_to_images():
    W = np.zeros((784, 5))
    for j, scale in enumerate([1.0, 5.0, 0.5, 3.0, 2.0]):
        W[:, j] = scale * np.linspace(-1, 1, 784)
    units = A.strongest_units(W, k=3)
    assert [u["unit"] for u in units] == [2, 4, 5]  # 1-based
    assert units[0]["norm"] == pytest.approx(np.linalg.norm(W[:, 1]))
    np.testing.assert_array_equal(units[0]["image"], W[:, 1].reshape(28, 28))
    assert A.image_side(784) == 28 and A.image_side(64) == 8 and A.image_side(2) is None and A.image_side(50) is None
    with pytest.raises(ValueError):
        A.strongest_units(np.zeros((10, 2)))


def test_flatten_uses_the_dotted_paths_of_overrides():
    cfg = {"optimizer": {"lr": 0.5, "schedule": {"name": "constant"}},
           "model": {"layers": [{"units": 2, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]},
           "tags": [1, 2]}
    assert C.flatten(cfg) == {"optimizer.lr": 0.5, "optimizer.schedule.name": "constant",
                              "model.layers.0.units": 2, "model.layers.0.activation": "tanh",
                              "model.layers.1.units": 1, "model.layers.1.activation": "sigmoid", "tags": [1, 2]}


def test_differing_keys_found_from_the_configs():
    base = {"seed": 0, "optimizer": {"name": "sgd", "lr": 0.25},
            "model": {"layers": [{"units": 2, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]}}
    other = {"seed": 0, "optimizer": {"name": "sgd", "lr": 0.5},
             "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}]}}
    deeper = {"seed": 0, "optimizer": {"name": "sgd", "lr": 0.25},
              "model": {"layers": [{"units": 2, "activation": "tanh"}, {"units": 2, "activation": "tanh"},
                                   {"units": 1, "activation": "sigmoid"}]}}
    assert C.differing_keys([base, base]) == []
    assert C.differing_keys([base, other]) == ["optimizer.lr", "model.layers.0.units"]
    # a third layer: keys present in one config only differ too
    assert C.differing_keys([base, deeper]) == ["model.layers.1.units", "model.layers.1.activation",
                                                "model.layers.2.units", "model.layers.2.activation"]
    # 1 and 1.0 are different YAML values but 0.5 == 0.5 is not a difference
    assert C.differing_keys([{"a": 0.5}, {"a": 0.5}, {"a": 0.5}]) == []


def _run(name, lr, loss, acc=None, status="completed", best=None, seconds=1.0):
    final = {"loss": loss, **({"accuracy": acc} if acc is not None else {}), "lr": lr, "seconds": seconds}
    return {"run": name, "config": {"optimizer": {"lr": lr}, "seed": 0},
            "summary": {"status": status, "final": final, "epochs": 10, "best": best, "wall_seconds": seconds},
            "rows": []}


def test_compare_rows_and_sorting():
    runs = [_run("a", 0.1, 0.30, 0.75), _run("b", 0.5, 0.05, 1.0), _run("c", 1.0, float("nan"), 0.5, "diverged"),
            {"run": "d", "config": {"optimizer": {"lr": 2.0}, "seed": 0}, "summary": {},
             "rows": [{"epoch": 3.0, "step": 3.0, "loss": 0.2, "accuracy": 0.9, "lr": 2.0, "seconds": 0.5}]}]
    table = C.compare_rows(runs)
    assert table["keys"] == ["optimizer.lr"]
    assert table["metrics"] == ["loss", "accuracy"]
    rows = {r["run"]: r for r in table["rows"]}
    assert rows["a"]["config"] == {"optimizer.lr": 0.1}
    assert rows["d"]["status"] == "incomplete" and rows["d"]["epochs"] == 3 and rows["d"]["seconds"] == 0.5
    assert rows["d"]["final"] == {"loss": 0.2, "accuracy": 0.9}
    assert [r["run"] for r in C.sort_rows(table, "final.loss")] == ["b", "d", "a", "c"]  # NaN last
    assert [r["run"] for r in C.sort_rows(table, "loss")] == ["b", "d", "a", "c"]
    assert [r["run"] for r in C.sort_rows(table, "accuracy")] == ["b", "d", "a", "c"]  # higher first
    assert [r["run"] for r in C.sort_rows(table, "optimizer.lr")] == ["a", "b", "c", "d"]
    with pytest.raises(ConfigError, match="cannot sort by 'val_accuracy'.*final.loss"):
        C.sort_rows(table, "val_accuracy")


def test_curves_and_their_stats():
    cols = ["epoch", "step", "loss", "val_loss", "val_accuracy", "lr", "seconds"]
    rows = [{"epoch": 1.0, "step": 1.0, "loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5, "lr": 0.1, "seconds": 0.1},
            {"epoch": 2.0, "step": 2.0, "loss": 0.5, "val_loss": 0.95, "val_accuracy": 0.7, "lr": 0.1, "seconds": 0.2},
            {"epoch": 3.0, "step": 3.0, "loss": 0.4, "val_loss": None, "val_accuracy": 0.6, "lr": 0.1, "seconds": 0.3}]
    c = A.curves(cols, rows)
    assert list(c) == ["loss", "val_loss", "val_accuracy"]
    assert c["val_loss"] == {"epoch": [1.0, 2.0], "value": [0.9, 0.95]}
    s = A.curve_stats(c)
    assert s["loss"]["best_epoch"] == 3.0 and s["loss"]["min"] == 0.4
    assert s["val_loss"]["best_epoch"] == 1.0
    assert s["val_accuracy"]["best_epoch"] == 2.0 and s["val_accuracy"]["max"] == 0.7
