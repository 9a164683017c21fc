"""`nncli sweep --scheduler`: a real `dask scheduler` and two `dask worker` processes on 127.0.0.1; one
worker is killed mid-run and the sweep still completes; an unreachable scheduler is exit 2 in time."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed", reason="needs the dask extra: pip install -e '.[dask]'")

import nncli  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "configs" / "xor.yaml"
NNCLI = [sys.executable, "-m", "nncli"]
DASK = Path(sys.executable).parent / "dask"
FILES = {"config.yaml", "weights.npz", "metrics.csv", "summary.json", "snapshots.npz"}  # 2-D data: snapshots by default


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], log: Path) -> subprocess.Popen:
    """A dask process in its own session (so that killing its group takes the nanny's worker too)."""
    return subprocess.Popen([str(DASK), *args], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two one-thread workers named w1 and w2; yields (address, {name: process})."""
    if not DASK.exists():
        pytest.skip("the dask command is not installed next to this Python")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                   tmp_path / "scheduler.log")]
    workers = {}
    try:
        for name in ("w1", "w2"):
            workers[name] = start(["worker", address, "--name", name, "--nthreads", "1", "--nworkers", "1",
                                   "--no-dashboard", "--host", "127.0.0.1"], tmp_path / f"{name}.log")
            procs.append(workers[name])
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for p in reversed(procs):
            stop(p)


@pytest.mark.parametrize("stacking", [["--no-stack"], ["--stack", "--stack-memory", "3"]], ids=["runs", "stacks"])
def test_a_sweep_survives_a_worker_killed_mid_run(cluster, tmp_path, stacking):
    """One Dask task per run, or per stack (3 MB per stack: stacks of 2 runs): a worker killed in the middle
    of one makes the scheduler run it again on the other worker."""
    address, workers = cluster
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen([*NNCLI, "sweep", str(XOR), "-p", "optimizer.lr=0.25,1", "--seeds", "3",
                             "train.epochs=15000", "--scheduler", address, "--out", str(sweep), *stacking],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (sweep / "results.csv").exists():
            time.sleep(0.05)
        assert (sweep / "results.csv").exists(), "no run finished within 2 minutes"
        with (sweep / "results.csv").open() as f:
            done_before = {row["run"] for row in csv.DictReader(f)}
        assert len(done_before) < 6
        os.killpg(workers["w2"].pid, signal.SIGKILL)  # the nanny and its worker, in the middle of a run
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == str(sweep)
    with (sweep / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"completed"}
    assert "w1" in {r["worker"] for r in rows if r["run"] not in done_before}
    if "--stack" in stacking:
        assert "stacked: 3 stacks (2, 2, 2)" in err
    for row in rows:
        run = sweep / row["run"]
        assert {p.name for p in run.iterdir()} == FILES
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["epochs"] == 15000
    # results travelled back intact: the weights of a run equal the same run trained here
    row = rows[-1]
    here = nncli.train(XOR, {"train.epochs": 15000, "optimizer.lr": float(row["optimizer.lr"])},
                       seed=int(row["seed"]), runs_dir=None)
    with np.load(sweep / row["run"] / "weights.npz", allow_pickle=False) as z:
        for i, layer in enumerate(here.network.layers, start=1):
            np.testing.assert_array_equal(z[f"W{i}"], layer.W)
            np.testing.assert_array_equal(z[f"b{i}"], layer.b)


def test_an_unreachable_scheduler_is_exit_2_and_writes_nothing(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    r = subprocess.run([*NNCLI, "sweep", str(XOR), "-p", "optimizer.lr=0.25,1", "--scheduler", address,
                        "--timeout", "3", "--runs-dir", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert time.monotonic() - started < 60
    assert f"cannot reach the Dask scheduler at {address} within 3 s" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()


def test_no_dask_installed_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    from nncli.errors import NncliError

    with pytest.raises(NncliError, match=r'install the dask extra: pip install "nncli\[dask\]"'):
        nncli.sweep(XOR, {"optimizer.lr": [0.1, 1]}, scheduler="tcp://127.0.0.1:1", runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
