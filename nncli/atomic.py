"""Atomic file writes: a temporary file in the same directory, fsync, then os.replace, so that a reader
(or a process killed at any moment) sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
import uuid
from pathlib import Path
from typing import BinaryIO, Iterator


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], suffix: str = ".tmp", durable: bool = True) -> Iterator[BinaryIO]:
    """`with atomic_open(path) as f: f.write(...)`: the file appears under `path` only if the block
    ends without an exception; otherwise the temporary file is removed and `path` is left as it was.
    The file gets the usual permissions (0666 less the umask), not mkstemp's 0600. `durable=False` skips
    the fsyncs (still atomic for readers and for a killed process): for many files made durable together
    by one `sync_filesystem` (a sweep's run directories)."""
    path = Path(path)
    _refuse_non_regular(path)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}{suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _refuse_non_regular(path: Path) -> None:
    """OSError when `path` exists and is not a regular file (a directory, FIFO, device or socket): replacing
    it would remove it, and a device such as /dev/full is not nncli's to replace (as root it could)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable metadata: the write itself will say what is wrong
    if not stat.S_ISREG(mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a regular file (nncli only replaces regular "
                      f"files); choose another path")


def write_bytes(path: str | os.PathLike[str], data: bytes, durable: bool = True) -> None:
    with atomic_open(path, durable=durable) as f:
        f.write(data)


def sync_filesystem(path: str | os.PathLike[str]) -> None:
    """Make every write on the filesystem holding `path` durable at once (Linux syncfs; elsewhere sync)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        os.sync()
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()
    except OSError:
        os.sync()
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
