"""Downloading (nncli.data.fetch, nncli.cli.data_fetch) against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import re
import socket
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nncli.cli.data_fetch import fetch_command
from nncli.data import fetch as fetch_module
from nncli.data import mnist
from nncli.data.fetch import fetch
from nncli.data.idx import write_idx
from nncli.errors import DataError

FILENAMES = list(mnist.FILES.values())


class Server:
    """A local HTTP server serving `files` (name -> bytes). `behaviour[name]` is a list of what to do for
    successive requests ("ok", "drop" = send half the body then close, "503", "404"); after the list is
    used up, requests are served normally. `requests` counts requests per file name."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.behaviour: dict[str, list[str]] = {}
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                name = self.path.rsplit("/", 1)[-1]
                with server.lock:
                    server.requests[name] += 1
                    plan = server.behaviour.get(name) or []
                    action = plan.pop(0) if plan else "ok"
                body = server.files.get(name)
                if body is None or action == "404":
                    self.send_error(404, "Not Found")
                    return
                if action == "503":
                    self.send_error(503, "Service Unavailable")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if action == "drop":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def dataset(tmp_path) -> dict[str, bytes]:
    """A tiny MNIST-format dataset written with write_idx: file name -> .gz bytes."""
    served = tmp_path / "served"
    served.mkdir()
    rng = np.random.default_rng(7)
    arrays = {
        "train_images": rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, 8, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    return {filename: write_idx(served / filename, arrays[role]).read_bytes()
            for role, filename in mnist.FILES.items()}


@pytest.fixture
def server(dataset):
    with Server(dataset) as s:
        yield s


def md5s(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(body).hexdigest() for name, body in files.items()}


def leftovers(directory: Path) -> list[str]:
    """Files in directory other than the four dataset files (temporary or partial files)."""
    return sorted(p.name for p in directory.iterdir() if p.name not in FILENAMES)


def test_downloads_verified_files(tmp_path, dataset, server):
    dest = tmp_path / "cache" / "mnist"
    calls = []
    results = fetch("mnist", dest, base_url=server.url, checksums=md5s(dataset), timeout=5,
                    progress=lambda *args: calls.append(args))

    assert [r.filename for r in results] == FILENAMES
    assert all(r.status == "downloaded" for r in results)
    for r in results:
        assert r.path == dest / r.filename and r.path.read_bytes() == dataset[r.filename]
        assert r.size == len(dataset[r.filename]) and r.url == server.url + r.filename
        assert (r.filename, 0, r.size) in calls
        assert (r.filename, r.size, r.size) in calls
    assert leftovers(dest) == []
    assert all(count == 1 for count in server.requests.values()) and len(server.requests) == 4
    data = mnist.load_arrays("mnist", dest)
    assert data["train_images"].shape == (8, 28, 28) and data["test_labels"].shape == (3,)


def test_sha256_checksums_accepted(tmp_path, dataset, server):
    sums = {name: hashlib.sha256(body).hexdigest() for name, body in dataset.items()}
    results = fetch("mnist", tmp_path / "d", base_url=server.url, checksums=sums, timeout=5)
    assert [r.status for r in results] == ["downloaded"] * 4


def test_present_valid_files_are_skipped_without_a_request(tmp_path, dataset, server):
    dest = tmp_path / "d"
    dest.mkdir()
    for name, body in dataset.items():
        (dest / name).write_bytes(body)
    results = fetch("mnist", dest, base_url=server.url, checksums=md5s(dataset), timeout=5)
    assert [r.status for r in results] == ["skipped"] * 4
    assert [r.size for r in results] == [len(dataset[n]) for n in FILENAMES]
    assert sum(server.requests.values()) == 0


def test_present_invalid_file_is_replaced(tmp_path, dataset, server):
    dest = tmp_path / "d"
    dest.mkdir()
    for name, body in dataset.items():
        (dest / name).write_bytes(body)
    (dest / FILENAMES[1]).write_bytes(b"half a file")
    results = fetch("mnist", dest, base_url=server.url, checksums=md5s(dataset), timeout=5)
    assert [r.status for r in results] == ["skipped", "downloaded", "skipped", "skipped"]
    assert (dest / FILENAMES[1]).read_bytes() == dataset[FILENAMES[1]]
    assert dict(server.requests) == {FILENAMES[1]: 1}


def test_corrupted_file_fails_and_leaves_nothing(tmp_path, dataset, server):
    sums = md5s(dataset)
    bad = FILENAMES[2]
    body = bytearray(dataset[bad])
    body[100] ^= 0xFF
    server.files[bad] = bytes(body)
    dest = tmp_path / "d"
    with pytest.raises(DataError) as info:
        fetch("mnist", dest, base_url=server.url, checksums=sums, timeout=5)
    message = str(info.value)
    assert info.value.where == str(dest / bad)
    assert server.url + bad in message
    assert f"MD5 checksum mismatch: expected {sums[bad]}, got {hashlib.md5(body).hexdigest()}" in message
    assert not (dest / bad).exists()
    assert leftovers(dest) == []
    assert server.requests[bad] == 1  # a wrong checksum is not retried


def test_connection_dropped_mid_body_is_retried_once_then_fails(tmp_path, dataset, server):
    name = FILENAMES[0]
    server.behaviour[name] = ["drop", "drop", "drop"]
    dest = tmp_path / "d"
    with pytest.raises(DataError) as info:
        fetch("mnist", dest, base_url=server.url, checksums=md5s(dataset), timeout=5)
    message = str(info.value)
    half, full = len(dataset[name]) // 2, len(dataset[name])
    assert f"the connection closed after {half} of {full} bytes (tried 2 times)" in message
    assert server.url + name in message
    assert server.requests[name] == 2
    assert list(dest.iterdir()) == []  # no partial file, no temporary file


def test_connection_dropped_once_then_succeeds(tmp_path, dataset, server):
    name = FILENAMES[0]
    server.behaviour[name] = ["drop"]
    calls = []
    results = fetch("mnist", tmp_path / "d", base_url=server.url, checksums=md5s(dataset), timeout=5,
                    progress=lambda *args: calls.append(args))
    assert [r.status for r in results] == ["downloaded"] * 4
    assert results[0].path.read_bytes() == dataset[name]
    assert server.requests[name] == 2
    assert [c for c in calls if c[0] == name and c[1] == 0] == [(name, 0, len(dataset[name]))] * 2
    assert leftovers(tmp_path / "d") == []


def test_server_error_once_then_succeeds(tmp_path, dataset, server):
    name = FILENAMES[3]
    server.behaviour[name] = ["503"]
    results = fetch("mnist", tmp_path / "d", base_url=server.url, checksums=md5s(dataset), timeout=5)
    assert results[3].status == "downloaded" and results[3].path.read_bytes() == dataset[name]
    assert server.requests[name] == 2


def test_not_found_is_not_retried(tmp_path, dataset, server):
    del server.files[FILENAMES[1]]
    with pytest.raises(DataError, match="HTTP 404") as info:
        fetch("mnist", tmp_path / "d", base_url=server.url, checksums=md5s(dataset), timeout=5)
    assert "tried 2 times" not in str(info.value)
    assert server.requests[FILENAMES[1]] == 1
    assert (tmp_path / "d" / FILENAMES[0]).is_file()  # files before it were kept, verified
    assert leftovers(tmp_path / "d") == []


def test_connection_refused_is_retried_then_fails(tmp_path, dataset):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match=r"connection failed .* \(tried 2 times\)"):
        fetch("mnist", tmp_path / "d", base_url=f"http://127.0.0.1:{port}", checksums=md5s(dataset),
              timeout=5)
    assert list((tmp_path / "d").iterdir()) == []


def test_base_url_precedence(monkeypatch):
    for var in ("NNCLI_MNIST_URL", "NNCLI_FASHION_MNIST_URL", "NNCLI_DATA_URL"):
        monkeypatch.delenv(var, raising=False)
    assert fetch_module.base_urls("mnist") == list(mnist.SOURCES["mnist"].urls)
    assert fetch_module.base_urls("fashion-mnist") == list(mnist.SOURCES["fashion-mnist"].urls)
    monkeypatch.setenv("NNCLI_DATA_URL", "http://mirror.test/datasets")
    assert fetch_module.base_urls("fashion-mnist") == ["http://mirror.test/datasets/fashion-mnist/"]
    monkeypatch.setenv("NNCLI_FASHION_MNIST_URL", "http://fm.test/x")
    assert fetch_module.base_urls("fashion-mnist") == ["http://fm.test/x/"]
    assert fetch_module.base_urls("mnist") == ["http://mirror.test/datasets/mnist/"]
    assert fetch_module.base_urls("fashion-mnist", "http://arg.test/") == ["http://arg.test/"]


def test_env_url_is_used(monkeypatch, tmp_path, dataset, server):
    monkeypatch.setenv("NNCLI_FASHION_MNIST_URL", server.url)
    results = fetch("fashion-mnist", tmp_path / "d", checksums=md5s(dataset), timeout=5)
    assert [r.url for r in results] == [server.url + n for n in FILENAMES]


def test_published_checksums_are_well_formed():
    for name, src in mnist.SOURCES.items():
        assert src.name == name and src.urls
        assert sorted(src.md5) == sorted(FILENAMES)
        assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in src.md5.values())


def test_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match="unknown MNIST-format dataset 'cifar'"):
        fetch("cifar", tmp_path / "d")
    assert not (tmp_path / "d").exists()


# --- the CLI function ---------------------------------------------------------------------------------

@pytest.fixture
def local_sources(monkeypatch, dataset):
    """Make the published checksums those of the fixture files (the CLI has no checksum override)."""
    sources = dict(mnist.SOURCES)
    sources["mnist"] = mnist.Source("mnist", ("http://unused.invalid/",), md5s(dataset))
    monkeypatch.setattr(mnist, "SOURCES", sources)


def test_fetch_command_prints_dir_on_stdout(monkeypatch, capsys, tmp_path, local_sources, server):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    monkeypatch.setenv("NNCLI_DATA", str(tmp_path / "data"))
    dest = fetch_command("mnist", None, server.url, quiet=False)
    out, err = capsys.readouterr()
    assert dest == tmp_path / "data" / "mnist"
    assert out == f"{dest}\n"
    assert f"train-images-idx3-ubyte.gz: downloaded from {server.url}train-images-idx3-ubyte.gz" in err
    fetch_command("mnist", None, server.url, quiet=False)
    out, err = capsys.readouterr()
    assert out == f"{dest}\n" and err.count("already present") == 4


def test_fetch_command_quiet_and_dir(capsys, tmp_path, local_sources, server):
    dest = fetch_command("mnist", tmp_path / "mine", server.url, quiet=True)
    out, err = capsys.readouterr()
    assert dest == tmp_path / "mine" and out == f"{dest}\n" and err == ""
    assert sorted(p.name for p in dest.iterdir()) == sorted(FILENAMES)


def test_fetch_command_progress_bar_on_a_terminal(monkeypatch, capsys, tmp_path, dataset, local_sources,
                                                  server):
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich treats stderr as a terminal
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    dest = fetch_command("mnist", tmp_path / "d", server.url, quiet=False)
    out, err = capsys.readouterr()
    assert out == f"{dest}\n"
    labels_size = len(dataset["t10k-labels-idx1-ubyte.gz"])
    assert "━" in err and f"{labels_size}/{labels_size} bytes" in err  # the bar with DownloadColumn


def test_fetch_command_failure_raises_data_error(capsys, tmp_path, local_sources, server):
    server.files[FILENAMES[0]] = b"not the file"
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch_command("mnist", tmp_path / "d", server.url, quiet=True)
    assert capsys.readouterr().out == ""
