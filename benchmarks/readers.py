"""Speed and memory of nncli's checked readers against numpy's own loaders, on genuine files.

nncli reads .npz archives itself (nncli/npyfiles.py: every .npy header is checked against the bytes really
there before anything is allocated) and CSV files row by row (nncli/data/csvfile.py: no fixed-width
string array); this measures what those checks cost on honest files of a realistic size:

  npz stored       a numpy.savez file: 60,000 x 784 float32 (180 MB) and its labels
  npz compressed   the same with numpy.savez_compressed (pixel-like data, so it compresses)
  csv              150,000 rows x 20 features and a label (28 MB of text)

against numpy.load(...)[key] for every array and numpy.loadtxt(..., delimiter=","), in the same process,
alternating the contenders each round so that a change of the machine's load hits both alike. It
reports the median seconds, the ratio to numpy, and the peak memory allocated during one read
(tracemalloc, which counts numpy's allocations; measured in a separate read, since tracing slows Python
down) as a multiple of the arrays' decoded size.

    python benchmarks/readers.py [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def make_files(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    images = (rng.random((60_000, 784)) < 0.3).astype(np.float32) * rng.random((60_000, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 60_000)
    np.savez(folder / "stored.npz", X=images, y=labels)
    np.savez_compressed(folder / "compressed.npz", X=images, y=labels)
    table = np.column_stack([rng.normal(size=(150_000, 20)).round(6), np.arange(150_000) % 3])
    np.savetxt(folder / "data.csv", table, delimiter=",", fmt="%.6f")
    return {"npz stored": folder / "stored.npz", "npz compressed": folder / "compressed.npz",
            "csv": folder / "data.csv"}


def contenders(kind: str, path: Path):
    """(nncli's reader, numpy's) for one kind of file; each returns the arrays it read."""
    if kind == "csv":
        from nncli.data.files import read_csv

        return (lambda: read_csv(path, dtype=np.float64)[:2],
                lambda: np.loadtxt(path, delimiter=","))
    from nncli.npyfiles import read_npz

    def numpy_npz():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    return (lambda: read_npz(path), numpy_npz)


def decoded_bytes(result) -> int:
    values = result.values() if isinstance(result, dict) else result
    return sum(a.nbytes for a in values if isinstance(a, np.ndarray))


def seconds(read) -> float:
    start = time.perf_counter()
    read()
    return time.perf_counter() - start


def peak_memory(read) -> tuple[int, int]:
    """Peak bytes allocated while reading (tracemalloc: numpy's allocations included) and the decoded size.
    Measured apart from the timings: tracing slows every Python allocation down."""
    tracemalloc.start()
    result = read()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, decoded_bytes(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, path in make_files(Path(tmp)).items():
            ours, theirs = contenders(kind, path)
            readers = {"nncli": ours, "numpy": theirs}
            times = {name: [] for name in readers}
            for _ in range(args.rounds):
                for name, read in readers.items():
                    times[name].append(seconds(read))
            row = {"file": kind, "megabytes": round(path.stat().st_size / 2 ** 20, 1)}
            for name, read in readers.items():
                peak, size = peak_memory(read)
                row[f"{name}_seconds"] = round(statistics.median(times[name]), 4)
                row[f"{name}_peak_x_decoded"] = round(peak / size, 2)
            row["time_ratio"] = round(row["nncli_seconds"] / row["numpy_seconds"], 2)
            rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'file':<16}{'MB':>7}{'nncli s':>10}{'numpy s':>10}{'ratio':>8}{'nncli mem':>11}{'numpy mem':>11}")
    for r in rows:
        print(f"{r['file']:<16}{r['megabytes']:>7}{r['nncli_seconds']:>10}{r['numpy_seconds']:>10}"
              f"{r['time_ratio']:>7}x{r['nncli_peak_x_decoded']:>10}x{r['numpy_peak_x_decoded']:>10}x")
    print(f"medians of {args.rounds} alternating rounds; memory: peak allocated while reading / decoded size",
          file=sys.stderr)


if __name__ == "__main__":
    main()
