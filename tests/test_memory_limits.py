"""Memory bounded by what a file really holds (issue 12, class 3). Files of a few hundred bytes (or
kilobytes) whose headers claim gigabytes or 10^12 elements (.npz members stored or compressed, .npy, raw
and gzipped IDX) are given to every command that reads such a file, in a subprocess whose address space
is limited to ADDRESS_SPACE with resource.setrlimit: each must end in exit 2 naming the file (an attempt to
allocate what the header claims would be "out of memory", exit 1). A control shows that numpy's own
loader does run out of memory on the same file under the same limit."""

from __future__ import annotations

import gzip
import io
import os
import resource
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import XOR

ADDRESS_SPACE = 400 * 2 ** 20  # python + numpy + nncli need about 200 MB of it
CLAIMS = {"10^12 elements": (10 ** 12,), "2.4 GB": (300_000_000,), "1e6 x 1e6": (1_000_000, 1_000_000)}


def limited(args: list, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m nncli ARGS` (or `python -c` when args[0] == "-c") under the address-space limit."""

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, *(["-m", "nncli"] if args[0] != "-c" else []), *map(str, args)]
    return subprocess.run(command, preexec_fn=limit, env=env, capture_output=True, text=True, timeout=timeout)


def refused(r: subprocess.CompletedProcess, path: Path, *phrases: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    message = " ".join(r.stderr.split())
    assert message.startswith("error: ") and "out of memory" not in message and "internal error" not in message
    assert str(path) in message, message
    for phrase in phrases:
        assert phrase in message, (phrase, message)


def npy_bytes(shape: tuple[int, ...], dtype: str = "<f8", data: bytes = b"\0" * 256) -> bytes:
    """An .npy header declaring `shape` of `dtype`, followed by only `data`."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


def write_npz(path: Path, members: dict[str, bytes], compression: int) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)
    return path


def real_npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def npz_dataset(tmp: Path, shape, compression) -> Path:
    return write_npz(tmp / "d.npz", {"X": npy_bytes(shape), "y": real_npy(np.arange(4) % 2)}, compression)


def test_the_control_numpy_alone_runs_out_of_memory_on_these_files(tmp_path):
    path = npz_dataset(tmp_path, CLAIMS["2.4 GB"], zipfile.ZIP_STORED)
    r = limited(["-c", f"import numpy as np; np.load({str(path)!r})['X']"])
    assert r.returncode != 0 and "MemoryError" in r.stderr, r.stderr


@pytest.mark.parametrize("claim", CLAIMS)
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_an_npz_dataset_claiming_more_than_it_holds(tmp_path, claim, compression):
    path = npz_dataset(tmp_path, CLAIMS[claim], compression)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(XOR.read_text().replace("data: xor", f"data: {{name: npz, path: {path}}}"))
    refused(limited(["train", cfg, "--runs-dir", tmp_path / "runs", "-q"]), path, "its header declares")
    refused(limited(["data", "info", "npz", f"path={path}"]), path, "its header declares")
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("xor") / "run"
    r = limited(["train", XOR, "train.epochs=4", "train.checkpoint_every=2", "--out", run, "-q"])
    assert r.returncode == 0, r.stderr  # training itself fits comfortably under the limit
    return run


@pytest.mark.parametrize("claim", CLAIMS)
@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_predict_and_evaluate_inputs_claiming_more_than_they_hold(xor_run, tmp_path, claim, suffix):
    path = tmp_path / f"inputs{suffix}"
    if suffix == ".npy":
        path.write_bytes(npy_bytes(CLAIMS[claim]))
    else:
        write_npz(path, {"X": npy_bytes(CLAIMS[claim]), "y": real_npy(np.zeros(2))}, zipfile.ZIP_DEFLATED)
    refused(limited(["predict", xor_run, path]), path, "its header declares")
    if suffix == ".npz":
        refused(limited(["evaluate", xor_run, "--data", path]), path, "its header declares")


@pytest.mark.parametrize("name", ["weights.npz", "checkpoint.npz", "init_from"])
def test_weights_and_checkpoints_claiming_more_than_they_hold(xor_run, tmp_path, name):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(xor_run, run)
    arrays = {k: real_npy(v) for k, v in np.load(run / "weights.npz").items()}
    arrays["W1"] = npy_bytes((30_000, 10_000))  # 2.4 GB of float64 claimed
    if name == "init_from":
        path = write_npz(tmp_path / "w.npz", arrays, zipfile.ZIP_STORED)
        r = limited(["train", XOR, f"model.init_from={path}", "--runs-dir", tmp_path / "runs", "-q"])
        refused(r, path, "its header declares")
        return
    if name == "checkpoint.npz":
        with np.load(run / "checkpoint.npz") as z:
            arrays = {k: real_npy(z[k]) for k in z.files}
        arrays["weights.W1"] = npy_bytes((30_000, 10_000))
    path = write_npz(run / name, arrays, zipfile.ZIP_DEFLATED)
    command = ["train", "--resume", run, "train.epochs=6"] if name == "checkpoint.npz" else ["inspect", run]
    refused(limited(command), path, "its header declares")


def idx_bytes(count: int, rows: int = 28, cols: int = 28, data: bytes = b"\0" * 1000) -> bytes:
    return bytes([0, 0, 0x08, 3]) + struct.pack(">3I", count, rows, cols) + data


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_idx_headers_claiming_more_images_than_the_file_holds(xor_run, tmp_path, gz):
    """A raw file is compared with its size; a gzip file of 400 KB (random, so it does not compress) may
    legitimately decompress to 440 MB, so its header's 300 MB pass that test: the data is then read in
    chunks, never allocated beyond what arrives."""
    rng = np.random.default_rng(0)
    payload = rng.integers(0, 256, 400_000, dtype=np.uint8).tobytes()
    data = idx_bytes(380_000, data=payload)  # 380,000 x 28 x 28 = 298 MB claimed
    path = tmp_path / ("images.gz" if gz else "images")
    path.write_bytes(gzip.compress(data) if gz else data)
    r = limited(["predict", xor_run, path])
    refused(r, path, "truncated")
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, content in (("train-images-idx3-ubyte", data), ("train-labels-idx1-ubyte", None),
                          ("t10k-images-idx3-ubyte", idx_bytes(2, data=b"\0" * 1568)),
                          ("t10k-labels-idx1-ubyte", bytes([0, 0, 8, 1]) + struct.pack(">I", 2) + b"\0\1")):
        if content is None:
            content = bytes([0, 0, 8, 1]) + struct.pack(">I", 380_000) + b"\0" * 380_000
        target = folder / (name + (".gz" if gz else ""))
        target.write_bytes(gzip.compress(content) if gz else content)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{name: mnist, path: {folder}}}\nmodel: {{layers: [{{units: 10, activation: softmax}}]}}"
                   f"\nloss: categorical_crossentropy\noptimizer: {{name: sgd, lr: 0.1}}\ntrain: {{epochs: 1}}\n")
    refused(limited(["train", cfg, "--runs-dir", tmp_path / "runs", "-q"]), folder, "truncated")


def test_a_gzip_trailer_claiming_the_headers_size_is_not_trusted(xor_run, tmp_path):
    """A gzip file's trailer (ISIZE) is four bytes anyone can write: one forged to agree with a header
    claiming 298 MB must not make nncli allocate them (the data is still read as it arrives)."""
    rng = np.random.default_rng(1)
    data = idx_bytes(380_000, data=rng.integers(0, 256, 400_000, dtype=np.uint8).tobytes())
    packed = bytearray(gzip.compress(data))
    packed[-4:] = struct.pack("<I", (16 + 380_000 * 28 * 28) % 2 ** 32)  # ISIZE as if it held them all
    path = tmp_path / "forged.gz"
    path.write_bytes(bytes(packed))
    r = limited(["predict", xor_run, path])
    assert "out of memory" not in r.stderr and r.returncode == 2, r.stderr
    assert str(path) in " ".join(r.stderr.split())


def test_data_too_large_for_the_memory_limit_is_refused_naming_the_file(xor_run, tmp_path):
    """An honest gzip IDX file of 1.5 MB that decompresses to 480 MB of zeros, under a 400 MB limit: exit 2
    naming the file (not "out of memory", exit 1, which is for training)."""
    count = 612_000  # x 28 x 28 = 480 MB
    path = tmp_path / "zeros.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(idx_bytes(count, data=b""))
        chunk = bytes(28 * 28 * 10_000)
        for _ in range(count // 10_000):
            f.write(chunk)
        f.write(bytes(28 * 28 * (count % 10_000)))
    refused(limited(["predict", xor_run, path]), path, "do not fit in the memory")


def test_genuine_files_are_read_under_the_same_limit(tmp_path):
    """The limit leaves room for real data: 40 MB of float64 features in a compressed .npz, read in chunks."""
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez_compressed(path, X=rng.normal(size=(50_000, 100)).round(2), y=np.arange(50_000) % 2)
    r = limited(["data", "info", "npz", f"path={path}", "--json"])
    assert r.returncode == 0, r.stderr
    assert '"train_samples": 50000' in r.stdout


@pytest.mark.parametrize("cell", ["9" * 200_000, "x" * 200_000, "7" * 5_000])
@pytest.mark.parametrize("column", ["feature", "target"])
def test_a_csv_with_one_enormous_cell(tmp_path, cell, column):
    """A 400 KB file: 20,000 short rows and one cell of 200,000 characters. Parsed into a fixed-width string
    array, every cell would take the longest one's width (20,000 x 3 x 200,000 x 4 bytes = 48 GB); parsed
    row by row, memory follows the numbers."""
    rows = ["a,b,y"] + [f"{i % 7},{i % 5},{i % 2}" for i in range(20_000)]
    rows[5] = f"1,{cell},0" if column == "feature" else f"1,2,{cell}"
    path = tmp_path / "d.csv"
    path.write_text("\n".join(rows) + "\n")
    r = limited(["data", "info", "csv", f"path={path}", "--json"])
    assert r.returncode in (0, 2), r.stderr
    assert "out of memory" not in r.stderr and "internal error" not in r.stderr
    if r.returncode == 2:
        assert str(path) in r.stderr


def test_a_genuine_csv_of_25_mb_is_read_under_the_limit(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150_000, 20)).round(6)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([X, np.arange(150_000) % 3]), delimiter=",", fmt="%.6f")
    assert path.stat().st_size > 25 * 2 ** 20
    r = limited(["data", "info", "csv", f"path={path}", "--json"])
    assert r.returncode == 0, r.stderr
    assert "\"train_samples\": 150000" in r.stdout
