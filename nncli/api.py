"""The public Python API (imported lazily by `nncli/__init__.py`, so `import nncli` stays cheap).

    import nncli
    run = nncli.train("configs/xor.yaml", overrides={"optimizer.lr": 0.5}, runs_dir="runs")
    run.status, run.summary["final"], run.metrics, run.history["loss"]
    run.predict(X), run.predict_classes(X), run.evaluate(split="test")
    run = nncli.load_run("runs/xor-20261127-150521")
    cfg = nncli.load_config("configs/xor.yaml", ["train.epochs=10"])
    report = nncli.gradcheck(cfg)

The command line calls these functions; they never print.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from . import config as config_mod
from . import gradient_check as gradcheck_mod
from . import gradient_suite
from .config import Config
from .errors import NncliError
from .resuming import open_resume
from .run import Run, load_run as _load_run
from .runner import execute, prepare, start, write_first_files
from .runs import MemoryRun
from .trainer import Events

Overrides = Iterable[str] | Mapping[str, Any] | None


def load_config(config: str | Path | Config | Mapping[str, Any], overrides: Overrides = None,
                seed: int | None = None) -> Config:
    """A validated config with defaults filled in, from a YAML file, a mapping (the YAML's content) or a
    Config. `overrides`: KEY=VALUE strings with YAML values (["optimizer.lr=0.5"]) or a mapping of dotted
    keys to values ({"optimizer.lr": 0.5}); `seed` replaces the config's seed."""
    if isinstance(config, (str, Path)):
        return config_mod.load(config, overrides, seed=seed)
    raw = config.model_dump(mode="json") if isinstance(config, Config) else dict(config)
    raw = config_mod.apply_overrides(raw, overrides)
    if seed is not None:
        raw["seed"] = seed
    return config_mod.validate(raw)


def train(config: str | Path | Config | Mapping[str, Any], overrides: Overrides = None, *,
          seed: int | None = None, runs_dir: str | Path | None = "runs", out: str | Path | None = None,
          name: str | None = None, events: Any = None, should_stop: Callable[[], bool] | None = None,
          command: list[str] | None = None) -> Run:
    """Train the network a config describes and return the Run.

    The run directory is `out` itself (it must not exist yet), else a new directory named
    `<name>-<YYYYmmdd-HHMMSS>` in `runs_dir` (name: the config file's stem, else "run"), exactly as
    `nncli train` makes it. `runs_dir=None` (and no `out`) trains in memory and writes nothing.
    `events`: an object with any of on_start(start), on_batch(epoch, batch, batches), on_epoch(row) (see
    nncli.train.Events). `should_stop()` is asked after every batch: when it turns true, training stops,
    keeping a checkpoint (status "interrupted"). A diverged run is returned with status "diverged"; bad
    configs and data raise NncliError subclasses."""
    cfg = load_config(config, overrides, seed)
    if name is None:
        name = Path(config).stem if isinstance(config, (str, Path)) else "run"
    command = command or list(sys.argv)
    p = prepare(cfg)
    if runs_dir is None and out is None:
        memory = MemoryRun()
        write_first_files(p, memory, command)
        summary = execute(p, memory, events, command=command, should_stop=should_stop or _never)
        return Run(p.cfg, p.net, summary, None, memory, notes=p.warnings)
    run_dir = start(p, name, runs_dir=Path(runs_dir) if runs_dir is not None else None,
                    out=Path(out) if out is not None else None, command=command)
    summary = execute(p, run_dir, events, command=command, should_stop=should_stop or _never)
    return Run(p.cfg, p.net, summary, run_dir.path, notes=p.warnings)


def resume(run_dir: str | Path, overrides: Overrides = None, *, events: Any = None,
           should_stop: Callable[[], bool] | None = None, command: list[str] | None = None) -> Run:
    """Continue a run in its own directory from its checkpoint (see nncli.resume). When it has finished
    already, nothing is trained: the returned Run has `trained == False` and says why in `notes`."""
    plan = open_resume(run_dir, overrides)
    if plan.done:  # nothing to train; the answer does not depend on the weights, which may be damaged
        try:
            network = _load_run(plan.run.path).network
        except NncliError:
            network = None
        return Run(plan.cfg, network, plan.summary, plan.run.path, notes=[plan.message], trained=False)
    p = plan.prepared
    summary = execute(p, plan.run, events, command=command or list(sys.argv), should_stop=should_stop or _never,
                      state=plan.state, history=plan.history, notes=[plan.message, *plan.notes])
    return Run(p.cfg, p.net, summary, plan.run.path, notes=[*p.warnings, plan.message, *plan.notes])


def load_run(path: str | Path) -> Run:
    """Read a run directory back (config, weights, metrics, summary); RunDirError if it is missing or
    damaged. A run killed before it wrote weights.npz is read with `network` None."""
    return _load_run(path, require_weights=False)


def gradcheck(config: str | Path | Config | Mapping[str, Any] | None = None, overrides: Overrides = None, *,
              samples: int = gradcheck_mod.DEFAULT_SAMPLES, max_params: int = gradcheck_mod.DEFAULT_MAX_PARAMS,
              eps: float = gradcheck_mod.DEFAULT_EPS, tol: float = gradcheck_mod.DEFAULT_TOL,
              floor: float = gradcheck_mod.DEFAULT_FLOOR, seed: int | None = None, random_data: bool = False):
    """Back-propagation against central finite differences in float64: the report `nncli gradcheck`
    renders (`.passed`, `.tensors`, `.to_dict()`). Without a config, the built-in suite of every
    registered activation and loss (a SuiteReport)."""
    tolerance = gradcheck_mod.Tolerance(eps=eps, tol=tol, floor=floor)
    if config is None:
        seed = config_mod.check_seed(0 if seed is None else seed)
        return gradient_suite.check_suite(tolerance=tolerance, max_params=max_params, seed=seed)
    cfg = load_config(config, overrides, seed)
    return gradcheck_mod.check_config(cfg, samples=samples, tolerance=tolerance, max_params=max_params,
                                      random_data=random_data)


def _never() -> bool:
    return False


__all__ = ["Events", "Run", "gradcheck", "load_config", "load_run", "resume", "train"]
