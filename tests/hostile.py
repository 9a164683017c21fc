"""Helpers for the hostile-input tests: a deadline for in-process commands, the outcome every command
must have (exit 0, 1 only for divergence, or 2 with one located message), and hostile files."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Iterator


class Hung(BaseException):
    """Raised by `deadline` (a BaseException, so that no `except Exception` in nncli can swallow it)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail with Hung if the block takes longer than `seconds` (SIGALRM interrupts blocking reads too)."""

    def alarm(signum, frame):
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def located_refusal(result, *phrases: str) -> str:
    """Assert exit 2 with one `error: ...` message (no traceback, no internal error) that contains every
    phrase; returns the message with its line wrapping undone."""
    out = result.output
    assert "Traceback" not in out and "internal error" not in out, out
    assert result.exit_code == 2, (result.exit_code, out)
    assert result.stderr.startswith("error: "), out
    message = " ".join(result.stderr.split())
    for phrase in phrases:
        assert phrase in message, (phrase, message)
    return message


def acceptable(result) -> None:
    """Exit 0, or exit 2 with a message; never an internal error or a traceback."""
    out = result.output
    assert "Traceback" not in out and "internal error" not in out, out
    assert result.exit_code in (0, 2), (result.exit_code, out)
    if result.exit_code == 2:  # the message may follow progress lines (a write failing while training)
        assert any(line.startswith("error: ") and len(line) > 8 for line in result.stderr.splitlines()), out


def trained_run(run: Path, *args) -> Path:
    """`nncli train ARGS --out RUN -q`, which must succeed (for module-scoped fixtures)."""
    from typer.testing import CliRunner

    from nncli.cli import app

    r = CliRunner().invoke(app, ["train", *map(str, args), "--out", str(run), "-q"])
    assert r.exit_code == 0, r.output
    return run


def nested(depth: int, style: str, leaf: str = "1") -> str:
    """YAML or JSON text nesting lists or mappings `depth` levels deep."""
    if style == "flow list":
        return "[" * depth + leaf + "]" * depth
    if style == "flow map":
        return "{a: " * depth + leaf + "}" * depth
    if style == "json map":
        return '{"a": ' * depth + leaf + "}" * depth
    if style == "block":
        return "".join("  " * i + "a:\n" for i in range(depth)) + "  " * depth + leaf
    raise ValueError(style)


def alias_bomb(levels: int, fan_out: int) -> str:
    """A YAML mapping of `levels` anchors, each a list of `fan_out` aliases of the one before: a few hundred
    bytes that expand to fan_out ** levels values."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * fan_out) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def special_files(tmp: Path) -> dict[str, Path]:
    """Paths that are not regular files: a FIFO (no writer: opening it for reading blocks), character
    devices that never end, and a directory."""
    fifo = tmp / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    folder = tmp / "folder"
    folder.mkdir(exist_ok=True)
    return {"fifo": fifo, "/dev/zero": Path("/dev/zero"), "/dev/urandom": Path("/dev/urandom"),
            "/dev/null": Path("/dev/null"), "directory": folder}
