"""README's examples of using a run elsewhere run as shown: loading weights.npz into torch.nn.Linear layers
and into scikit-learn's MLPClassifier (each when that library is installed; neither is a dependency), and
running an exported ONNX model with onnxruntime."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def readme_python_blocks(heading: str) -> list[str]:
    """The ```python blocks under a `### heading` of README.md (up to the next heading)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = re.split(r"\n#{2,3} ", text.split(f"\n### {heading}\n", 1)[1], maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", body, re.S)


def run_block(code: str, tmp_path) -> None:
    shutil.copytree(ROOT / "configs", tmp_path / "configs", dirs_exist_ok=True)
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def block_using(module: str, heading: str) -> str:
    blocks = [b for b in readme_python_blocks(heading) if re.search(rf"^(import|from) {module}\b", b, re.M)]
    assert len(blocks) == 1, f"README has one {module} example under {heading}"
    return blocks[0]


def test_readme_torch_example(tmp_path):
    code = block_using("torch", "PyTorch and scikit-learn")  # found even where torch is missing
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed (it is not a dependency of nncli)")
    assert "W.T" in code  # the transpose the README teaches
    run_block(code, tmp_path)


def test_readme_sklearn_example(tmp_path):
    code = block_using("sklearn", "PyTorch and scikit-learn")
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn is not installed (it is not a dependency of nncli)")
    run_block(code, tmp_path)


def test_readme_onnxruntime_example(tmp_path):
    code = block_using("onnxruntime", "ONNX")
    pytest.importorskip("onnxruntime")
    import nncli

    run = nncli.train(ROOT / "configs" / "spiral.yaml", {"train.epochs": 2}, runs_dir=tmp_path / "runs")
    nncli.export(run, "onnx", tmp_path / "spiral.onnx")
    run_block(code.replace("/tmp/spiral.onnx", str(tmp_path / "spiral.onnx")), tmp_path)
