"""Errors raised by the library. The CLI prints their message (no traceback) and exits with `exit_code`.

Exit codes (documented in README): 0 success, 1 training failed (diverged, gradcheck over tolerance),
2 bad usage, config or data, 130 interrupted.

Messages speak of values, config paths and the library's own parameter names, never of CLI flags. Where a
message names a parameter of a library function (`split`, `max_params`, `runs_dir`), it is written
`argument("max_params")`: `str(error)` shows the parameter name, and the CLI shows the flag that sets it
(`--max-params`) with `error.text(flags=True)`.
"""

from __future__ import annotations

import re

_MARK = "\x1a"
_ARGUMENT = re.compile(f"{_MARK}([A-Za-z_][A-Za-z0-9_]*)(?:\\|([^{_MARK}]*))?{_MARK}")


def argument(name: str, cli_flag: str | None = None) -> str:
    """A reference to the library parameter `name` inside a message (see the module docstring);
    `cli_flag` when the command line's flag is not `--name-with-dashes`."""
    return f"{_MARK}{name}|{cli_flag}{_MARK}" if cli_flag else f"{_MARK}{name}{_MARK}"


def flag(name: str) -> str:
    """The command-line flag that sets parameter `name`: max_params -> --max-params."""
    return "--" + name.replace("_", "-")


def render(text: str, flags: bool = False) -> str:
    """A message with its parameter references written as names, or as the CLI's flags."""
    return _ARGUMENT.sub(lambda m: (m.group(2) or flag(m.group(1))) if flags else m.group(1), text)


class NncliError(Exception):
    """Base class: a message that says what was wrong, where, and what would be right."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None):
        self.where = where
        self.raw = f"{where}: {message}" if where else message
        super().__init__(render(self.raw))

    def text(self, flags: bool = False) -> str:
        """The message; with `flags`, parameters are named by their command-line flags."""
        return render(self.raw, flags)


class ConfigError(NncliError):
    """A config file, override or config value is wrong. `where` is the dotted path or file:line:col."""


class DataError(NncliError):
    """A dataset or data file is missing, malformed or inconsistent. `where` names the file (and row)."""


class RunDirError(NncliError):
    """A run directory is missing, incomplete, corrupted or cannot be written."""


class GradcheckFailed(NncliError):
    """Analytic and numerical gradients disagree beyond tolerance. Exit code 1."""

    exit_code = 1


class MissingExtra(NncliError):
    """A feature needs an optional dependency (a pip extra) that is not installed. Exit code 2."""
