"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number of dimensions), then each
dimension as a big-endian uint32, then the data in C order, big-endian. Files may be gzip-compressed;
that is detected by the gzip magic bytes (1f 8b), not by the file name.
"""

from __future__ import annotations

import gzip as gzip_module
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..atomic import atomic_open
from ..errors import DataError
from ..readers import open_regular, read_data

# IDX dtype code -> numpy dtype of the stored (big-endian) values.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_NAMES = {0x08: "ubyte", 0x09: "sbyte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}
_GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot expand data by more than about 1032:1, so a gzip file of n bytes holds at most this
# many times n bytes of data; a header asking for more describes a truncated or corrupt file.
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike[str], hint: str | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into an array of shape dims, native byte order.

    The data is read straight into the array's own writable buffer (no intermediate copy). Every
    problem (missing file, bad magic, bad gzip stream, size not matching the dims) raises DataError with
    `where` set to the file; `hint` (e.g. "delete it and run `nncli data fetch mnist`") is appended to
    messages about damaged files.
    """
    path = Path(path)
    where = str(path)
    suffix = f"; {hint}" if hint else ""
    raw = open_regular(path, DataError, "an IDX file", missing="cannot open the IDX file: No such file or directory")
    with raw:
        try:
            head = raw.read(2)
            file_size = os.fstat(raw.fileno()).st_size
        except OSError as e:
            raise DataError(f"cannot read the IDX file: {e.strerror or e}", where=where) from None
        if not head:
            raise DataError(f"the file is empty (expected an IDX header){suffix}", where=where)
        raw.seek(0)
        compressed = head == _GZIP_MAGIC
        stream: BinaryIO = raw
        if compressed:
            stream = gzip_module.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        try:
            return _read_stream(stream, file_size, compressed, where, suffix)
        except (OSError, EOFError, zlib.error) as e:
            if compressed:
                raise DataError(
                    f"the gzip stream is corrupt or truncated ({e}); expected a complete gzip file{suffix}",
                    where=where,
                ) from None
            raise DataError(f"cannot read the IDX file: {e}", where=where) from None
        finally:
            if compressed:
                stream.close()


def _read_stream(stream: BinaryIO, file_size: int, compressed: bool, where: str, suffix: str) -> np.ndarray:
    """The IDX array in `stream`, from a file of `file_size` bytes. A raw file's header must agree with
    that size (then the array is allocated at once); gzip data is read in chunks, so a header (or a gzip
    trailer, which anyone can write) claiming more than the file holds never allocates more than what is
    really there. Data too large for the memory this process may use is a DataError naming the file."""
    code, dims = _read_header(stream, where, suffix)
    shape_text = "x".join(str(d) for d in dims)
    stored = IDX_DTYPES[code]
    expected = math.prod(dims) * stored.itemsize
    what = f"{expected} bytes of {_DTYPE_NAMES[code]} data for {shape_text}"
    header_size = 4 + 4 * len(dims)
    if not compressed and header_size + expected != file_size:
        found = file_size - header_size
        problem = "the file is truncated" if found < expected else f"{found - expected} trailing bytes"
        raise DataError(f"expected {what}, found {found}; {problem}{suffix}", where=where)
    if compressed and expected > _MAX_DEFLATE_RATIO * file_size:
        raise DataError(
            f"expected {what}, but a {file_size}-byte gzip file cannot hold that much; the file is truncated "
            f"or its header is corrupt{suffix}",
            where=where,
        )

    try:
        buffer = read_data(stream, expected, known=not compressed)  # gzip: memory follows the data
    except MemoryError:
        raise DataError(f"{what} do not fit in the memory this process may use{suffix}", where=where) from None
    if len(buffer) < expected:
        raise DataError(f"expected {what}, found {len(buffer)}; the file is truncated{suffix}", where=where)
    extra = _count_rest(stream)
    if extra:
        raise DataError(f"expected {what}, found {expected + extra}: {extra} trailing bytes after the data"
                        f"{suffix}", where=where)

    array = np.frombuffer(buffer, dtype=stored).reshape(dims)
    if stored.itemsize > 1 and not stored.isnative:
        array.byteswap(inplace=True)
        array = array.view(stored.newbyteorder("="))
    return array


def _read_header(stream: BinaryIO, where: str, suffix: str) -> tuple[int, tuple[int, ...]]:
    """(dtype code, dims) of an IDX header; DataError for a short, foreign or malformed one."""
    magic = _read_upto(stream, 4)
    if len(magic) < 4:
        raise DataError(
            f"the file is too short for an IDX header ({len(magic)} bytes, expected at least 4){suffix}",
            where=where,
        )
    if magic[0] != 0 or magic[1] != 0:
        raise DataError(
            f"not an IDX file: the magic number is {magic.hex()}, expected two zero bytes, a dtype code and "
            f"the number of dimensions (e.g. 00000803 for images, 00000801 for labels){suffix}",
            where=where,
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        codes = ", ".join(f"0x{c:02X} ({n})" for c, n in _DTYPE_NAMES.items())
        raise DataError(f"unknown IDX dtype code 0x{code:02X}; expected one of {codes}{suffix}", where=where)
    if ndim == 0:
        raise DataError(f"the IDX header has 0 dimensions; expected at least 1{suffix}", where=where)
    dims_bytes = _read_upto(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise DataError(
            f"the IDX header is truncated: {ndim} dimensions need {4 * ndim} bytes, found {len(dims_bytes)}"
            f"{suffix}",
            where=where,
        )
    dims = struct.unpack(f">{ndim}I", dims_bytes)
    if any(d == 0 for d in dims):
        shape_text = "x".join(str(d) for d in dims)
        raise DataError(
            f"the IDX header has a zero dimension ({shape_text}); expected all dimensions > 0{suffix}",
            where=where,
        )
    return code, dims


def _read_upto(stream: BinaryIO, n: int) -> bytes:
    """Up to n bytes (fewer only at end of stream)."""
    parts = []
    while n > 0:
        part = stream.read(n)
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _count_rest(stream: BinaryIO) -> int:
    """Bytes left in the stream (reading them; for gzip this also checks the CRC)."""
    extra = 0
    while True:
        part = stream.read(_CHUNK)
        if not part:
            return extra
        extra += len(part)


def write_idx(path: str | os.PathLike[str], array: np.ndarray, gzip: bool | None = None) -> Path:
    """Write `array` (uint8, int8, int16, int32, float32 or float64; 1-255 dims) as an IDX file.

    gzip=None compresses when the name ends in .gz. The file is written atomically (temporary file in
    the same directory, then os.replace). Returns the path.
    """
    path = Path(path)
    array = np.asarray(array)
    kind, size = array.dtype.kind, array.dtype.itemsize
    code = next((c for c, dt in IDX_DTYPES.items() if (dt.kind, dt.itemsize) == (kind, size)), None)
    if code is None:
        raise DataError(f"cannot write dtype {array.dtype} as IDX; expected uint8, int8, int16, int32, "
                        "float32 or float64", where=str(path))
    if not 1 <= array.ndim <= 255 or any(d >= 2**32 for d in array.shape):
        raise DataError(f"cannot write shape {array.shape} as IDX; expected 1 to 255 dimensions below 2**32",
                        where=str(path))
    if gzip is None:
        gzip = path.name.endswith(".gz")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()

    with atomic_open(path) as f:
        if gzip:
            with gzip_module.GzipFile(filename="", fileobj=f, mode="wb", mtime=0) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            f.write(header)
            f.write(payload)
    return path
