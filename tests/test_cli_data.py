"""`nncli data list | info | fetch` through the CLI (CliRunner), on tiny IDX fixtures and CSV files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_datasets_files import make_idx_dir


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """$NNCLI_DATA pointing at a directory holding a tiny `mnist` (50 training, 20 test images)."""
    root = tmp_path / "data"
    make_idx_dir(root / "mnist")
    monkeypatch.setenv("NNCLI_DATA", str(root))
    return root


def test_data_list_shows_every_dataset_and_where_files_are(run_cli, data_root):
    r = run_cli("data", "list", "--json")
    assert r.exit_code == 0, r.output
    entries = {e["name"]: e for e in json.loads(r.stdout)}
    assert {"xor", "spiral", "csv", "npz", "mnist", "fashion-mnist"} <= set(entries)
    assert entries["mnist"]["found"] == str(data_root / "mnist")
    assert entries["mnist"]["kind"] == "files" and entries["xor"]["kind"] == "generated"
    table = run_cli("data", "list")
    assert table.exit_code == 0 and "mnist" in table.stdout and "generated" in table.stdout


def test_data_list_says_how_to_fetch_a_missing_dataset(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("NNCLI_DATA", str(tmp_path / "empty"))
    r = run_cli("data", "list", "--json")
    mnist = next(e for e in json.loads(r.stdout) if e["name"] == "mnist")
    assert mnist["found"] is None and mnist["looked_in"] == [str(tmp_path / "empty" / "mnist")]
    table = run_cli("data", "list").stdout
    assert "missing: nncli data fetch" in " ".join(table.split())


def test_data_info_mnist_format_sizes_files_and_class_counts(run_cli, data_root):
    r = run_cli("data", "info", "mnist", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["train_samples"] == 50 and d["test_samples"] == 20 and d["features"] == 12
    assert d["class_counts"]["train"] == [5] * 10 and d["class_counts"]["test"] == [2] * 10
    assert d["files"]["train_images"]["path"] == str(data_root / "mnist" / "train-images-idx3-ubyte.gz")
    assert d["files"]["test_images"]["path"].endswith("t10k-images-idx3-ubyte")  # the raw file was found
    assert d["image_shape"] == [4, 3]
    text = run_cli("data", "info", "mnist", "limit=20")
    assert text.exit_code == 0 and "20 training samples" in text.stdout and "20 test samples" in text.stdout


def test_data_info_on_a_csv_file(run_cli, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,kind\n1,2,cat\n3,4,dog\n5,6,cat\n")
    r = run_cli("data", "info", "csv", f"path={path}", "target=kind", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["class_names"] == ["cat", "dog"] and d["class_counts"]["train"] == [2, 1]
    assert d["features"] == 2 and d["source"] == str(path)


@pytest.mark.parametrize("args, expected", [
    (["data", "info", "fashion-mnis"], "did you mean 'fashion-mnist'?"),
    (["data", "info", "spiral", "clases=3"], "data.clases: unknown key; did you mean 'classes'?"),
    (["data", "info", "spiral", "classes"], "must look like KEY=VALUE"),
    (["data", "info", "csv", "path=/nonexistent/x.csv"], "/nonexistent/x.csv: no such file"),
    (["data", "fetch", "cifar"], "unknown MNIST-format dataset 'cifar'"),
])
def test_data_commands_bad_input_exit_2(run_cli, args, expected):
    r = run_cli(*args)
    assert r.exit_code == 2
    assert expected in r.stderr.replace("\n", " ")
    assert "Traceback" not in r.output


def test_data_fetch_broken_connection_fails_cleanly(run_cli, tmp_path):
    dest = tmp_path / "dest"
    r = run_cli("data", "fetch", "mnist", "--dir", dest, "--base-url", "http://127.0.0.1:9/", "--quiet")
    assert r.exit_code == 2
    assert "error:" in r.stderr and r.stdout == ""
    assert not dest.exists() or not any(p.is_file() and p.stat().st_size for p in dest.iterdir())


def test_data_fetch_skips_files_already_present_and_valid(run_cli, tmp_path, monkeypatch):
    """With every file present and matching its checksum, fetch downloads nothing and prints the dir."""
    import hashlib

    from nncli.data import mnist
    from nncli.data.idx import write_idx

    d = make_idx_dir(tmp_path / "m")
    (d / "t10k-images-idx3-ubyte").unlink()
    write_idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((20, 4, 3), np.uint8))
    fake = mnist.Source(name="mnist", urls=("http://127.0.0.1:9/",), md5={
        f: hashlib.md5((d / f).read_bytes()).hexdigest() for f in mnist.FILES.values()})
    monkeypatch.setattr(mnist, "SOURCES", {"mnist": fake})
    r = run_cli("data", "fetch", "mnist", "--dir", d)
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(d)
    assert r.stderr.count("already present") == 4
