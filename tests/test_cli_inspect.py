"""`nncli inspect`: renders every example config's run at 100 columns with its key content, shows the
truth tables of a hand-set XOR network, writes PNGs, prints JSON, and rejects bad run directories with
exit 2 and one message."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.readers import read_yaml_mapping
from nncli import config as config_mod
from nncli import runner
from nncli.cli import app
from nncli.errors import NncliError

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
WIDTH = 100


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def small_overrides(config: Path) -> list[str] | None:
    """Overrides that make a config's run take a fraction of a second, or None when its data is not
    available here (for example MNIST not downloaded)."""
    overrides = ["train.epochs=3"]
    raw = read_yaml_mapping(config)
    for extra in (["data.limit=300"], ["data.n_samples=120"], []):
        try:
            cfg = config_mod.load(config, overrides + extra)
        except NncliError:
            continue
        try:
            runner.prepare(cfg)
        except NncliError:
            return None
        return overrides + extra
    raise AssertionError(f"{config}: no override set loads; raw config {raw}")


def train(config: Path, out: Path, *overrides: str) -> Path:
    r = cli("train", config, *overrides, "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory) -> Path:
    return train(ROOT / "configs" / "xor.yaml", tmp_path_factory.mktemp("xor") / "run")


def check_width(text: str) -> None:
    long = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not long, f"{len(long)} lines wider than {WIDTH}: {long[0]!r}"


def test_inspect_xor_shows_every_section(xor_run):
    r = cli("inspect", xor_run)
    assert r.exit_code == 0, r.output
    out = r.stdout
    check_width(out)
    for key in ("status", "completed", "2 -> [2 tanh] -> [1 sigmoid]", "(9 parameters)", "binary_crossentropy",
                "sgd", "lr 0.25", "epochs", "2000 of 2000", "final", "loss curve", "epoch", "⣀",
                "weights and biases", "W1 (2x2, tanh)", "‖W‖", "bias", "how the network computes XOR",
                "h1 ~", "h2 ~", "output ~", "decision maps", "hidden layer 1", "h1 (tanh)", "scale"):
        assert key in out, key
    summary = json.loads((xor_run / "summary.json").read_text())
    assert f"loss {summary['final']['loss']:.4f}" in out


def test_inspect_json_has_the_numbers(xor_run):
    r = cli("inspect", xor_run, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert list(data) == ["overview", "curves", "weights", "truth_tables", "decision_maps", "evolution"]
    assert data["overview"]["architecture"] == "2 -> [2 tanh] -> [1 sigmoid]"
    assert data["overview"]["parameters"] == 9
    W1 = np.load(xor_run / "weights.npz")["W1"]
    np.testing.assert_allclose(data["weights"]["layers"][0]["W_values"], W1)
    assert data["weights"]["layers"][0]["W"]["norm"] == pytest.approx(np.linalg.norm(W1))
    assert data["curves"]["epochs"] == 2000
    tt = data["truth_tables"]
    # a trained XOR network gets the four points right: the output's truth table is XOR
    assert tt["layers"][-1]["units"][0]["function"] == "XOR"
    assert len(data["decision_maps"]["outputs"]) == len(data["decision_maps"]["ys"])


def test_inspect_explains_a_hand_set_xor_network(xor_run, tmp_path):
    run = tmp_path / "hand"
    import shutil

    shutil.copytree(xor_run, run)
    np.savez(run / "weights.npz", W1=np.array([[10.0, 10.0], [10.0, 10.0]]), b1=np.array([10.0, -10.0]),
             W2=np.array([[10.0], [-10.0]]), b2=np.array([-10.0]))
    r = cli("inspect", run, "--section", "truth_tables")
    assert r.exit_code == 0, r.output
    assert "h1 ~ OR, h2 ~ AND, output ~ h1 AND NOT h2" in r.stdout
    assert "+1.000 → 1" in r.stdout and "-1.000 → 0" in r.stdout
    data = json.loads(cli("inspect", run, "--json", "--section", "truth_tables").stdout)
    assert data["truth_tables"]["summary"] == "h1 ~ OR, h2 ~ AND, output ~ h1 AND NOT h2"


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_inspect_renders_every_example_config(config, tmp_path):
    overrides = small_overrides(config)
    if overrides is None:
        pytest.skip(f"the data of {config.name} is not available here")
    run = train(config, tmp_path / "run", *overrides)
    r = cli("inspect", run, "--width", WIDTH)
    assert r.exit_code == 0, r.output
    check_width(r.stdout)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["architecture"] in r.stdout
    assert "loss curve" in r.stdout and "weights and biases" in r.stdout
    assert f"3 of 3" in r.stdout
    cfg = config_mod.load(run / "config.yaml")
    if cfg.model.input == 2:
        assert "decision maps" in r.stdout and "training points: o class 0" in r.stdout
    if cfg.model.input == 784:
        assert "strongest units" in r.stdout and "unit " in r.stdout and "‖w‖" in r.stdout
    data = json.loads(cli("inspect", run, "--json").stdout)
    assert data["overview"]["parameters"] == summary["parameters"]


def test_inspect_writes_pngs(xor_run, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "pics"
    r = cli("inspect", xor_run, "--png", out)
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["accuracy.png", "decision.png", "evolution.gif", "evolution.png", "loss.png", "weights.png"]
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000
    assert f"wrote {out / 'loss.png'}" in r.stderr


def test_png_without_matplotlib_tells_how_to_install(xor_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    r = cli("inspect", xor_run, "--png", tmp_path / "pics")
    assert r.exit_code == 2
    assert 'pip install -e ".[plot]"' in r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "pics").exists()


def test_unknown_section_is_a_usage_error(xor_run):
    r = cli("inspect", xor_run, "--section", "eigen")
    assert r.exit_code == 2
    assert "no section 'eigen'" in r.stderr and "truth_tables" in r.stderr


def test_a_killed_run_without_summary_or_weights(xor_run, tmp_path):
    import shutil

    run = tmp_path / "killed"
    shutil.copytree(xor_run, run)
    (run / "summary.json").unlink()
    (run / "weights.npz").unlink()
    r = cli("inspect", run)
    assert r.exit_code == 0, r.output
    assert "incomplete (no summary.json" in r.stdout
    assert "weights.npz was not written" in r.stdout
    assert "loss curve" in r.stdout and "decision maps" not in r.stdout


def test_a_diverged_run_is_shown(tmp_path):
    run = tmp_path / "div"
    r = cli("train", ROOT / "configs" / "xor.yaml", "loss=mse", "model.layers.1.activation=linear",
            "optimizer.lr=1e6", "train.epochs=50", "--out", run, "--quiet")
    assert r.exit_code == 1, r.output
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged"
    r = cli("inspect", run)
    assert r.exit_code == 0, r.output
    assert "diverged" in r.stdout and "training diverged at epoch" in r.stdout
    data = json.loads(cli("inspect", run, "--json").stdout)
    assert data["overview"]["status"] == "diverged"


# -- bad run directories: exit 2, one clear message, no traceback -------------------------------------
def damage(run: Path, kind: str) -> Path:
    if kind == "truncated weights":
        data = (run / "weights.npz").read_bytes()
        (run / "weights.npz").write_bytes(data[: len(data) // 2])
    elif kind == "corrupted weights":
        data = bytearray((run / "weights.npz").read_bytes())
        data[120:160] = b"\x00" * 40  # inside W1's data: the zip CRC no longer matches
        (run / "weights.npz").write_bytes(bytes(data))
    elif kind == "garbage weights":
        (run / "weights.npz").write_bytes(b"not an npz file at all\n" * 10)
    elif kind == "wrong shapes":
        np.savez(run / "weights.npz", W1=np.zeros((3, 2)), b1=np.zeros(2), W2=np.zeros((2, 1)), b2=np.zeros(1))
    elif kind == "metrics not a number":
        lines = (run / "metrics.csv").read_text().splitlines()
        lines[3] = lines[3].replace(lines[3].split(",")[2], "oops", 1)
        (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    elif kind == "metrics short row":
        with open(run / "metrics.csv", "a") as f:
            f.write("2001,2001\n")
    elif kind == "metrics binary":
        (run / "metrics.csv").write_bytes(b"\xff\xfe\x00garbage")
    elif kind == "no config":
        (run / "config.yaml").unlink()
    elif kind == "bad config":
        (run / "config.yaml").write_text("model: [1, 2\n")
    return run


EXPECTED = {
    "truncated weights": "weights.npz: not a readable .npz file (truncated or corrupted?)",
    "corrupted weights": "weights.npz: not a readable .npz file (truncated or corrupted?): Bad CRC-32",
    "garbage weights": "not a readable .npz file (truncated or corrupted?): it is not a zip archive",
    "wrong shapes": "W1 in",
    "metrics not a number": "metrics.csv: line 4, column 'loss': 'oops' is not a number",
    "metrics short row": "metrics.csv: line 2002 has 2 fields, the header has",
    "metrics binary": "metrics.csv: is not UTF-8 text",
    "no config": "not a run directory: it has no config.yaml",
    "bad config": "its config.yaml is not a valid config",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_bad_run_directories_exit_2_with_one_message(xor_run, tmp_path, kind):
    import shutil

    run = tmp_path / "bad"
    shutil.copytree(xor_run, run)
    damage(run, kind)
    for command in ("inspect", "compare"):
        r = cli(command, run)
        assert r.exit_code == 2, (command, r.output)
        assert r.stdout == ""
        err = r.stderr.strip()
        assert err.startswith("error:") and "Traceback" not in err
        assert EXPECTED[kind] in " ".join(err.split()), err
        assert str(run) in err


def test_missing_and_non_run_paths(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for path, message in ((tmp_path / "nope", "no such directory"), (tmp_path / "file.txt", "is a file"),
                          (tmp_path, "not a run directory")):
        r = cli("inspect", path)
        assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output


def test_a_run_killed_after_a_checkpoint(xor_run, tmp_path):
    """A run killed after a checkpoint has summary.json with status "running" and no evaluation."""
    import shutil

    run = tmp_path / "running"
    shutil.copytree(xor_run, run)
    summary = json.loads((run / "summary.json").read_text())
    summary.update(status="running", epochs=1200, evaluation={})
    (run / "summary.json").write_text(json.dumps(summary))
    r = cli("inspect", run)
    assert r.exit_code == 0, r.output
    assert "running, or killed: the files are from the last checkpoint, epoch 1200" in r.stdout
    assert "h1 ~" in r.stdout
    rows = json.loads(cli("compare", run, xor_run, "--json").stdout)
    assert [r["status"] for r in rows] == ["running", "completed"]


def test_every_section_name_selects_that_section(run_cli, xor_run):
    """--section NAME shows exactly the section of that name, for every section the help lists."""
    from nncli.inspection import SECTIONS

    for name in SECTIONS.in_order():
        r = run_cli("inspect", xor_run, "--section", name, "--json")
        assert r.exit_code == 0, r.output
        data = json.loads(r.stdout)
        assert list(data) in ([name], []), (name, list(data))
        if name in ("overview", "curves", "weights", "truth_tables", "decision_maps"):
            assert list(data) == [name]


def test_a_new_section_without_a_view_is_drawn_as_its_numbers(run_cli, tmp_path):
    """A section is one function in nncli/inspection.py: without a view of its own, `inspect` shows its
    numbers as keys and values, and every other section is still drawn."""
    from nncli.inspection import SECTIONS, Section

    @SECTIONS.register("parameter_count")
    def parameter_count(ins):
        return Section("parameter_count", "parameters", {"total": ins.net.parameter_count(),
                                                         "per layer": {"W1": ins.net.layers[0].W.size}})

    try:
        run = tmp_path / "run"
        assert run_cli("train", ROOT / "configs" / "xor.yaml", "train.epochs=5", "--out", run, "-q").exit_code == 0
        r = run_cli("inspect", run)
        assert r.exit_code == 0, r.output
        assert "total" in r.stdout and "9" in r.stdout and "per layer.W1" in r.stdout and "weights" in r.stdout
    finally:
        SECTIONS.unregister("parameter_count")
