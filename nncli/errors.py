"""Errors raised by the library. The CLI prints their message (no traceback) and exits with `exit_code`.

Exit codes (documented in README): 0 success, 1 training failed (diverged, gradcheck over tolerance),
2 bad usage, config or data, 130 interrupted.
"""


class NncliError(Exception):
    """Base class: a message that says what was wrong, where, and what would be right."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None):
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(NncliError):
    """A config file, override or config value is wrong. `where` is the dotted path or file:line:col."""


class DataError(NncliError):
    """A dataset or data file is missing, malformed or inconsistent. `where` names the file (and row)."""


class RunDirError(NncliError):
    """A run directory is missing, incomplete, corrupted or cannot be written."""


class GradcheckFailed(NncliError):
    """Analytic and numerical gradients disagree beyond tolerance. Exit code 1."""

    exit_code = 1
