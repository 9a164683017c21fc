"""Download an MNIST-format dataset's four files, checked against the checksums kept in mnist.SOURCES.

Each file is streamed into a temporary file in the destination directory, fsync'ed, checked, then moved
into place with os.replace, so a file under its final name is always complete and verified; on any
failure the temporary file is removed. Files already present with the right checksum are skipped
without a request. A connection or I/O error (also a body shorter than its Content-Length, or an HTTP
5xx answer) is retried once; then the next mirror is tried; then DataError says what happened for each
URL. The library never prints: pass `progress` to follow a download.

The base URL is, in order: the `base_url` argument; $NNCLI_MNIST_URL or $NNCLI_FASHION_MNIST_URL;
$NNCLI_DATA_URL followed by "<name>/"; the published mirrors.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..atomic import atomic_open
from ..errors import DataError, argument
from .mnist import FILES, source

ProgressCallback = Callable[[str, int, "int | None"], None]
"""progress(filename, bytes_done, bytes_total_or_None), called as bytes arrive (bytes_done restarts at
0 when a download is retried)."""

_CHUNK = 1 << 16
_ATTEMPTS = 2  # per URL: the first try and one retry


@dataclass(frozen=True)
class FetchResult:
    """What happened to one file: `status` is "downloaded" or "skipped" (already present and valid)."""

    filename: str
    path: Path
    status: Literal["downloaded", "skipped"]
    size: int
    url: str | None = None


class _Retryable(Exception):
    """A connection or I/O failure worth one more try."""


class _Bad(Exception):
    """A failure that another try at the same URL would not fix (bad checksum, HTTP 404, ...)."""


def env_var(name: str) -> str:
    """The environment variable that overrides one dataset's base URL, e.g. NNCLI_FASHION_MNIST_URL."""
    return "NNCLI_" + name.upper().replace("-", "_") + "_URL"


def base_urls(name: str, base_url: str | None = None) -> list[str]:
    """The base URLs to try, in order (see the module docstring); each ends with '/'."""
    published = source(name).urls
    if base_url:
        urls = [base_url]
    elif os.environ.get(env_var(name)):
        urls = [os.environ[env_var(name)]]
    elif os.environ.get("NNCLI_DATA_URL"):
        urls = [os.environ["NNCLI_DATA_URL"].rstrip("/") + f"/{name}/"]
    else:
        urls = list(published)
    return [u if u.endswith("/") else u + "/" for u in urls]


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file's bytes."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _algorithm(expected: str) -> str:
    """md5 for a 32-hex-digit checksum, sha256 for a 64-digit one."""
    algorithms = {32: "md5", 64: "sha256"}
    if len(expected) not in algorithms:
        raise ValueError(f"checksum {expected!r} is neither an MD5 nor a SHA-256 hex digest")
    return algorithms[len(expected)]


def fetch(
    name: str,
    dest_dir: str | os.PathLike[str],
    base_url: str | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 30,
    checksums: Mapping[str, str] | None = None,
) -> list[FetchResult]:
    """Download the four files of dataset `name` ("mnist" or "fashion-mnist") into dest_dir.

    Returns one FetchResult per file, in FILES order. `checksums` (file name -> MD5 or SHA-256 hex)
    replaces the published checksums; it exists for tests serving their own files.
    """
    expected_sums = dict(checksums) if checksums is not None else dict(source(name).md5)
    urls = base_urls(name, base_url)
    dest = Path(dest_dir).expanduser()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the download directory: {e.strerror or e}; choose another with "
                        f"{argument('dest_dir', '--dir')}",
                        where=str(dest)) from None

    results = []
    for filename in FILES.values():
        expected = expected_sums[filename].lower()
        algorithm = _algorithm(expected)
        target = dest / filename
        if target.is_file() and file_digest(target, algorithm) == expected:
            size = target.stat().st_size
            if progress is not None:
                progress(filename, size, size)
            results.append(FetchResult(filename, target, "skipped", size))
            continue
        results.append(_download_file(filename, urls, target, expected, algorithm, progress, timeout))
    return results


def _download_file(filename: str, urls: list[str], target: Path, expected: str, algorithm: str,
                   progress: ProgressCallback | None, timeout: float) -> FetchResult:
    """Try each URL (each twice on connection errors) until one gives a verified file."""
    failures = []
    for base in urls:
        url = base + filename
        last_error: _Retryable | None = None
        for _ in range(_ATTEMPTS):
            try:
                size = _download_once(url, target, expected, algorithm, progress, timeout)
                return FetchResult(filename, target, "downloaded", size, url)
            except _Retryable as e:
                last_error = e
            except _Bad as e:
                failures.append(f"{url}: {e}")
                break
        else:
            failures.append(f"{url}: {last_error} (tried {_ATTEMPTS} times)")
    raise DataError(
        f"could not download {filename}: " + "; ".join(failures)
        + f". No partial file was left; check the network or pass another {argument('base_url')} (or set "
        "NNCLI_DATA_URL), then run the command again",
        where=str(target),
    )


def _download_once(url: str, target: Path, expected: str, algorithm: str, progress: ProgressCallback | None,
                   timeout: float) -> int:
    """One download of url into target via a temporary file; returns the size.

    Raises _Retryable or _Bad for network and checksum problems, DataError if the file cannot be written.
    """
    digest = hashlib.new(algorithm)
    try:
        with atomic_open(target, suffix=".part") as out:
            done, total = _stream(url, out, digest, target.name, progress, timeout)
            if total is not None and done != total:
                raise _Retryable(f"the connection closed after {done} of {total} bytes")
            actual = digest.hexdigest()
            if actual != expected:
                raise _Bad(f"{algorithm.upper()} checksum mismatch: expected {expected}, got {actual} "
                           f"({done} bytes); the file is corrupt or not the published one")
        return done
    except OSError as e:
        raise DataError(f"cannot write the downloaded file: {e.strerror or e}", where=str(target)) from None


def _stream(url: str, out, digest, filename: str, progress: ProgressCallback | None,
            timeout: float) -> tuple[int, int | None]:
    """Copy url's body into out, updating digest; returns (bytes received, Content-Length or None)."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        message = f"HTTP {e.code} {e.reason}"
        if e.code >= 500:
            raise _Retryable(message) from None
        raise _Bad(message) from None
    except ValueError as e:
        raise _Bad(f"invalid URL ({e})") from None
    except (OSError, http.client.HTTPException) as e:  # URLError is an OSError
        reason = getattr(e, "reason", None) or e
        raise _Retryable(f"connection failed ({reason})") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        if progress is not None:
            progress(filename, 0, total)
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as e:
                problem = f"{type(e).__name__}: {e}"
                raise _Retryable(f"the connection broke after {done} bytes ({problem})") from None
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(filename, done, total)
    return done, total


