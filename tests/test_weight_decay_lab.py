"""The weight-decay lab (docs/weight-decay.md): the `linear` dataset, the closed-form ridge solution and its
eigen-shrinkage, input noise as weight decay tau = sigma^2, and the walkthrough's commands."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from nncli import config, runner, shrinkage
from nncli.config import Spec
from nncli.data import datasets
from nncli.data.linear import eigenvalues

from conftest import ROOT

WEIGHT_DECAY = ROOT / "configs" / "weight-decay.yaml"
INPUT_NOISE = ROOT / "configs" / "input-noise.yaml"
DOC = ROOT / "docs" / "weight-decay.md"


def prepared(path=WEIGHT_DECAY, *overrides: str, seed: int | None = None) -> runner.Prepared:
    return runner.prepare(config.load(path, list(overrides), seed=seed))


def linear_data(seed: int = 0, **options) -> datasets.Dataset:
    return datasets.load(Spec(name="linear", **options), np.random.default_rng(seed), np.float64)


# -- the linear dataset -----------------------------------------------------------------------------
@pytest.mark.parametrize("d, condition", [(8, 1000.0), (5, 1e4), (3, 1.0), (1, 50.0)])
def test_linear_dataset_has_the_asked_condition_number(d, condition):
    ds = linear_data(n_samples=200, n_features=d, condition=condition, outputs=2)
    X = ds.X
    assert X.shape == (200, d) and ds.y.shape == (200, 2) and ds.task == "regression"
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    lam = np.sort(np.linalg.eigvalsh(X.T @ X / len(X)))[::-1]
    np.testing.assert_allclose(lam, eigenvalues(d, condition), rtol=1e-9)
    expected = condition if d > 1 else 1.0
    assert lam[0] / lam[-1] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(lam[0], 1.0, rtol=1e-9)
    if d > 2:  # evenly spread in log between 1 and 1/condition
        np.testing.assert_allclose(np.diff(np.log(lam)), -np.log(condition) / (d - 1), rtol=1e-6, atol=1e-12)


def test_linear_dataset_targets_noise_and_seed():
    ds = linear_data(n_samples=4000, n_features=4, noise=0.3)
    W_true = np.array(ds.extra["true_weights"])
    resid = ds.y - ds.X @ W_true
    # the sample sd of 4000 draws has standard error sd / sqrt(2N) ~ 1.1%: 5 SE is 5.6%
    assert resid.std() == pytest.approx(0.3, rel=5 / np.sqrt(2 * 4000))
    again = linear_data(n_samples=4000, n_features=4, noise=0.3)
    np.testing.assert_array_equal(ds.X, again.X)
    np.testing.assert_array_equal(ds.y, again.y)
    other = linear_data(seed=1, n_samples=4000, n_features=4, noise=0.3)
    assert not np.allclose(ds.X, other.X)
    exact = linear_data(n_samples=50, n_features=4, noise=0.0)
    np.testing.assert_allclose(exact.y, exact.X @ np.array(exact.extra["true_weights"]), atol=1e-12)


def test_linear_dataset_needs_more_samples_than_features(run_cli, runs_dir):
    r = run_cli("train", WEIGHT_DECAY, "data.n_samples=8", "--runs-dir", runs_dir)
    assert r.exit_code == 2
    assert "n_samples (8) must exceed n_features (8)" in r.stderr
    assert "Traceback" not in r.stderr
    assert list(runs_dir.iterdir()) == []
    r = run_cli("train", WEIGHT_DECAY, "data.condition=0.5", "--runs-dir", runs_dir)
    assert r.exit_code == 2 and "data.condition" in r.stderr


# -- the closed form ----------------------------------------------------------------------------------
def test_ridge_closed_form_matches_the_normal_equations_with_an_undecayed_bias():
    """Centring is exact: solve [X 1] with penalty diag(tau, ..., tau, 0) directly and compare."""
    rng = np.random.default_rng(3)
    X = rng.normal(2.0, 1.5, (60, 4)) * [1, 0.1, 3, 0.5]  # far from centred
    T = rng.normal(size=(60, 2)) + 5
    tau = 0.07
    A = np.hstack([X, np.ones((60, 1))])
    penalty = np.diag([tau] * 4 + [0.0])
    theta = np.linalg.solve(A.T @ A / 60 + penalty, A.T @ T / 60)
    W, b = shrinkage.ridge(X, T, tau)
    np.testing.assert_allclose(W, theta[:4], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b, theta[4], rtol=1e-10, atol=1e-12)
    # ... and the eigen-shrinkage identity: components of W_tau are lambda/(lambda + tau) of w_star's
    r = shrinkage.analyse(X, T, W, b, weight_decay=tau)
    np.testing.assert_allclose(r.measured_ratio, np.repeat(r.predicted_ratio[:, None], 2, axis=1), rtol=1e-9)
    assert r.gradient_norm < 1e-12 and r.distance_to_ridge < 1e-12
    assert r.tau == tau
    np.testing.assert_allclose(np.diag(r.eigenvectors.T @ (np.cov(X.T, bias=True)) @ r.eigenvectors),
                               r.eigenvalues, rtol=1e-10)


def test_tau_adds_weight_decay_and_the_input_noise_variance():
    X = np.random.default_rng(0).normal(size=(20, 3))
    T = X @ np.ones((3, 1))
    r = shrinkage.analyse(X, T, np.zeros((3, 1)), np.zeros(1), weight_decay=0.02, input_noise=0.3)
    assert r.tau == pytest.approx(0.02 + 0.09)
    np.testing.assert_allclose(r.predicted_ratio, r.eigenvalues / (r.eigenvalues + 0.11))


def test_not_a_linear_mse_run_gives_none():
    cfg = config.load(ROOT / "configs" / "xor.yaml")
    assert shrinkage.applies(cfg) is not None
    assert shrinkage.for_run(cfg, runner.prepare(cfg).net) is None
    cfg = config.load(WEIGHT_DECAY, ["model.layers.0.activation=tanh"])
    assert "tanh" in shrinkage.applies(cfg)
    cfg = config.load(WEIGHT_DECAY, ["model.layers=[{units: 3, activation: tanh}, {units: 1, activation: linear}]"])
    assert "2 layers" in shrinkage.applies(cfg)
    assert shrinkage.applies(config.load(WEIGHT_DECAY)) is None


# -- weight decay: full-batch gradient descent reaches the ridge solution --------------------------------
@pytest.mark.parametrize("tau", [0.003, 0.03, 0.3])
def test_gradient_descent_with_weight_decay_converges_to_the_ridge_solution(tau):
    # condition 100: the slowest direction contracts by 1 - (0.01 + tau)/(1 + tau) per epoch with
    # lr = 1/(lambda_max + tau); 2500 epochs bring its error below 1e-9 for every tau here
    p = prepared(WEIGHT_DECAY, f"weight_decay={tau}", "data.condition=100", "data.n_features=6",
                 "data.n_samples=200", f"optimizer.lr={1 / (1 + tau)}", "train.epochs=2500")
    result = p.trainer.fit(p.data)
    assert result.status == "completed"
    X, T = p.data.train.X, p.data.train.T
    layer = p.net.layers[0]
    W_tau, b_tau = shrinkage.ridge(X, T, tau)
    assert np.abs(layer.W - W_tau).max() < 1e-6
    assert np.abs(layer.b - b_tau).max() < 1e-6
    r = shrinkage.analyse(X, T, layer.W, layer.b, weight_decay=tau)
    assert r.max_abs_to_ridge < 1e-6 and r.gradient_norm < 1e-8
    # per eigen-direction: trained component / w_star component = lambda_i / (lambda_i + tau)
    big = np.abs(r.star_components[:, 0]) > 1e-3
    assert big.sum() >= 5
    np.testing.assert_allclose(r.measured_ratio[big, 0], r.predicted_ratio[big], rtol=1e-6)
    assert r.predicted_ratio.min() < 0.8  # the shrinkage is visible, not all ratios ~1
    wrong = r.eigenvalues / (r.eigenvalues + 2 * tau)
    assert np.abs(r.measured_ratio[big, 0] - wrong[big]).max() > 1e-2


# -- input noise: in expectation the gradient gains sigma^2 W ----------------------------------------
class Recorder:
    """An optimizer that records the gradients it is given and never moves the weights."""

    def __init__(self):
        self.grads: list[list[np.ndarray]] = []

    def step(self, params, grads, lr):
        self.grads.append([g.copy() for g in grads])


@pytest.mark.parametrize("batch_size", ["full", 25])
def test_input_noise_adds_sigma_squared_w_to_the_expected_gradient(batch_size):
    sigma, draws = 0.5, 3000
    p = prepared(WEIGHT_DECAY, "weight_decay=0", f"train.input_noise={sigma}", "data.n_samples=50",
                 "data.n_features=4", "data.condition=10", f"train.epochs={draws}", f"train.batch_size={batch_size}",
                 "train.shuffle=false")
    W = p.net.layers[0].W
    W[...] = np.random.default_rng(7).normal(size=W.shape)  # a fixed w away from every minimum
    X0, T0 = p.data.train.X.copy(), p.data.train.T.copy()
    rec = Recorder()
    p.trainer.optimizer = rec
    p.trainer.fit(p.data)
    # the noise is added to a copy of the batch: the stored data is untouched
    np.testing.assert_array_equal(p.data.train.X, X0)
    np.testing.assert_array_equal(p.data.train.T, T0)
    X, T = X0[:25], T0[:25]  # with batch_size 25 and no shuffling, every first batch is rows 0..24
    if batch_size == "full":
        X, T = X0, T0
    else:
        rec.grads = rec.grads[0::2]
    G_W = np.array([g[0] for g in rec.grads]).reshape(len(rec.grads), -1)
    G_b = np.array([g[1] for g in rec.grads]).reshape(len(rec.grads), -1)
    _, (clean_W, clean_b) = p.net.loss_and_gradients(X, T, p.loss)
    expected_W = (clean_W + sigma ** 2 * W).ravel()
    # standard error of the mean of the draws; every component within 5 SE
    se_W = G_W.std(axis=0, ddof=1) / np.sqrt(len(G_W))
    se_b = G_b.std(axis=0, ddof=1) / np.sqrt(len(G_b))
    assert (se_W > 0).all()  # fresh noise for every batch
    assert (np.abs(G_W.mean(axis=0) - expected_W) < 5 * se_W).all()
    assert (np.abs(G_b.mean(axis=0) - clean_b.ravel()) < 5 * se_b).all()
    # the test can fail: the sigma^2 W term is many standard errors away from 0
    assert (np.abs(sigma ** 2 * W.ravel()) > 20 * se_W).any()


def test_input_noise_is_reproducible_from_the_seed():
    a, b = (prepared(INPUT_NOISE, "train.epochs=20") for _ in range(2))
    for p in (a, b):
        p.trainer.fit(p.data)
    np.testing.assert_array_equal(a.net.layers[0].W, b.net.layers[0].W)
    # a different seed changes the data too; the same data with a slightly different sigma changes the draws
    d = prepared(INPUT_NOISE, "train.epochs=20", "train.input_noise=0.1000001")
    d.trainer.fit(d.data)
    assert not np.array_equal(a.net.layers[0].W, d.net.layers[0].W)


def test_noisy_training_ends_near_the_ridge_solution_with_tau_sigma_squared():
    """configs/input-noise.yaml: sigma = 0.1, no weight decay. Over seeds 0..19 the final weights were at
    relative distance 0.0015..0.0044 (mean 0.0030) from W_tau with tau = sigma^2 = 0.01, and 0.23 / 0.26
    from tau = sigma^2/2 and 2 sigma^2: the test allows 0.01."""
    p = prepared(INPUT_NOISE)
    p.trainer.fit(p.data)
    X, T = p.data.train.X, p.data.train.T
    layer = p.net.layers[0]
    sigma = p.cfg.train.input_noise
    r = shrinkage.analyse(X, T, layer.W, layer.b, input_noise=sigma)
    assert r.tau == pytest.approx(0.01)
    assert r.distance_to_ridge < 0.01
    assert r.distance_to_star > 0.5
    for tau in (sigma ** 2 / 2, 2 * sigma ** 2):
        W_other, _ = shrinkage.ridge(X, T, tau)
        assert np.linalg.norm(layer.W - W_other) / np.linalg.norm(W_other) > 0.1
    # the per-direction ratios follow lambda/(lambda + sigma^2) within 0.02 where w_star is not small
    big = np.abs(r.star_components[:, 0]) > 0.2
    assert np.abs(r.measured_ratio[big, 0] - r.predicted_ratio[big]).max() < 0.02


# -- the walkthrough ----------------------------------------------------------------------------------
def doc_blocks() -> list[tuple[str, str]]:
    """(command, output) pairs of docs/weight-decay.md: a ```bash block whose one command is followed by a
    ```text block of what it printed."""
    text = DOC.read_text(encoding="utf-8")
    return re.findall(r"```bash\n([^\n]+)\n```\n+```text\n(.*?)```", text, flags=re.S)


def walkthrough(run_cli, runs_dir, command: str):
    """Run `nncli inspect "$(nncli train CONFIG [KEY=VALUE ...] --quiet)" --section shrinkage [--json]`
    with CliRunner; returns the inspect result and the run directory."""
    m = re.fullmatch(r'nncli inspect "\$\(nncli train (\S+)((?: [\w.]+=\S+)*) --quiet\)" --section shrinkage'
                     r'( --json)?', command)
    assert m, command
    train = run_cli("train", ROOT / m.group(1), *m.group(2).split(), "--quiet", "--runs-dir", runs_dir)
    assert train.exit_code == 0, train.stderr
    run_dir = train.stdout.strip()
    return run_cli("inspect", run_dir, "--section", "shrinkage", *(["--json"] if m.group(3) else [])), run_dir


def table_rows(output: str) -> list[str]:
    return [line.rstrip() for line in output.splitlines() if re.match(r"\s*\d+\s+\S+\s+[+-]", line)
            or line.startswith("tau =")]


def test_the_walkthrough_commands_print_what_the_doc_shows(run_cli, runs_dir):
    blocks = doc_blocks()
    shown = [(c, o) for c, o in blocks if c.startswith("nncli inspect") and "--json" not in c]
    assert {c.split()[4] for c, _ in shown} >= {"configs/weight-decay.yaml", "configs/input-noise.yaml"}
    for command, expected in shown:
        r, _ = walkthrough(run_cli, runs_dir, command)
        assert r.exit_code == 0, r.stderr
        rows = table_rows(r.stdout)
        assert len(rows) == 9  # tau line + 8 directions
        assert rows == table_rows(expected), command


def test_the_walkthrough_numbers(run_cli, runs_dir):
    for path, tau_line, tol in ((WEIGHT_DECAY, "tau = weight_decay = 0.01", 1e-8),
                                (INPUT_NOISE, "tau = input_noise^2 = 0.1^2 = 0.01", 0.01)):
        r, run_dir = walkthrough(run_cli, runs_dir, f'nncli inspect "$(nncli train {path.relative_to(ROOT)} --quiet)" '
                                           f'--section shrinkage --json')
        assert r.exit_code == 0, r.stderr
        s = json.loads(r.stdout)["shrinkage"]
        assert s["tau"] == pytest.approx(0.01) and s["condition"] == pytest.approx(1000, rel=1e-9)
        assert s["distance_to_ridge"] < tol and s["distance_to_star"] > 0.5
        text = run_cli("inspect", run_dir, "--section", "shrinkage")
        assert tau_line in text.stdout


def test_inspect_leaves_out_the_section_for_other_runs(run_cli, runs_dir):
    r = run_cli("train", ROOT / "configs" / "xor.yaml", "--quiet", "--runs-dir", runs_dir, "train.epochs=2")
    assert r.exit_code == 0
    out = run_cli("inspect", r.stdout.strip(), "--json")
    assert out.exit_code == 0 and "shrinkage" not in json.loads(out.stdout)
