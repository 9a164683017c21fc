"""`nncli data fetch NAME [--dir DIR] [--base-url URL]`: download a dataset into the cache.

Progress goes to stderr (a Rich progress bar on a terminal, one line per file otherwise, nothing with
--quiet); the dataset directory is printed on stdout, so `DIR=$(nncli data fetch mnist)` works.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ..data import fetch as fetch_module
from ..data import mnist


def fetch_command(name: str, dir: Path | None, base_url: str | None, quiet: bool) -> Path:
    """Download dataset `name` into `dir` (default: mnist.cache_dir(name)); print the directory on stdout.

    Raises NncliError subclasses (DataError) on unknown names and failed downloads. Returns the directory.
    """
    mnist.source(name)  # unknown names fail before anything is created
    dest = Path(dir).expanduser() if dir is not None else mnist.cache_dir(name)
    stderr = Console(stderr=True)

    if quiet:
        results = fetch_module.fetch(name, dest, base_url=base_url)
    elif stderr.is_terminal:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(filename: str, done: int, total: int | None) -> None:
                if filename not in tasks:
                    tasks[filename] = bar.add_task(filename, total=total)
                bar.update(tasks[filename], completed=done, total=total)

            results = fetch_module.fetch(name, dest, base_url=base_url, progress=progress)
    else:

        def log(filename: str, done: int, total: int | None) -> None:
            if done == 0:
                size = f" ({total:,} bytes)" if total is not None else ""
                stderr.print(f"{filename}: downloading{size}", highlight=False, markup=False,
                             soft_wrap=True)

        results = fetch_module.fetch(name, dest, base_url=base_url, progress=log)

    if not quiet:
        for result in results:
            what = "already present" if result.status == "skipped" else f"downloaded from {result.url}"
            stderr.print(f"{result.filename}: {what} ({result.size:,} bytes)", highlight=False,
                         markup=False, soft_wrap=True)
    sys.stdout.write(f"{dest}\n")
    sys.stdout.flush()
    return dest
