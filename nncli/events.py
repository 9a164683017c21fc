"""What a training run tells its caller (the progress view, a notebook, TensorBoard, the snapshot
recorder): `Start` once, then a call per batch and per epoch. `Events` is the base class to subclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Start:
    """What a run says when training starts: its directory (None in memory), the planned epochs, the
    epoch it starts from (a resumed run), warnings (e.g. a batch size larger than the data) and notes
    (what a resume does), each to show once."""

    run_dir: Path | None
    epochs: int
    first_epoch: int = 1
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Events:
    """What training tells its caller (the progress view, a notebook). Subclass and override what you
    need; `Events.of(obj)` adapts any object that has some of these methods."""

    def on_start(self, start: Start) -> None:
        """Once, after the run directory is ready and before the first batch."""

    def on_batch(self, epoch: int, batch: int, batches: int) -> None:
        """After every optimizer step (batch counts from 1)."""

    def on_epoch(self, row: dict[str, Any]) -> None:
        """After every epoch, with its metrics row (as in metrics.csv)."""

    @staticmethod
    def of(obj: Any) -> "Events":
        """`obj` itself if it is an Events, else an Events calling whichever of its methods exist."""
        if obj is None:
            return Events()
        if isinstance(obj, Events):
            return obj
        adapted = Events()
        for name in ("on_start", "on_batch", "on_epoch"):
            if callable(getattr(obj, name, None)):
                setattr(adapted, name, getattr(obj, name))
        return adapted


class EventsList(Events):
    """Several Events called in turn (the progress view and a TensorBoard writer, say)."""

    def __init__(self, *events: Any):
        self.events = [Events.of(e) for e in events]

    def on_start(self, start: Start) -> None:
        for e in self.events:
            e.on_start(start)

    def on_batch(self, epoch: int, batch: int, batches: int) -> None:
        for e in self.events:
            e.on_batch(epoch, batch, batches)

    def on_epoch(self, row: dict[str, Any]) -> None:
        for e in self.events:
            e.on_epoch(row)
