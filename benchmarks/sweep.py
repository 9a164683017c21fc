"""Sweeps, timed end to end as a user runs them (each contender a fresh `nncli` process, one BLAS thread).

Part `grid`: the lab's 90-run XOR grid (3 activations x 3 learning rates x 10 seeds, 2000 epochs each) as a
shell loop of `nncli train` (the baseline), as `nncli sweep --workers 2` with runs one at a time
(`--no-stack`) and with its default stacks, and through a Dask LocalCluster of 2 one-thread worker
processes; plus the start-up time of `nncli train configs/xor.yaml` against `python -c "import numpy"`.

Part `stack`: many seeds of one small network, stacked (`nncli sweep --stack`, 2 workers) against the
worker pool (`--no-stack --workers 2`) and against a shell loop of one `nncli train` per seed: XOR 2-2-1
for 2000 epochs at 100 and 1000 seeds (the 1000-seed shell loop is not run: it is ten times the
100-seed one, 1000 processes of the same work), then the moons and spiral configs (two hidden layers of
16 and 32 units) at 100 seeds.

Every number is a median over --repeat rounds, contenders alternating inside a round so that a change
of the machine's load hits all alike. "training vs pool": the pool's summed train_seconds over the
contender's (a stacked run's train_seconds is its share of its stack's, so they sum to the stacks'
training time): the speed-up of the training alone. Overhead per run: (wall time - the runs'
train_seconds / workers) / runs.

    python benchmarks/sweep.py [--part grid|stack] [--repeat N] [--startup N] [--no-dask] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
XOR, MOONS, SPIRAL = (ROOT / "configs" / f"{name}.yaml" for name in ("xor", "moons", "spiral"))
ACTIVATIONS = ("tanh", "sigmoid", "relu")
LRS = ("0.05", "0.25", "1")
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
GRID = ["-p", f"model.layers.0.activation={','.join(ACTIVATIONS)}", "-p", f"optimizer.lr={','.join(LRS)}",
        "--seeds", "10"]


def timed(args: list[str], **kw) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, **kw)
    return time.perf_counter() - started


def shell_loop(work: Path, script: str, runs: int) -> tuple[float, float]:
    """One `nncli train` process per run, in a bash loop. (wall, sum of train seconds)"""
    out = work / "loop"
    wall = timed(["bash", "-c", script.replace("RUNS_DIR", str(out))])
    train = sum(json.loads((p / "summary.json").read_text())["train_seconds"] for p in out.iterdir())
    assert len(list(out.iterdir())) == runs
    shutil.rmtree(out)
    return wall, train


def grid_loop(work: Path) -> tuple[float, float]:
    return shell_loop(work, f"for act in {' '.join(ACTIVATIONS)}; do for lr in {' '.join(LRS)}; do for seed in "
                            f"$(seq 0 9); do {BIN / 'nncli'} train {XOR} model.layers.0.activation=$act "
                            f"optimizer.lr=$lr --seed $seed --runs-dir RUNS_DIR --quiet; done; done; done", 90)


def seeds_loop(work: Path, config: Path, seeds: int) -> tuple[float, float]:
    return shell_loop(work, f"for seed in $(seq 0 {seeds - 1}); do {BIN / 'nncli'} train {config} --seed $seed "
                            f"--runs-dir RUNS_DIR --quiet; done", seeds)


def sweep(work: Path, config: Path, args: list[str], runs: int) -> tuple[float, float]:
    """`nncli sweep CONFIG ARGS`. (wall, sum of train seconds)"""
    out = work / "sweep"
    wall = timed([str(BIN / "nncli"), "sweep", str(config), *args, "--out", str(out), "--quiet"])
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == runs and all(r["status"] in ("completed", "early_stopped") for r in rows), rows[:2]
    train = sum(json.loads((out / r["run"] / "summary.json").read_text())["train_seconds"] for r in rows)
    shutil.rmtree(out)
    return wall, train


def startup(rounds: int, work: Path) -> dict[str, float]:
    numpy, train = [], []
    for _ in range(rounds):
        numpy.append(timed([sys.executable, "-c", "import numpy"]))
        train.append(timed([str(BIN / "nncli"), "train", str(XOR), "--quiet", "--runs-dir", str(work / "startup")]))
    return {"import_numpy_s": statistics.median(numpy), "nncli_train_xor_s": statistics.median(train),
            "ratio": statistics.median(train) / statistics.median(numpy)}


def measure(contenders: dict, repeat: int) -> dict[str, dict[str, float]]:
    """Medians over `repeat` rounds of (wall, train) of each contender, alternating inside a round."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            samples[name].append(run())
    return {name: {"wall_s": statistics.median(w for w, _ in s), "train_s": statistics.median(t for _, t in s)}
            for name, s in samples.items()}


def grid_part(work: Path, args) -> dict:
    contenders = {"shell loop of nncli train": lambda: grid_loop(work),
                  "nncli sweep --workers 2 --no-stack": lambda: sweep(work, XOR, GRID + ["--workers", "2", "--no-stack"], 90),
                  "nncli sweep --workers 2 (stacks)": lambda: sweep(work, XOR, GRID + ["--workers", "2"], 90)}
    cluster = None
    if not args.no_dask:
        from distributed import LocalCluster  # the dask extra; this benchmark only

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        contenders["nncli sweep --scheduler --no-stack (LocalCluster, 2 workers)"] = lambda: sweep(
            work, XOR, GRID + ["--scheduler", cluster.scheduler_address, "--no-stack"], 90)
    try:
        times = measure(contenders, args.repeat)
    finally:
        if cluster is not None:
            cluster.close()
    base = times["shell loop of nncli train"]["wall_s"]
    for name, t in times.items():
        workers = 1 if name.startswith("shell") else 2
        t.update(speedup=base / t["wall_s"], overhead_per_run_ms=1000 * (t["wall_s"] - t["train_s"] / workers) / 90)
    return {"runs": 90, "contenders": times, "startup": startup(args.startup, work)}


def stack_part(work: Path, args) -> dict:
    cases = {}
    for label, config, seeds, loop in (("XOR 2-2-1, 2000 epochs, 100 seeds", XOR, 100, True),
                                       ("XOR 2-2-1, 2000 epochs, 1000 seeds", XOR, 1000, False),
                                       ("moons 2-16-16-1, 150 epochs, 100 seeds", MOONS, 100, False),
                                       ("spiral 2-32-32-3, 300 epochs, 100 seeds", SPIRAL, 100, False)):
        seed_args = ["--seeds", str(seeds)]
        contenders = {"stacked (--stack, 2 workers)": lambda: sweep(work, config, seed_args + ["--stack", "--workers", "2"], seeds),
                      "worker pool (--no-stack, 2 workers)": lambda: sweep(work, config, seed_args + ["--no-stack", "--workers", "2"], seeds)}
        if loop:
            contenders["shell loop of nncli train"] = lambda: seeds_loop(work, config, seeds)
        times = measure(contenders, args.repeat)
        pool = times["worker pool (--no-stack, 2 workers)"]
        for name, t in times.items():
            workers = 1 if name.startswith("shell") else 2
            t.update(per_run_ms=1000 * t["wall_s"] / seeds, vs_pool=pool["wall_s"] / t["wall_s"],
                     training_vs_pool=pool["train_s"] / t["train_s"],
                     overhead_per_run_ms=1000 * (t["wall_s"] - t["train_s"] / workers) / seeds)
        cases[label] = times
    loop100 = cases["XOR 2-2-1, 2000 epochs, 100 seeds"]["shell loop of nncli train"]["wall_s"]
    for label, times in cases.items():
        loop = loop100 * (10 if "1000 seeds" in label else 1) if label.startswith("XOR") else None
        for t in times.values():
            t["vs_shell_loop"] = loop / t["wall_s"] if loop else None
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("grid", "stack"), help="one part only (default: both)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the contenders")
    ap.add_argument("--startup", type=int, default=7, help="rounds of the start-up measurement")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster contender")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nncli-bench-"))
    report = {}
    try:
        if args.part in (None, "grid"):
            report["grid"] = grid_part(work, args)
        if args.part in (None, "stack"):
            report["stack"] = stack_part(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"medians of {args.repeat} round(s); {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    if "grid" in report:
        g = report["grid"]
        print(f"\n90 XOR runs (2000 epochs each)\n{'contender':62} {'wall s':>8} {'speed-up':>9} {'overhead/run':>13}")
        for name, r in g["contenders"].items():
            print(f"{name:62} {r['wall_s']:8.2f} {r['speedup']:8.1f}x {r['overhead_per_run_ms']:10.1f} ms")
        s = g["startup"]
        print(f"start-up: nncli train configs/xor.yaml {s['nncli_train_xor_s']:.3f} s, python -c 'import numpy' "
              f"{s['import_numpy_s']:.3f} s: {s['ratio']:.2f}x (medians of {args.startup})")
    for label, times in report.get("stack", {}).items():
        print(f"\n{label}\n{'contender':40} {'wall s':>8} {'ms/run':>8} {'vs pool':>8} {'vs loop':>8} "
              f"{'training vs pool':>17} {'overhead/run':>13}")
        for name, t in times.items():
            loop = f"{t['vs_shell_loop']:7.1f}x" if t["vs_shell_loop"] else "       -"
            print(f"{name:40} {t['wall_s']:8.2f} {t['per_run_ms']:8.2f} {t['vs_pool']:7.1f}x {loop} "
                  f"{t['training_vs_pool']:16.1f}x {t['overhead_per_run_ms']:10.2f} ms")


if __name__ == "__main__":
    main()
