"""Continuing a run in its own directory (`nncli train --resume RUN_DIR`): what the run's files allow.

A diverged run is refused (it would diverge again); a completed or early-stopped run without a
checkpoint has nothing to continue; a run killed before its first checkpoint trains again from epoch 0
(same seed, same result); otherwise checkpoint.npz gives the weights, optimizer state, position inside the
epoch and the training generator, so the continued run ends bit for bit as an uninterrupted one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import checkpoint, runs
from .config import Config, apply_overrides, assignments, validate
from .errors import ConfigError, RunDirError
from .readers import parse_yaml
from .runner import Prepared, prepare
from .runs import RunDir
from .trainer import State


@dataclass
class Resume:
    """What a resume will do. `done`: the run has finished, nothing to train (`message` says so).
    Otherwise `prepared` is ready and `state` is the checkpoint's training state (None: no checkpoint was
    written yet, so training starts again from epoch 0 with the same seed)."""

    run: RunDir
    cfg: Config
    done: bool
    message: str
    summary: dict[str, Any]
    prepared: Prepared | None = None
    state: State | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def history(self) -> list[dict[str, Any]]:
        """summary.json's "resumed" list, with this resume appended."""
        st = self.state
        return resume_history(self.summary, st.epoch if st else 0, st.step if st else 0)


def resume_history(summary: dict[str, Any], epoch: int, step: int) -> list[dict[str, Any]]:
    """A run's summary.json "resumed" list with one more resume, at `epoch` and `step`, now."""
    earlier = summary.get("resumed")
    earlier = earlier if isinstance(earlier, list) else []
    return earlier + [{"epoch": epoch, "step": step, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]


def open_resume(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] | None = None) -> Resume:
    """Read a run directory to continue it: config.yaml (with KEY=VALUE overrides applied), summary.json's
    status, and checkpoint.npz. A diverged run is refused (RunDirError); a run whose edited config changes
    the network is refused (ConfigError); both exit 2."""
    path = Path(path)
    if path.is_dir() and not (path / runs.CONFIG).exists():
        raise RunDirError(f"has no {runs.CONFIG}: either the run was stopped before it started, or this is "
                          "not a run directory; there is nothing to resume (start a new run with "
                          "`nncli train CONFIG`)", where=str(path))
    run = RunDir.open(path)
    source = str(run.file(runs.CONFIG))
    raw = parse_yaml(run.read_config_text(), source)
    if not isinstance(raw, dict):
        raise ConfigError("is not a YAML mapping of keys to values", where=source)
    changed = dict(assignments(overrides))
    raw = apply_overrides(raw, changed)
    _fit_snapshots(raw, "train.snapshots" in changed)
    try:
        cfg = validate(raw)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    run.remove_temporaries()
    previous = run.read_summary()
    status = previous.get("status", "running")
    has_checkpoint = run.has_checkpoint()
    if status == "diverged":
        raise RunDirError(f"this run diverged ({previous.get('message') or 'NaN or infinite values'}); resuming "
                          f"would diverge again. Start a new run from its last finite weights with a smaller "
                          f"learning rate: nncli train CONFIG model.init_from={run.path} optimizer.lr=...",
                          where=str(run.path))
    if status in ("completed", "early_stopped") and not has_checkpoint:
        return Resume(run, cfg, True, f"{run.path} has already {status.replace('_', ' ')} "
                      f"({previous.get('epochs', '?')} epochs); nothing to resume. To train it further, start "
                      f"a new run from its weights: nncli train CONFIG model.init_from={run.path} (with "
                      f"train.checkpoint_every set, a finished run keeps a checkpoint, and resuming it with a "
                      f"larger train.epochs continues it)", previous)
    saved = checkpoint.read(run.file(runs.CHECKPOINT), cfg, source) if has_checkpoint else None
    prepared = prepare(cfg, warm_start=not has_checkpoint)
    if saved is None:
        return Resume(run, cfg, False, "no checkpoint was written yet: training again from epoch 0 with the same "
                      "seed (the result is the same as that of an uninterrupted run)", previous, prepared)
    state, notes = checkpoint.load(saved, prepared.trainer, len(prepared.data.train), source)
    if status == "early_stopped" or (status == "completed" and state.epoch >= cfg.train.epochs):
        return Resume(run, cfg, True, f"{run.path} has already {status.replace('_', ' ')} ({state.epoch} epochs); "
                      f"nothing to resume (to continue it, resume it with a larger train.epochs, such as "
                      f"train.epochs={2 * state.epoch})", previous, prepared, state, notes)
    if state.epoch == cfg.train.epochs and state.batch == 0:  # killed after its last checkpoint
        return Resume(run, cfg, False, f"finishing {run.path}: it trained all {state.epoch} epochs but was stopped "
                      f"before writing its final files", previous, prepared, state, notes)
    if state.epoch >= cfg.train.epochs:
        return Resume(run, cfg, True, f"{run.path} stopped at epoch {state.epoch}, and train.epochs is now "
                      f"{cfg.train.epochs}: nothing to train (raise train.epochs above {state.epoch} to continue "
                      f"it)", previous, prepared, state, notes)
    where = (f"epoch {state.epoch + 1}, batch {state.batch + 1}" if state.batch else f"epoch {state.epoch + 1}")
    return Resume(run, cfg, False, f"resuming {run.path} at {where} of {cfg.train.epochs} (step {state.step})",
                  previous, prepared, state, notes)


def _fit_snapshots(raw: dict, given: bool) -> None:
    """config.yaml records the number of snapshots chosen for the run's length; a resume that shortens
    `train.epochs` (without giving `train.snapshots`) takes as many as fit into the new length."""
    train = raw.get("train")
    if given or not isinstance(train, dict):
        return
    k, epochs = train.get("snapshots"), train.get("epochs")
    if type(k) is int and type(epochs) is int and 0 < epochs < k:
        train["snapshots"] = epochs
