"""TensorBoard event files of a run: a view of metrics.csv, which stays the source of truth.

Every metrics.csv column but `epoch` (loss, accuracy, val_*, test_*, lr, step, seconds) becomes a scalar
at step = epoch. TensorBoard stores scalars in float32: a value read back is exactly metrics.csv's value
rounded to float32 (TensorBoard's default loader drops double-precision scalar tensors, so there is no
exact float64 alternative that it shows). Each layer's weights and biases (`W1`, `b1`, ...) become
histograms under `weights/`. The events of a run go
to `<log dir>/<run directory name>/`, so the runs of a sweep appear side by side in TensorBoard.

Two ways in: `LiveEvents` (an `Events` that training calls when `train.tensorboard` is set; histograms
every `train.tensorboard_histograms` epochs, at the start and at the end) and `export_run` (the same
events from a finished run's metrics.csv and final weights). tensorboardX is the optional extra
`nncli[tensorboard]`, imported when a writer is made.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RunDirError
from .extras import require
from .nn.network import Network
from .events import Events, Start

HISTOGRAMS = 50  # histograms per tensor over a run, when train.tensorboard_histograms is not set
HISTOGRAM_BINS = 30  # as many as TensorBoard draws
FEATURE = "writing TensorBoard events"
FLUSH_SECONDS = 2.0  # events reach the file (and a TensorBoard watching it) within this time


def available() -> None:
    """MissingExtra (exit 2, with the pip command) when tensorboardX is not installed."""
    require("tensorboardX", "tensorboard", FEATURE)


def check_log_dir(root: Path) -> None:
    """Before a run starts, without creating anything: tensorboardX is installed, and the log directory
    `root` exists as a writable directory or can be created (its nearest existing parent is writable)."""
    available()
    existing = root.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise RunDirError(f"cannot be a TensorBoard log directory: {existing} is a file", where=str(root))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunDirError(f"cannot write the TensorBoard log directory here: {existing} is not writable",
                          where=str(root))


class EventWriter:
    """One event file in `directory` (created if missing), written through tensorboardX's synchronous
    writer and flushed every FLUSH_SECONDS and at the end. (Its asynchronous SummaryWriter hands every
    event to a thread through a multiprocessing queue at about 0.2 ms an event, which made training XOR,
    whose epochs take microseconds, 4 to 9 times slower.) A metrics row is one event of plain float
    scalars (what add_scalar writes, without its per-value conversions)."""

    def __init__(self, directory: Path):
        self._summary = require("tensorboardX.summary", "tensorboard", FEATURE)
        self._Event = require("tensorboardX.proto.event_pb2", "tensorboard", FEATURE).Event
        self._Summary = require("tensorboardX.proto.summary_pb2", "tensorboard", FEATURE).Summary
        writer = require("tensorboardX.event_file_writer", "tensorboard", FEATURE)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._writer = writer.EventsWriter(str(directory / "events"))
        except OSError as e:
            raise RunDirError(f"cannot write TensorBoard events: {e.strerror or e}", where=str(directory)) from None
        self._flushed = time.monotonic()

    def _add(self, summary, step: int) -> None:
        self._writer.write_event(self._Event(wall_time=time.time(), step=step, summary=summary))
        if time.monotonic() - self._flushed > FLUSH_SECONDS:
            self._writer.flush()
            self._flushed = time.monotonic()

    def scalars(self, row: dict[str, Any]) -> None:
        """Every column of a metrics row except `epoch` (empty cells skipped), at step = epoch."""
        values = [self._Summary.Value(tag=key, simple_value=float(value)) for key, value in row.items()
                  if key != "epoch" and value is not None]
        self._add(self._Summary(value=values), int(row["epoch"]))

    def histograms(self, net: Network, epoch: int) -> None:
        """A histogram of each weight and bias tensor (`weights/W1`, `weights/b1`, ...) at step = epoch."""
        for name, values in net.state().items():
            if not np.isfinite(values).all():  # a diverged step's weights cannot be binned
                continue
            values = np.asarray(values, dtype=np.float64)
            lo, hi = float(values.min()), float(values.max())
            # numpy cannot split a range of a few ulps (a constant 1e17 bias) into bins: one bin then
            bins = HISTOGRAM_BINS if hi - lo > 1e-9 * max(abs(lo), abs(hi), 1e-300) * HISTOGRAM_BINS else 1
            try:
                summary = self._summary.histogram(f"weights/{name}", values, bins=bins)
            except ValueError:  # still not binnable: the scalars are the record, skip this histogram
                continue
            self._add(summary, int(epoch))

    def close(self) -> None:
        self._writer.close()


class LiveEvents(Events):
    """Writes a training run's events as it trains: the metrics row of every epoch, and histograms of the
    weights at the start (a new run), every `every` epochs (default: about HISTOGRAMS over the run) and
    at the end. `close()` must be called when training ends (it writes the last histograms and flushes)."""

    def __init__(self, directory: Path, net: Network, every: int | None = None):
        self.writer = EventWriter(directory)
        self.net = net
        self.every = every
        self.last_epoch = 0
        self.last_histogram: int | None = None

    def on_start(self, start: Start) -> None:
        if self.every is None:
            self.every = max(1, start.epochs // HISTOGRAMS)
        self.last_epoch = start.first_epoch - 1
        if start.first_epoch == 1:
            self._histograms(0)

    def on_epoch(self, row: dict[str, Any]) -> None:
        self.writer.scalars(row)
        self.last_epoch = int(row["epoch"])
        if self.every and self.last_epoch % self.every == 0:
            self._histograms(self.last_epoch)

    def _histograms(self, epoch: int) -> None:
        self.writer.histograms(self.net, epoch)
        self.last_histogram = epoch

    def close(self) -> None:
        """The final weights' histograms (early stopping restores the best ones), then flush and close."""
        if self.last_histogram != self.last_epoch:
            self._histograms(self.last_epoch)
        self.writer.close()


def export_run(metrics: list[dict[str, Any]], net: Network | None, root: Path, name: str) -> Path:
    """Write the events of a finished run (its metrics rows, the histograms of its final weights at the
    last epoch) into `root/name`, which must not hold events yet. The events are written into a
    temporary directory first and renamed into place, so `root/name` appears complete or not at all."""
    directory = root / name
    if directory.exists() and any(directory.iterdir()):
        raise RunDirError(f"already holds TensorBoard events (written by training with train.tensorboard, or "
                          f"by an earlier export); remove it to write them again", where=str(directory))
    tmp = root / f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        writer = EventWriter(tmp)
        try:
            for row in metrics:
                writer.scalars(row)
            if net is not None:
                writer.histograms(net, int(metrics[-1]["epoch"]) if metrics else 0)
        finally:
            writer.close()
        os.replace(tmp, directory)
    except OSError as e:
        raise RunDirError(f"cannot write TensorBoard events: {e.strerror or e}", where=str(directory)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory
