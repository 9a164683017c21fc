"""`Run`: a trained run as the library hands it out: its resolved config, network, metrics and summary,
read back from a run directory (`load_run`) or kept in memory (`nncli.train(..., runs_dir=None)`), with
the operations people do on it: predict, evaluate, and get the data it trained on."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from . import evaluation, snapshots
from .config import Config, validate
from .data.splits import TrainData
from .errors import ConfigError, RunDirError
from .metrics import outputs, predicted_classes
from .model import empty_network, load_weights_into
from .nn.network import Network
from .readers import parse_yaml
from .runner import run_data
from .runs import CONFIG, SNAPSHOTS, SUMMARY, WEIGHTS, MemoryRun, RunDir


class Run:
    """One run. `path` is its directory (None for a run kept in memory); `network` is None only for a run
    killed before it wrote weights.npz. `notes` are what the library had to say about it (warnings, what a
    resume did); `trained` is False when a resume found nothing left to train."""

    def __init__(self, config: Config, network: Network | None, summary: dict[str, Any], path: Path | None = None,
                 memory: MemoryRun | None = None, notes: list[str] | None = None, trained: bool = True):
        self.config = config
        self.network = network
        self.summary = summary
        self.path = path
        self.memory = memory  # the files of a run kept in memory (MemoryRun.save writes them to a directory)
        self.notes = list(notes or [])
        self.trained = trained

    def __repr__(self) -> str:
        return f"Run({str(self.path) if self.path else 'in memory'}, status={self.status!r})"

    @property
    def status(self) -> str:
        """summary.json's status; `incomplete` when there is none (killed, or still running)."""
        return str(self.summary.get("status") or "incomplete")

    @property
    def rundir(self) -> RunDir | None:
        return RunDir(self.path) if self.path is not None else None

    @cached_property
    def _metrics(self) -> tuple[list[str], list[dict[str, float | None]]]:
        if self.memory is not None:
            return self.memory.columns, self.memory.rows
        return self.rundir.read_metrics()

    @property
    def columns(self) -> list[str]:
        """The columns of metrics.csv."""
        return self._metrics[0]

    @property
    def metrics(self) -> list[dict[str, float | None]]:
        """metrics.csv as one dict per epoch (None where a cell is empty)."""
        return self._metrics[1]

    @property
    def history(self) -> dict[str, np.ndarray]:
        """metrics.csv as columns: {"epoch": array, "loss": array, ...} (NaN where a cell is empty)."""
        return {c: np.array([np.nan if r.get(c) is None else r[c] for r in self.metrics], dtype=np.float64)
                for c in self.columns}

    @cached_property
    def snapshots(self) -> snapshots.Record | None:
        """The weights recorded during training (train.snapshots; snapshots.npz), None when there are none.
        RunDirError for a damaged file."""
        if self.network is None:
            return None
        if self.memory is not None:
            arrays = self.memory.snapshots
            return snapshots.from_arrays(arrays, self.network, "snapshots in memory") if arrays else None
        return snapshots.read(self.rundir.file(SNAPSHOTS), self.network)

    # -- using the network ------------------------------------------------------------------------
    def _net(self) -> Network:
        if self.network is None:
            raise RunDirError(f"has no {WEIGHTS} (training did not finish writing it)", where=str(self.path))
        return self.network

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs Y_L (N, units) for inputs X (N, n_0), in chunks of rows."""
        return outputs(self._net(), np.asarray(X, dtype=self._net().layers[0].W.dtype))

    def predict_classes(self, X: np.ndarray) -> np.ndarray:
        """The predicted class of each row of X: argmax, or output > 0.5 for one sigmoid unit."""
        return predicted_classes(self.predict(X))

    def predictions(self, X: np.ndarray) -> evaluation.Predictions:
        """Outputs, classes and class names for inputs X, as `nncli predict` prints them."""
        return evaluation.predict(self._net(), X, evaluation.is_classification(self.config, self.summary),
                                  evaluation.class_names(self.config, self.summary))

    def read_inputs(self, path: str | Path) -> np.ndarray:
        """Inputs for this run's network from a .npy, .npz, .csv or IDX file, prepared as in training."""
        return evaluation.read_inputs(path, self.config, self._net().sizes[0])

    def evaluate(self, split: str = "auto", data: list[str] | None = None) -> evaluation.Evaluation:
        """The numbers `nncli evaluate` prints: loss, accuracy, confusion matrix on the run's test set
        (else validation split, else training set; `split` chooses), or on other `data` (KEY=VALUE
        overrides of the data section, or a .csv/.npz file or dataset directory)."""
        return evaluation.evaluate(self.config, self._net(), data, split, self.classes())

    def classes(self) -> list[str] | None:
        """The names of the classes this run tells apart ("0", "1", ... where the data names none), or None
        for regression."""
        names = evaluation.class_names(self.config, self.summary)
        dataset = self.summary.get("dataset")
        count = dataset.get("classes") if isinstance(dataset, dict) else None
        if names is None and isinstance(count, int) and not isinstance(count, bool) and count > 0:
            names = [str(i) for i in range(count)]
        return names

    def data(self) -> TrainData:
        """The train / validation / test splits this run used, recomputed exactly as training made them."""
        return run_data(self.config)


def load_run(path: str | Path, require_weights: bool = True) -> Run:
    """Read a run directory back: config.yaml validated, weights.npz checked against it (names, shapes,
    finite values). RunDirError (exit 2) when the directory is missing, not a run, or damaged.
    `require_weights=False` accepts a run killed before weights.npz was written (network None) as long as
    it has no summary.json either (a finished run without weights is damaged)."""
    run = RunDir.open(path)
    try:
        raw = parse_yaml(run.read_config_text(), str(run.file(CONFIG)))
        if not isinstance(raw, dict):
            raise ConfigError("is not a YAML mapping", where=str(run.file(CONFIG)))
        cfg = validate(raw)
    except ConfigError as e:
        raise RunDirError(f"its config.yaml is not a valid config: {e}", where=str(run.path)) from None
    if cfg.model.input is None:
        raise RunDirError("config.yaml has no model.input (was it written by `nncli train`?)",
                          where=str(run.file(CONFIG)))
    if not run.file(WEIGHTS).exists():  # anything else there is read, and refused if it is no file
        if not require_weights and not run.file(SUMMARY).exists():
            return Run(cfg, None, {}, run.path)
        raise RunDirError(f"has no {WEIGHTS} (training did not finish writing it)", where=str(run.path))
    net = empty_network(cfg)
    try:
        load_weights_into(net, run.file(WEIGHTS), where="")  # its messages name the file already
    except ConfigError as e:
        raise RunDirError(str(e)) from None
    return Run(cfg, net, run.read_summary(), run.path)
