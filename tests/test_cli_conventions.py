"""What users expect of a command-line tool: --version, shell completion (bash sourced for real, zsh and
fish by their protocol), help texts printed as written, boolean flags shown as flags."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import nncli
from nncli.cli import app
from nncli.cli.completion import dotted_keys, value_choices
from nncli.data import DATASETS
from nncli.nn.activations import ACTIVATIONS
from nncli.nn.initializers import INITIALIZERS
from nncli.nn.losses import LOSSES
from nncli.nn.optimizers import OPTIMIZERS

from conftest import ROOT, XOR

BIN = Path(sys.executable).parent  # the venv's bin: the installed `nncli` script


# -- --version ----------------------------------------------------------------------------------------
def test_version_is_eager_and_exits_0():
    result = subprocess.run([BIN / "nncli", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"nncli {nncli.__version__} (numpy {np.__version__}, Python ")
    # eager: it wins over a command and its arguments
    result = CliRunner().invoke(app, ["--version", "train", "no-such.yaml"])
    assert result.exit_code == 0 and result.stdout.startswith("nncli ")


# -- completion ---------------------------------------------------------------------------------------
def complete(line: str, shell: str = "bash", cwd: Path = ROOT) -> list[str]:
    """The completions nncli answers for the command line `line` (cursor at its end), through the
    environment variables the shell's completion script sets."""
    env = {"_NNCLI_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        env.update(_NNCLI_COMP_LINE=line, _NNCLI_COMP_BREAKS=" \t\n\"'><=;|&(:", COMP_WORDS=line, COMP_CWORD="1")
    else:
        env.update(_TYPER_COMPLETE_ARGS=line, _TYPER_COMPLETE_FISH_ACTION="get-args")
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, [], env=env, prog_name="nncli")
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    if shell == "zsh":
        return re.findall(r'"((?:[^"]|"")*)"', result.stdout)
    return [w for w in result.stdout.splitlines() if w]


def test_completes_commands_and_options():
    assert complete("nncli tr") == ["train", "trace"]
    assert complete("nncli trai") == ["train"]
    assert complete("nncli ex") == ["export"]
    assert complete("nncli train --r") == ["--runs-dir", "--resume"]
    assert set(complete("nncli export x --format ")) == {"onnx", "tensorboard"}


def test_completes_config_files_and_run_dirs(tmp_path):
    assert complete("nncli train configs/x") == ["configs/xor.yaml"]
    assert "configs/spiral.yaml" in complete("nncli gradcheck c")
    runs = tmp_path / "runs"
    for name in ("xor-1", "xor-2", "spiral-1"):
        (runs / name).mkdir(parents=True)
        (runs / name / "config.yaml").write_text("seed: 0\n")
    (runs / "not-a-run").mkdir()
    assert complete("nncli inspect runs/x", cwd=tmp_path) == ["runs/xor-1", "runs/xor-2"]
    assert complete("nncli export r", cwd=tmp_path) == ["runs/spiral-1", "runs/xor-1", "runs/xor-2"]
    assert complete("nncli train --resume runs/s", cwd=tmp_path) == ["runs/spiral-1"]


@pytest.mark.parametrize("key, registry", [
    ("model.layers.1.activation", ACTIVATIONS), ("loss", LOSSES), ("optimizer.name", OPTIMIZERS),
    ("model.init", INITIALIZERS), ("data", DATASETS)])
def test_completes_registered_names_after_key(key, registry):
    line = f"nncli train configs/xor.yaml {key}="
    # bash completes the text after the "=" (readline breaks words there); zsh and fish whole words
    assert complete(line) == registry.names()
    assert complete(line, "zsh") == [f"{key}={n}" for n in registry.names()]
    assert complete(line, "fish") == [f"{key}={n}" for n in registry.names()]
    first = registry.names()[0]
    assert first in complete(line + first[:2])


def test_completes_dotted_keys():
    assert complete("nncli train configs/xor.yaml optimizer.l") == ["optimizer.lr="]
    assert complete("nncli config configs/xor.yaml train.ep", "fish") == ["train.epochs="]
    keys = dotted_keys(2)
    assert {"seed", "model.layers.1.units", "train.early_stopping.patience", "train.tensorboard"} <= set(keys)
    assert value_choices("optimizer.lr") == []


def test_bash_completes_in_a_real_bash():
    """`nncli --show-completion bash` sourced in an interactive bash; TAB after `nncli trai` gives `nncli train`."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    assert (BIN / "nncli").exists()
    typed = interactive_bash(bash, ['eval "$(nncli --show-completion bash)"'], "nncli trai\t")
    assert "nncli train " in typed
    typed = interactive_bash(bash, ['eval "$(nncli --show-completion bash)"', f"cd {ROOT}"],
                             "nncli train configs/xor.yaml loss=ms\t")
    assert "loss=mse " in typed


def interactive_bash(bash: str, setup: list[str], keys: str, wait: float = 20.0) -> str:
    """What an interactive bash (no rc files) echoes after running `setup` and typing `keys`, read until
    the line stops changing (or `wait` seconds)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PS1": "$ ", "TERM": "dumb",
           "INPUTRC": "/dev/null"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: bash reading from the pseudo-terminal
        os.execve(bash, [bash, "--norc", "--noprofile", "-i"], env)
    try:
        for line in setup:
            os.write(fd, (line + "\n").encode())
        os.write(fd, b"echo READY\n")
        _read_until(fd, lambda out: b"\nREADY" in out, wait)
        os.write(fd, keys.encode())
        out = _read_until(fd, lambda out: out.count(b"\x07") > 0 or out.endswith(b" "), wait, settle=1.0)
        return out.decode(errors="replace")
    finally:
        os.write(fd, b"\x03exit\n")
        time.sleep(0.2)
        os.close(fd)
        os.waitpid(pid, 0)


def _read_until(fd: int, done, wait: float, settle: float = 0.0) -> bytes:
    out, end, quiet_since = b"", time.time() + wait, None
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
            quiet_since = time.time()
        elif done(out) and (quiet_since is None or time.time() - quiet_since >= settle):
            break
    return out


def test_completion_scripts_for_each_shell():
    result = CliRunner().invoke(app, ["--show-completion", "zsh"])
    assert result.exit_code == 0 and "compdef _nncli_completion nncli" in result.stdout
    result = CliRunner().invoke(app, ["--show-completion", "fish"])
    assert result.exit_code == 0 and "complete --command nncli" in result.stdout
    result = CliRunner().invoke(app, ["--show-completion", "tcsh"])
    assert result.exit_code == 2 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.output


def test_install_completion_writes_the_script(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["--install-completion", "bash"])
    assert result.exit_code == 0, result.output
    script = tmp_path / ".bash_completions" / "nncli.sh"
    assert script.read_text() == CliRunner().invoke(app, ["--show-completion", "bash"]).stdout
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()


# -- help texts ---------------------------------------------------------------------------------------
def commands(group, path=()):
    """(path, click command) of every command and group under `group`."""
    yield path, group
    if hasattr(group, "list_commands"):  # a group (the root one loads its commands on demand)
        ctx = group.context_class(group)
        for name in group.list_commands(ctx):
            yield from commands(group.get_command(ctx, name), (*path, name))


def squeeze(text: str) -> str:
    """Whitespace collapsed, and line breaks after a hyphen undone (Click wraps `start-up` there)."""
    return re.sub(r"-\s+", "-", " ".join(text.split()))


def test_every_help_shows_its_texts_as_written():
    """Every command's --help holds its docstring and every parameter's help verbatim (no text swallowed
    as markup), and boolean flags have no value placeholder."""
    root = typer.main.get_command(app)
    seen = 0
    for path, cmd in commands(root):
        result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        shown = squeeze(result.stdout)
        expected = [cmd.help.split("\n\n")[0]] if cmd.help else []
        expected += [p.help for p in cmd.params if getattr(p, "help", None)]
        for text in expected:
            assert squeeze(text) in shown, (path, text)
        assert "<bool>" not in shown and "\\[" not in shown, path  # no placeholder, no leftover Rich escape
        for p in cmd.params:
            if getattr(p, "is_flag", False) and p.opts:
                longest = max(p.opts, key=len)  # `-q, --quiet  no progress`: no placeholder after it
                if p.secondary_opts:  # `--stack / --no-stack  text`
                    longest = f"{longest} / {max(p.secondary_opts, key=len)}"
                assert re.search(rf"{re.escape(longest)}\s{{2,}}[^-\s<{{]", result.stdout), (path, p.opts)
        seen += 1
    assert seen >= 12
    inspect_help = squeeze(CliRunner().invoke(app, ["inspect", "--help"]).stdout)
    assert 'pip install -e ".[plot]"' in inspect_help


def test_core_install_and_lazy_extras():
    """The core install stays numpy, typer, pyyaml, rich and pydantic; starting the CLI imports none of the
    optional packages (they are imported when a feature asks for them)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(re.split(r"[<>=!~ ]", d)[0] for d in project["dependencies"]) == [
        "numpy", "pydantic", "pyyaml", "rich", "typer"]
    assert {"onnx", "tensorboard", "plot", "test"} <= set(project["optional-dependencies"])
    code = ("import sys, nncli.cli; "
            "print([m for m in ('onnx', 'onnxruntime', 'tensorboardX', 'tensorboard', 'torch', 'sklearn') "
            "if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
