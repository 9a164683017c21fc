"""Shared fixtures: the repository root, a CliRunner wrapper, a runs directory, a config writer,
and a central-difference gradient helper."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
XOR = ROOT / "configs" / "xor.yaml"


@pytest.fixture
def run_cli() -> Callable:
    """`run_cli("train", str(cfg), "--out", ...)` -> click Result (exit_code, stdout, stderr, exception)."""
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return run


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    """An empty parent directory for automatically named run directories."""
    path = tmp_path / "runs"
    path.mkdir()
    return path


@pytest.fixture
def write_config(tmp_path) -> Callable[[str, str], Path]:
    """`write_config(text, name="c.yaml")` writes a YAML file in tmp_path and returns its path."""

    def write(text: str, name: str = "c.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h e_i) - f(x - h e_i)) / 2h for every element of x (float64), in place."""
    g = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return g
