"""IDX reader/writer (nncli.data.idx) and the MNIST-format directories built on it (nncli.data.mnist)."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from nncli.data import mnist
from nncli.data.idx import read_idx, write_idx
from nncli.errors import DataError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def sample(dtype, shape=(3, 4, 5)) -> np.ndarray:
    """Values that exercise the whole range of the dtype (signs, extremes, fractions)."""
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
        a.flat[0], a.flat[-1] = info.min, info.max
        return a
    a = rng.standard_normal(shape).astype(dtype) * 1e3
    a.flat[0], a.flat[1] = -0.0, np.finfo(dtype).max
    return a


# --- round trips -------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype(tmp_path, dtype, compress):
    array = sample(dtype)
    path = write_idx(tmp_path / ("a.idx.gz" if compress else "a.idx"), array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable and back.flags.c_contiguous


@pytest.mark.parametrize("shape", [(7,), (2, 3), (1, 1, 1, 1)])
def test_round_trip_shapes(tmp_path, shape):
    array = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.gz", array)), array)


def test_gzip_detected_by_content_not_name(tmp_path):
    array = sample(np.float32, (2, 3))
    gz_without_suffix = write_idx(tmp_path / "plain-name", array, gzip=True)
    raw_with_suffix = write_idx(tmp_path / "looks-compressed.gz", array, gzip=False)
    assert gz_without_suffix.read_bytes()[:2] == b"\x1f\x8b"
    assert raw_with_suffix.read_bytes()[:4] == b"\x00\x00\x0d\x02"
    np.testing.assert_array_equal(read_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), array)


def test_reads_hand_made_big_endian_bytes(tmp_path):
    """The layout is the published one, independent of write_idx: magic, big-endian dims, data."""
    path = tmp_path / "short.idx"
    path.write_bytes(b"\x00\x00\x0b\x02" + struct.pack(">II", 2, 2) + struct.pack(">4h", 258, -2, 0, 32767))
    np.testing.assert_array_equal(read_idx(path), [[258, -2], [0, 32767]])
    labels = tmp_path / "labels"
    labels.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes([7, 0, 255])))
    got = read_idx(labels)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, [7, 0, 255])


def test_writer_output_is_deterministic(tmp_path):
    array = sample(np.uint8)
    a = write_idx(tmp_path / "a.gz", array).read_bytes()
    b = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert a == b
    assert list(tmp_path.iterdir()) and all(not p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_writer_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(DataError, match="cannot write dtype int64"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.int64))
    assert not (tmp_path / "a.idx").exists()


# --- malformed files ---------------------------------------------------------------------------------

def good_bytes(shape=(4, 3, 2)) -> bytes:
    array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    return b"\x00\x00\x08" + bytes([len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + array.tobytes()


def expect_error(path: Path, *phrases: str) -> str:
    with pytest.raises(DataError) as info:
        read_idx(path, hint="delete it and run `nncli data fetch mnist`")
    message = str(info.value)
    assert info.value.where == str(path) and message.startswith(str(path))
    for phrase in phrases:
        assert phrase in message, message
    return message


@pytest.mark.parametrize("compress", [True, False])
def test_wrong_magic(tmp_path, compress):
    data = b"\x12\x34" + good_bytes()[2:]
    path = tmp_path / "f"
    path.write_bytes(gzip.compress(data) if compress else data)
    expect_error(path, "not an IDX file", "12340803", "expected two zero bytes")


def test_html_page_instead_of_idx(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"<html><body>403 Forbidden</body></html>")
    expect_error(path, "not an IDX file")


def test_bad_dtype_code(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"\x00\x00\x0a" + good_bytes()[3:])
    expect_error(path, "unknown IDX dtype code 0x0A", "0x08 (ubyte)", "0x0E (double)")


@pytest.mark.parametrize("compress", [True, False])
def test_truncated_data(tmp_path, compress):
    data = good_bytes()[:-5]
    path = tmp_path / "f"
    path.write_bytes(gzip.compress(data) if compress else data)
    message = expect_error(path, "expected 24 bytes of ubyte data for 4x3x2, found 19", "truncated")
    assert message.endswith("delete it and run `nncli data fetch mnist`")


@pytest.mark.parametrize("compress", [True, False])
def test_trailing_bytes(tmp_path, compress):
    data = good_bytes() + b"\x00" * 3
    path = tmp_path / "f"
    path.write_bytes(gzip.compress(data) if compress else data)
    expect_error(path, "expected 24 bytes", "3 trailing bytes")


def test_truncated_header(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(good_bytes()[:9])
    expect_error(path, "header is truncated", "3 dimensions need 12 bytes, found 5")
    path.write_bytes(b"\x00\x00")
    expect_error(path, "too short for an IDX header")


def test_zero_dimension(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"\x00\x00\x08\x02" + struct.pack(">II", 5, 0))
    expect_error(path, "zero dimension (5x0)", "expected all dimensions > 0")


def test_zero_dimensions_count(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"\x00\x00\x08\x00")
    expect_error(path, "0 dimensions")


def test_empty_file(tmp_path):
    path = tmp_path / "f.gz"
    path.write_bytes(b"")
    expect_error(path, "the file is empty")


@pytest.mark.parametrize("cut", [8, 20, 0.5])
def test_truncated_gzip_stream(tmp_path, cut):
    compressed = gzip.compress(good_bytes((50, 10, 10)))
    end = len(compressed) - cut if isinstance(cut, int) else int(len(compressed) * cut)
    path = tmp_path / "f.gz"
    path.write_bytes(compressed[:end])
    expect_error(path, "gzip stream is corrupt or truncated")


def test_corrupt_gzip_stream(tmp_path):
    data = bytearray(gzip.compress(good_bytes((50, 10, 10))))
    data[len(data) // 2] ^= 0xFF
    data[len(data) // 2 + 1] ^= 0xFF
    path = tmp_path / "f.gz"
    path.write_bytes(bytes(data))
    expect_error(path, "gzip stream is corrupt or truncated")


def test_gzip_header_only(tmp_path):
    path = tmp_path / "f.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00")
    expect_error(path, "gzip stream is corrupt or truncated")


def test_huge_header_in_small_gzip_is_rejected_before_allocating(tmp_path):
    path = tmp_path / "f.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x0e\x03" + struct.pack(">III", 60000, 60000, 60000)))
    expect_error(path, "cannot hold that much")


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.gz", "cannot open the IDX file", "No such file")


def test_directory_instead_of_file(tmp_path):
    expect_error(tmp_path, "is a directory, not an IDX file")


# --- the real Fashion-MNIST files from Debian's dataset-fashion-mnist -------------------------------------

def debian_file(name: str) -> Path:
    path = DEBIAN_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} not present (install the Debian package dataset-fashion-mnist)")
    return path


def test_real_fashion_mnist_train_labels():
    labels = read_idx(debian_file("train-labels-idx1-ubyte.gz"))
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), [6000] * 10)


@pytest.mark.parametrize("filename", list(mnist.FILES.values()))
def test_debian_content_is_the_published_fashion_mnist(filename):
    """Debian recompresses the .gz files; their content matches the published data exactly."""
    path = debian_file(filename)
    raw = gzip.decompress(path.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == mnist.SOURCES["fashion-mnist"].raw_sha256[filename]


# --- nncli.data.mnist: where the files are and loading them -------------------------------------------

def make_dataset(directory: Path, n_train=6, n_test=4, gz=True, labels=None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": np.arange(n_train, dtype=np.uint8) % 10 if labels is None else labels,
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(n_test, dtype=np.uint8) % 10,
    }
    for role, filename in mnist.FILES.items():
        write_idx(directory / (filename if gz else filename.removesuffix(".gz")), arrays[role])
    return directory


def test_candidate_dirs(monkeypatch, tmp_path):
    monkeypatch.delenv("NNCLI_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert mnist.candidate_dirs("mnist") == [tmp_path / "cache" / "nncli" / "mnist"]
    cache = tmp_path / "cache" / "nncli"
    assert mnist.candidate_dirs("fashion-mnist") == [cache / "fashion-mnist", DEBIAN_DIR]
    monkeypatch.setenv("NNCLI_DATA", str(tmp_path / "data"))
    assert mnist.candidate_dirs("mnist") == [tmp_path / "data" / "mnist"]
    assert mnist.candidate_dirs("mnist", tmp_path / "mine") == [tmp_path / "mine"]
    monkeypatch.delenv("NNCLI_DATA")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.cache_dir("mnist") == tmp_path / "home" / ".cache" / "nncli" / "mnist"


def test_unknown_dataset_name():
    expected = "unknown MNIST-format dataset 'fashion_mnist'; did you mean 'fashion-mnist'"
    with pytest.raises(DataError, match=expected):
        mnist.candidate_dirs("fashion_mnist")


def test_find_dir_lists_places_and_advice(monkeypatch, tmp_path):
    monkeypatch.setenv("NNCLI_DATA", str(tmp_path / "data"))
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    write_idx(tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(DataError) as info:
        mnist.find_dir("mnist")
    message = str(info.value)
    assert str(tmp_path / "data" / "mnist") in message
    assert "missing train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz" in message
    assert "run `nncli data fetch mnist` or set data.path" in message
    with pytest.raises(DataError, match="no such directory"):
        mnist.find_dir("mnist", tmp_path / "elsewhere")


def test_load_arrays_gz_and_plain(monkeypatch, tmp_path):
    for gz in (True, False):
        directory = make_dataset(tmp_path / f"gz-{gz}", gz=gz)
        data = mnist.load_arrays("mnist", directory)
        assert data["dir"] == directory
        assert data["train_images"].shape == (6, 28, 28) and data["train_images"].dtype == np.uint8
        assert data["test_images"].shape == (4, 28, 28)
        np.testing.assert_array_equal(data["train_labels"], [0, 1, 2, 3, 4, 5])
        np.testing.assert_array_equal(data["test_labels"], [0, 1, 2, 3])
    monkeypatch.setenv("NNCLI_DATA", str(tmp_path / "data"))
    make_dataset(tmp_path / "data" / "mnist")
    assert mnist.load_arrays("mnist")["dir"] == tmp_path / "data" / "mnist"


def test_load_arrays_count_mismatch(tmp_path):
    directory = make_dataset(tmp_path / "d", labels=np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="5 labels for 6 images") as info:
        mnist.load_arrays("mnist", directory)
    assert info.value.where == str(directory / "train-labels-idx1-ubyte.gz")
    assert "delete it and run `nncli data fetch mnist`" in str(info.value)


def test_load_arrays_label_out_of_range(tmp_path):
    directory = make_dataset(tmp_path / "d", labels=np.array([0, 1, 2, 12, 4, 5], np.uint8))
    with pytest.raises(DataError, match=r"1 labels are >= 10 \(first: index 3 = 12\)"):
        mnist.load_arrays("mnist", directory)


def test_load_arrays_images_not_3d(tmp_path):
    directory = make_dataset(tmp_path / "d")
    write_idx(directory / "t10k-images-idx3-ubyte.gz", np.zeros((4, 784), np.uint8))
    with pytest.raises(DataError, match="expected 3-D uint8 images") as info:
        mnist.load_arrays("mnist", directory)
    assert info.value.where == str(directory / "t10k-images-idx3-ubyte.gz")


def test_load_arrays_truncated_file_names_it(tmp_path):
    directory = make_dataset(tmp_path / "d")
    path = directory / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(DataError, match="the file is truncated; delete it and run `nncli data fetch mnist`"):
        mnist.load_arrays("mnist", directory)


def test_load_real_fashion_mnist(monkeypatch, tmp_path):
    debian_file("train-images-idx3-ubyte.gz")
    monkeypatch.setenv("NNCLI_DATA", str(tmp_path / "empty"))
    data = mnist.load_arrays("fashion-mnist")
    assert data["dir"] == DEBIAN_DIR
    assert data["train_images"].shape == (60000, 28, 28) and data["test_images"].shape == (10000, 28, 28)
    assert data["test_labels"].shape == (10000,)
    assert data["train_images"].max() == 255
