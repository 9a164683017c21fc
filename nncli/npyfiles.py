""".npz archives and .npy files read as plain arrays, with memory bounded by what the file really holds.

numpy's own loader allocates the array a header declares before reading its data, so a file of a few
hundred bytes claiming 10^12 elements ends in "out of memory". Here every .npy header (each member of an
.npz, or a single .npy file) is read first and the size it declares, shape x itemsize, is compared with
the bytes really there: the file's size for an .npy and for stored zip members; for compressed members
the data is decompressed chunk by chunk and never allocated beyond what arrives. Object arrays (which
need pickle) are refused, never loaded.
"""

from __future__ import annotations

import io
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from .errors import NncliError
from .readers import open_regular, printable, read_data

_MAX_HEADER = 10_000  # numpy's own limit for headers it parses safely
_NPY_MAGIC = b"\x93NUMPY"
_DAMAGED = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error, NotImplementedError,
            RuntimeError, KeyError, UnicodeDecodeError, RecursionError, MemoryError, OverflowError)


class _Bad(Exception):
    """A problem with one .npy array (its text completes the file's message)."""


def read_npz(path: str | os.PathLike[str], error: type[NncliError] = NncliError,
             missing: str = "no such file") -> dict[str, np.ndarray]:
    """Every array of an .npz archive (a zip of .npy files, as numpy.savez writes it). Problems raise
    `error` naming the file: a missing file (message `missing`), not a regular file, a single .npy array,
    not a zip archive, object arrays (refused, never unpickled), a member that is not an .npy array, or
    whose header declares more data than the member holds, and truncated or corrupted archives."""
    where = str(path)
    with open_regular(path, error, "an .npz file", missing) as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
            raise error("is a single .npy array, not an .npz archive of named arrays (it is not a zip archive); "
                        "save with numpy.savez(path, X=..., y=...)", where=where)
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as z:
                members = z.infolist()
                _check_sizes(members, size)
                return {_key(info.filename): _member(z, info) for info in members}
        except _Bad as e:
            raise error(str(e), where=where) from None
        except zipfile.BadZipFile as e:
            if "not a zip file" in str(e).lower():
                raise error("not a readable .npz file (truncated or corrupted?): it is not a zip archive "
                            "(numpy.savez writes a zip of .npy arrays; is it an .npz file at all?)", where=where) from None
            raise error(f"not a readable .npz file (truncated or corrupted?): {printable(e)}", where=where) from None
        except _DAMAGED as e:
            raise error(f"not a readable .npz file (truncated or corrupted?): {printable(e) or type(e).__name__}",
                        where=where) from None


def read_npy(path: str | os.PathLike[str], error: type[NncliError] = NncliError,
             missing: str = "no such file") -> np.ndarray:
    """The array of an .npy file, its header checked against the file's size before anything is
    allocated; `error` naming the file otherwise (see `read_npz`)."""
    where = str(path)
    with open_regular(path, error, "an .npy file", missing) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            return _array(f, size, stored=True)
        except _Bad as e:
            raise error(f"not a valid .npy file: {e}", where=where) from None
        except _DAMAGED as e:
            raise error(f"not a readable .npy file (truncated or corrupted?): {printable(e) or type(e).__name__}",
                        where=where) from None


def _key(name: str) -> str:
    if not name.endswith(".npy"):
        raise _Bad(f"not a valid .npz file: it holds {name!r}, which is not an .npy array")
    return name[:-4]


def _check_sizes(members: list[zipfile.ZipInfo], size: int) -> None:
    """The zip's directory against the archive's size: compressed data cannot add up to more than the
    file, and a stored (uncompressed) member holds exactly its declared size."""
    if sum(info.compress_size for info in members) > size:
        raise _Bad(f"not a readable .npz file (truncated or corrupted?): its directory declares more "
                   f"data than the file's {size} bytes")
    for info in members:
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise _Bad(f"not a readable .npz file (truncated or corrupted?): member {info.filename!r} "
                       f"declares {info.file_size} bytes but stores {info.compress_size}")


def _member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with z.open(info) as stream:
        try:
            return _array(stream, info.file_size, stored=info.compress_type == zipfile.ZIP_STORED)
        except _Bad as e:
            raise _Bad(f"array {info.filename[:-4]!r}: {e}") from None


def _array(stream: IO[bytes], size: int, stored: bool) -> np.ndarray:
    """One .npy array from `stream`, which holds `size` bytes. When `stored`, that size is real (a file's
    size, a stored zip member), so exactly the declared bytes are allocated; otherwise (a compressed
    member, whose size is only declared) the data is read in chunks and memory follows what arrives."""
    shape, fortran, dtype, header = _header(stream)
    if dtype.hasobject:
        raise _Bad("refused: it holds pickled Python objects (object arrays), not plain numeric arrays")
    if dtype.itemsize == 0:
        raise _Bad(f"its dtype {dtype} has no size")
    count = math.prod(shape)
    declared = count * dtype.itemsize
    if header + declared != size:
        shown = "x".join(map(str, shape)) or "a scalar"
        raise _Bad(f"its header declares {shown} of {dtype} ({declared:,} bytes) but it holds "
                   f"{max(size - header, 0):,} bytes of data; the file is truncated or corrupted")
    data = _read_exact(stream, declared, stored)
    array = np.frombuffer(data, dtype=dtype, count=count) if count else np.empty(0, dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def _header(stream: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, header bytes) of an .npy stream, read with numpy's header parser."""
    if stream.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
        raise _Bad("it does not start with the .npy magic bytes")
    version = tuple(stream.read(2))
    if version not in ((1, 0), (2, 0)):
        raise _Bad(f".npy format version {'.'.join(map(str, version)) or 'missing'} is not supported "
                   f"(1.0 and 2.0 are)")
    length_bytes = stream.read(2 if version[0] == 1 else 4)
    length = int.from_bytes(length_bytes, "little")
    if length > _MAX_HEADER:
        raise _Bad(f"its header is {length:,} bytes long; an .npy header has at most {_MAX_HEADER:,}")
    text = stream.read(length)
    if len(text) < length:
        raise _Bad("its header is truncated")
    read = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = read(io.BytesIO(length_bytes + text))
    except (ValueError, SyntaxError, RecursionError, MemoryError, TypeError) as e:
        raise _Bad(f"its header is not valid ({printable(e)})") from None
    return shape, fortran, dtype, len(_NPY_MAGIC) + 2 + len(length_bytes) + length


def _read_exact(stream: IO[bytes], n: int, stored: bool) -> memoryview:
    """Exactly n bytes of `stream`, then its end (which makes a zip member check its CRC)."""
    data = read_data(stream, n, known=stored)
    if len(data) < n:
        raise _Bad(f"its data is truncated ({len(data):,} of {n:,} bytes)")
    if stream.read(1):
        raise _Bad("it holds more data than its header declares")
    return data
