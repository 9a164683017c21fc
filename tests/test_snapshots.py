"""train.snapshots: K log-spaced epochs (0 and the last included) in snapshots.npz, each snapshot the
weights of the network at the end of that epoch; bit for bit the same after interrupts and resumes; the
default for 2-D data; bad values exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nncli
from conftest import XOR
from nncli import config as C
from nncli import resuming, runner, snapshots
from nncli.npyfiles import read_npz

MOONS = """\
seed: 3
dtype: float64
data: {{name: moons, n_samples: 40}}
model:
  layers: [{{units: 6, activation: tanh}}, {{units: 1, activation: sigmoid}}]
loss: binary_crossentropy
optimizer: {{name: adam, lr: 0.01}}
train: {{epochs: 12, batch_size: 8, input_noise: 0.05, validation_split: 0.2, snapshots: 7,
        checkpoint_every: {every}}}
"""


def load(path: Path) -> dict[str, np.ndarray]:
    return read_npz(path)


@pytest.mark.parametrize("k, epochs", [(2, 2), (2, 1000), (5, 5), (20, 2000), (20, 20), (7, 12), (40, 150)])
def test_the_schedule_has_k_log_spaced_epochs_with_the_first_and_last(k, epochs):
    s = snapshots.schedule(k, epochs)
    assert len(s) == k and s[0] == 0 and s[-1] == epochs and all(a < b for a, b in zip(s, s[1:]))
    gaps = np.diff(s)
    assert (np.diff(gaps) >= -1).all()  # gaps grow (log spacing), up to rounding


def test_each_snapshot_is_the_network_at_the_end_of_its_epoch(tmp_path):
    run = nncli.train(XOR, ["train.epochs=60", "train.snapshots=6"], out=tmp_path / "run")
    s = load(tmp_path / "run" / "snapshots.npz")
    assert list(s) == ["epochs", "W1", "b1", "W2", "b2"]
    assert s["epochs"].tolist() == snapshots.schedule(6, 60) == [0, 1, 3, 8, 22, 60]
    assert s["W1"].shape == (6, 2, 2) and s["b2"].shape == (6, 1) and s["W1"].dtype == np.float64
    for i, epoch in enumerate(s["epochs"]):
        if epoch == 0:
            want = runner.prepare(nncli.load_config(XOR)).net.state()  # the initial weights
        else:
            want = nncli.train(XOR, [f"train.epochs={epoch}"], runs_dir=None).network.state()
        for name in ("W1", "b1", "W2", "b2"):
            assert np.array_equal(s[name][i], want[name]), (epoch, name)
    assert np.array_equal(s["W1"][-1], run.network.layers[0].W)
    assert run.snapshots.epochs == s["epochs"].tolist()


@pytest.mark.parametrize("every", [0, 3])
def test_interrupted_and_resumed_runs_end_with_the_same_snapshots(tmp_path, every):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(MOONS.format(every=every))
    ref = tmp_path / "ref"
    p = runner.prepare(C.load(cfg_path))
    runner.execute(p, runner.start(p, "t", out=ref))
    want = load(ref / "snapshots.npz")
    assert want["epochs"].tolist() == snapshots.schedule(7, 12)
    for stops in ([5], [17, 2, 9], [1, 1, 30]):  # batches after which a signal arrives (4 batches an epoch)
        run = tmp_path / f"run{'-'.join(map(str, stops))}"
        p = runner.prepare(C.load(cfg_path))
        runner.execute(p, runner.start(p, "t", out=run), should_stop=after(stops[0], p))
        for k in stops[1:]:
            plan = resuming.open_resume(run)
            runner.execute(plan.prepared, plan.run, should_stop=after(k, plan.prepared), state=plan.state)
        plan = resuming.open_resume(run)
        runner.execute(plan.prepared, plan.run, state=plan.state)
        got = load(run / "snapshots.npz")
        assert list(got) == list(want)
        for name in want:
            assert np.array_equal(got[name], want[name]), (stops, name)


def after(batches: int, p: runner.Prepared):
    """A should_stop that turns true after `batches` optimizer steps of this prepared run."""
    start = p.trainer.optimizer.t
    return lambda: p.trainer.optimizer.t - start >= batches


def test_a_snapshot_file_written_after_the_checkpoint_is_cut_back_on_resume(tmp_path):
    """snapshots.npz can be ahead of checkpoint.npz (killed between the two writes of a checkpoint, or a
    resume with other settings that was killed later): the resumed run drops the snapshots after its
    checkpoint and takes them again, here from other values than the stale ones."""
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(MOONS.format(every=2))
    ref = tmp_path / "ref"
    p = runner.prepare(C.load(cfg_path))
    runner.execute(p, runner.start(p, "t", out=ref))
    run = tmp_path / "run"
    p = runner.prepare(C.load(cfg_path))
    runner.execute(p, runner.start(p, "t", out=run), should_stop=after(4 * 6 + 1, p))  # in epoch 7
    want = load(ref / "snapshots.npz")
    late = want["epochs"] > 6  # the checkpoint is at epoch 6
    stale = {k: v if k == "epochs" else np.where(late.reshape(-1, *[1] * (v.ndim - 1)), v * 2, v)
             for k, v in want.items()}
    np.savez(run / "snapshots.npz", **stale)
    plan = resuming.open_resume(run)
    assert plan.state.epoch == 6
    runner.execute(plan.prepared, plan.run, state=plan.state)
    got = load(run / "snapshots.npz")
    assert all(np.array_equal(got[k], want[k]) for k in want)


def test_early_stopping_keeps_the_restored_best_weights_as_the_last_snapshot(tmp_path):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(MOONS.format(every=0).replace("snapshots: 7", "snapshots: 7, early_stopping: {patience: 2}")
                        .replace("epochs: 12", "epochs: 400").replace("lr: 0.01", "lr: 0.2"))
    run = nncli.train(cfg_path, out=tmp_path / "run")
    assert run.status == "early_stopped"
    s = load(tmp_path / "run" / "snapshots.npz")
    best = run.summary["best"]["epoch"]
    assert best in s["epochs"]
    i = s["epochs"].tolist().index(best)
    assert np.array_equal(s["W1"][i], run.network.layers[0].W)


def test_the_default_is_20_for_2d_data_and_none_otherwise(tmp_path):
    xor = nncli.train(XOR, runs_dir=None)
    assert xor.config.train.snapshots == 20 and len(xor.snapshots) == 20
    short = nncli.train(XOR, ["train.epochs=5"], runs_dir=None)
    assert short.config.train.snapshots == 5
    linear = nncli.train({"data": {"name": "linear", "n_features": 5}, "model": {"layers": [{"units": 1,
                          "activation": "linear"}]}, "loss": "mse", "optimizer": {"lr": 0.1}, "train": {"epochs": 5}},
                         out=tmp_path / "linear")
    assert linear.config.train.snapshots == 0 and linear.snapshots is None
    assert not (tmp_path / "linear" / "snapshots.npz").exists()
    off = nncli.train(XOR, ["train.snapshots=0", "train.epochs=5"], out=tmp_path / "off")
    assert off.snapshots is None and not (tmp_path / "off" / "snapshots.npz").exists()
    assert "snapshots: 0" in (tmp_path / "off" / "config.yaml").read_text()


def test_memory_runs_keep_their_snapshots_and_save_them(tmp_path):
    from nncli.runs import RunDir
    run = nncli.train(XOR, ["train.epochs=30", "train.snapshots=4"], runs_dir=None)
    assert run.snapshots.epochs == [0, 1, 5, 30]
    out = tmp_path / "saved"
    out.mkdir()
    run.memory.save(RunDir(out))
    assert load(out / "snapshots.npz")["epochs"].tolist() == [0, 1, 5, 30]
    assert nncli.load_run(out).snapshots.epochs == [0, 1, 5, 30]


@pytest.mark.parametrize("value, message", [
    ("-1", "train.snapshots: input should be greater than or equal to 0"),
    ("1", "train.snapshots: must be 0 (no snapshots) or at least 2"),
    ("2001", "train.snapshots: asks for 2001 snapshots of a run of 2000 epochs; use at most 2000"),
    ("many", "train.snapshots: input should be a valid integer"),
])
def test_bad_snapshot_counts_exit_2(run_cli, tmp_path, value, message):
    r = run_cli("train", XOR, f"train.snapshots={value}", "--out", tmp_path / "run")
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output, r.stderr
    assert not (tmp_path / "run").exists()


def test_a_damaged_snapshot_file_stops_a_resume_with_one_message(run_cli, tmp_path):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(MOONS.format(every=2))
    run = tmp_path / "run"
    p = runner.prepare(C.load(cfg_path))
    runner.execute(p, runner.start(p, "t", out=run), should_stop=after(10, p))
    s = load(run / "snapshots.npz")
    np.savez(run / "snapshots.npz", epochs=s["epochs"], W1=s["W1"][:, :1], b1=s["b1"], W2=s["W2"], b2=s["b2"])
    r = run_cli("train", "--resume", run)
    assert r.exit_code == 2 and "snapshots.npz" in r.stderr and "delete it to resume" in r.stderr, r.stderr
    (run / "snapshots.npz").write_bytes(b"PK\x03\x04 truncated")
    r = run_cli("train", "--resume", run)
    assert r.exit_code == 2 and "not a readable .npz file" in r.stderr and "Traceback" not in r.output


def test_a_resume_to_fewer_epochs_takes_the_snapshots_that_fit(run_cli, tmp_path):
    """config.yaml records the 20 snapshots chosen for a 40-epoch run; resuming it with train.epochs=10 (no
    train.snapshots given) keeps 10 instead of refusing a count the user never chose."""
    run = tmp_path / "run"
    r = run_cli("train", XOR, "train.epochs=40", "train.checkpoint_every=5", "--out", run, "-q")
    assert r.exit_code == 0, r.output
    assert C.load(run / "config.yaml").train.snapshots == 20
    r = run_cli("train", "--resume", run, "train.epochs=10")
    assert r.exit_code == 0 and "already completed" in r.stderr, r.output
    r = run_cli("train", "--resume", run, "train.epochs=10", "train.snapshots=15")
    assert r.exit_code == 2 and "train.snapshots: asks for 15 snapshots of a run of 10 epochs" in r.stderr
