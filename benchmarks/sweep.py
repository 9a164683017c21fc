"""The lab's 90-run XOR grid (3 activations x 3 learning rates x 10 seeds, 2000 epochs each) three ways:
a shell loop of `nncli train` (the baseline), `nncli sweep --workers 2`, and `nncli sweep --scheduler` on a
Dask LocalCluster of 2 one-thread worker processes; plus the start-up time of `nncli train configs/xor.yaml`
against `python -c "import numpy"`.

Reports medians over --repeat rounds (contenders alternate inside a round, so a change of the machine's
load hits all alike), the speed-up over the shell loop, and the overhead per run of each sweep:
(wall time - sum of the runs' train_seconds / workers) / runs.

    python benchmarks/sweep.py                 # --repeat 3, --startup 7, --no-dask, --json
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
XOR = ROOT / "configs" / "xor.yaml"
ACTIVATIONS = ("tanh", "sigmoid", "relu")
LRS = ("0.05", "0.25", "1")
SEEDS = 10
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def timed(args: list[str], **kw) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, **kw)
    return time.perf_counter() - started


def shell_loop(work: Path) -> tuple[float, float]:
    """The README's old way: one `nncli train` process per run, in a bash loop. (wall, sum of train s)"""
    runs = work / "loop"
    script = (f"for act in {' '.join(ACTIVATIONS)}; do for lr in {' '.join(LRS)}; do for seed in $(seq 0 {SEEDS - 1}); "
              f"do {BIN / 'nncli'} train {XOR} model.layers.0.activation=$act optimizer.lr=$lr --seed $seed "
              f"--runs-dir {runs} --quiet; done; done; done")
    wall = timed(["bash", "-c", script])
    train = sum(json.loads((p / "summary.json").read_text())["train_seconds"] for p in runs.iterdir())
    assert len(list(runs.iterdir())) == 90
    shutil.rmtree(runs)
    return wall, train


def sweep(work: Path, extra: list[str]) -> tuple[float, float]:
    """`nncli sweep` of the same grid. (wall, sum of train seconds)"""
    out = work / "sweep"
    wall = timed([str(BIN / "nncli"), "sweep", str(XOR), "-p", f"model.layers.0.activation={','.join(ACTIVATIONS)}",
                  "-p", f"optimizer.lr={','.join(LRS)}", "--seeds", str(SEEDS), "--out", str(out), "--quiet", *extra])
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 90 and all(r["status"] == "completed" for r in rows)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the sweep contenders")
    ap.add_argument("--startup", type=int, default=7, help="rounds of the start-up measurement")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster contender")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nncli-bench-"))
    contenders = {"shell loop of nncli train": lambda: shell_loop(work),
                  "nncli sweep --workers 2": lambda: sweep(work, ["--workers", "2"])}
    cluster = None
    if not args.no_dask:
        from distributed import LocalCluster  # the dask extra; this benchmark only

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        contenders["nncli sweep --scheduler (LocalCluster, 2 workers)"] = lambda: sweep(
            work, ["--scheduler", cluster.scheduler_address])
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    try:
        for _ in range(args.repeat):
            for name, run in contenders.items():
                times[name].append(run())
        start = startup(args.startup, work)
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(w for w, _ in times["shell loop of nncli train"])
    report = {"runs": 90, "contenders": {}, "startup": start}
    for name, samples in times.items():
        wall = statistics.median(w for w, _ in samples)
        train = statistics.median(t for _, t in samples)
        workers = 1 if name.startswith("shell") else 2
        report["contenders"][name] = {"wall_s": wall, "train_s": train, "speedup": base / wall,
                                      "overhead_per_run_ms": 1000 * (wall - train / workers) / 90}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"90 XOR runs (2000 epochs each), medians of {args.repeat}; {os.cpu_count()} CPUs")
    print(f"{'contender':52} {'wall s':>8} {'speed-up':>9} {'overhead/run':>13}")
    for name, r in report["contenders"].items():
        print(f"{name:52} {r['wall_s']:8.2f} {r['speedup']:8.1f}x {r['overhead_per_run_ms']:10.1f} ms")
    print(f"start-up: nncli train configs/xor.yaml {start['nncli_train_xor_s']:.3f} s, python -c 'import numpy' "
          f"{start['import_numpy_s']:.3f} s: {start['ratio']:.2f}x (medians of {args.startup})")


if __name__ == "__main__":
    main()
