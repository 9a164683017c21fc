"""`nncli export`: a trained run in the formats other tools read. Each format is a class registered in
EXPORT_FORMATS (`onnx`, `tensorboard`) that says which options it takes, where it writes by default and
how; `export(run, format, out, **options)` checks the arguments and calls it. Nothing is half-written:
files appear by atomic rename."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, atomic, evaluation, onnx_export, tensorboard
from .errors import ConfigError, RunDirError, argument
from .model import architecture
from .registry import Registry
from .run import Run

EXPORT_FORMATS: Registry[type["ExportFormat"]] = Registry("export format")


@dataclass
class Exported:
    """What an export wrote: the format, the file or directory, and details to report (an ONNX model's
    opset and size, the --check result)."""

    format: str
    path: Path
    details: dict[str, Any] = field(default_factory=dict)
    check: onnx_export.Check | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"format": self.format, "path": str(self.path), **self.details}
        if self.check is not None:
            out["check"] = self.check.to_dict()
        return out


class ExportFormat:
    """A way to write a run for another tool. `options` are the keyword options `write` takes."""

    name = ""
    options: tuple[str, ...] = ()

    def default_out(self, run: Run) -> Path:
        raise NotImplementedError

    def write(self, run: Run, out: Path, **options: Any) -> Exported:
        raise NotImplementedError


@EXPORT_FORMATS.register("onnx")
class Onnx(ExportFormat):
    """The network as an ONNX model file (default RUN_DIR/model.onnx); `check` compares onnxruntime's
    outputs with nncli's on the run's test rows (else validation, else training rows)."""

    options = ("opset", "check")

    def default_out(self, run: Run) -> Path:
        return run.path / "model.onnx"

    def write(self, run: Run, out: Path, opset: int | None = None, check: bool = False) -> Exported:
        net = run_network(run)
        _check_file(out)
        opset = opset if opset is not None else onnx_export.DEFAULT_OPSET
        model = onnx_export.to_onnx(net, opset, onnx_metadata(run), name=run_name(run))
        result = None
        if check:  # before writing: when the data cannot be loaded or onnxruntime fails, nothing is written
            split, X = check_rows(run)
            result = onnx_export.check(model, net, X, split)
        try:
            atomic.write_bytes(out, model)
        except OSError as e:
            raise ConfigError(f"cannot write: {e.strerror or e}", where=str(out)) from None
        details = {"opset": opset, "bytes": len(model), "dtype": run.config.dtype,
                   "input": onnx_export.INPUT, "input_shape": ["batch", net.sizes[0]],
                   "output": onnx_export.OUTPUT, "output_shape": ["batch", net.sizes[-1]]}
        return Exported(self.name, out, details, result)


@EXPORT_FORMATS.register("tensorboard")
class TensorBoard(ExportFormat):
    """TensorBoard event files of metrics.csv and the final weights, in OUT/<run directory name>/
    (default OUT: ./tensorboard), as training with train.tensorboard writes them."""

    def default_out(self, run: Run) -> Path:
        return Path("tensorboard")

    def write(self, run: Run, out: Path) -> Exported:
        tensorboard.available()
        _check_parent(out)
        try:
            out.mkdir(exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create the directory: {e.strerror or e}", where=str(out)) from None
        path = tensorboard.export_run(run.metrics, run.network, out, run_name(run))
        return Exported(self.name, path, {"epochs": len(run.metrics), "histograms": run.network is not None})


def export(run: Run, format: str, out: str | Path | None = None, **options: Any) -> Exported:
    """Write `run` in `format` (a name in EXPORT_FORMATS) to `out` (the format's default when None).
    Options left at None or False are not given; an option the format does not take is a ConfigError."""
    cls = EXPORT_FORMATS.get(format, where=argument("format"))
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    for key in given:
        if key not in cls.options:
            takes = [n for n, c in EXPORT_FORMATS.items() if key in c.options]
            raise ConfigError(f"applies to the {' and '.join(takes) or 'no'} format only, not to {format}",
                              where=argument(key))
    fmt = cls()
    if out is None and run.path is None:
        raise ConfigError("a run kept in memory has no directory: give the output path", where=argument("out"))
    return fmt.write(run, Path(out) if out is not None else fmt.default_out(run), **given)


def run_name(run: Run) -> str:
    """The run directory's name ("run" for a run kept in memory)."""
    return run.path.name if run.path is not None else "run"


def run_network(run: Run):
    """The run's network; RunDirError when it has no weights (a run killed before writing them)."""
    if run.network is None:
        raise RunDirError("has no weights.npz (training did not finish writing it), so there is no network to "
                          "export", where=str(run.path))
    return run.network


def onnx_metadata(run: Run) -> dict[str, str]:
    """The ONNX model's metadata: graph input and output names, sizes, dtype, architecture, task, loss,
    class names (JSON, where the data has them), the run and nncli's version."""
    net = run_network(run)
    classification = evaluation.is_classification(run.config, run.summary)
    meta = {
        "input_name": onnx_export.INPUT, "input_size": str(net.sizes[0]),
        "output_name": onnx_export.OUTPUT, "output_size": str(net.sizes[-1]),
        "dtype": run.config.dtype, "architecture": architecture(net.sizes, net.activation_names),
        "task": "classification" if classification else "regression", "loss": run.config.loss,
        "dataset": run.config.data.name, "nncli_version": __version__,
    }
    meta["run"] = run_name(run)
    names = evaluation.class_names(run.config, run.summary) if classification else None
    if names:
        meta["class_names"] = json.dumps(names)
    return meta


def check_rows(run: Run) -> tuple[str, Any]:
    """(split name, X) of the rows to check an export on: the run's test split, else its validation
    split, else its training rows, recomputed as training made them."""
    data = run.data()
    for name in ("test", "val", "train"):
        split = data.get(name)
        if split is not None and len(split):
            return name, split.X
    raise RunDirError("the run's data has no rows to check on", where=str(run.path))


def _check_parent(out: Path) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"the directory {parent} does not exist; create it first (nothing was written)",
                          where=str(out))


def _check_file(out: Path) -> None:
    _check_parent(out)
    if out.is_dir():
        raise ConfigError("is a directory; give a file name such as model.onnx", where=str(out))
