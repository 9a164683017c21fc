"""Sweeps: several `nncli train` processes started at once into the same --runs-dir each get their own,
complete run directory (real processes: the clash would happen between processes, not threads)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "configs" / "xor.yaml"
NNCLI = [sys.executable, "-m", "nncli"]
FILES = ("config.yaml", "weights.npz", "metrics.csv", "summary.json")


def check_complete(run: Path, epochs: int) -> dict:
    for name in FILES:
        assert (run / name).is_file(), f"{run} has no {name}"
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")], "temporary files left behind"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == epochs
    with np.load(run / "weights.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["W1", "W2", "b1", "b2"]
    assert len((run / "metrics.csv").read_text().splitlines()) == epochs + 1
    return summary


def test_parallel_processes_get_distinct_complete_run_dirs(tmp_path):
    runs_dir = tmp_path / "runs"
    n, epochs = 6, 30
    procs = [subprocess.Popen([*NNCLI, "train", str(XOR), f"optimizer.lr={0.1 * (i + 1):.1f}",
                               f"train.epochs={epochs}", "--runs-dir", str(runs_dir), "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for i in range(n)]
    results = [(p.wait(timeout=120), p.stdout.read().strip(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    for code, out, err in results:
        assert code == 0, err
    printed = [Path(out) for _, out, _ in results]
    assert len(set(printed)) == n, f"two processes printed the same run directory: {printed}"
    on_disk = sorted(runs_dir.iterdir())
    assert sorted(printed) == on_disk
    lrs = set()
    for run in on_disk:
        assert run.name.startswith("xor-")
        check_complete(run, epochs)
        lrs.add((run / "config.yaml").read_text().split("lr: ")[1].split()[0])
    assert len(lrs) == n  # each directory holds its own process's run, not another's


@pytest.mark.skipif(shutil.which("xargs") is None or shutil.which("bash") is None, reason="needs bash and xargs")
def test_an_xargs_loop_as_in_the_readme(tmp_path):
    """The README's parallel loop: activations x learning rates with xargs -P, then compare --json."""
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not (bindir / "nncli").exists():
        pytest.skip("the nncli console script is not installed next to this Python")
    script = f"""
set -euo pipefail
for act in tanh relu sigmoid; do for lr in 0.1 1.0; do
  echo "model.layers.0.activation=$act optimizer.lr=$lr"
done; done | xargs -P 4 -L 1 nncli train {XOR} train.epochs=20 --runs-dir sweep --quiet > dirs.txt
nncli compare sweep/* --json > rows.json
"""
    r = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    dirs = (tmp_path / "dirs.txt").read_text().split()
    assert len(dirs) == len(set(dirs)) == 6
    for d in dirs:
        check_complete(tmp_path / d, 20)
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert len(rows) == 6
    assert {(r["config"]["model.layers.0.activation"], r["config"]["optimizer.lr"]) for r in rows} == {
        (a, lr) for a in ("tanh", "relu", "sigmoid") for lr in (0.1, 1.0)}
