"""The public Python API (imported lazily by `nncli/__init__.py`, so `import nncli` stays cheap).

    import nncli
    run = nncli.train("configs/xor.yaml", overrides={"optimizer.lr": 0.5}, runs_dir="runs")
    run.status, run.summary["final"], run.metrics, run.history["loss"]
    run.predict(X), run.predict_classes(X), run.evaluate(split="test")
    run = nncli.load_run("runs/xor-20261127-150521")
    cfg = nncli.load_config("configs/xor.yaml", ["train.epochs=10"])
    report = nncli.gradcheck(cfg)
    result = nncli.sweep("configs/xor.yaml", {"optimizer.lr": [0.05, 0.25, 1]}, seeds=10)
    nncli.export("runs/xor-20261127-150521", "onnx", check=True)
    trace = nncli.trace("configs/xor.yaml", step=True)

The command line calls these functions; they never print.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from . import config as config_mod
from . import gradient_check as gradcheck_mod
from .config import Config
from .errors import ConfigError, NncliError, argument
from .resuming import open_resume
from .run import Run, load_run as _load_run
from .runner import execute, in_memory, prepare, start
from .events import Events

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
        memory, summary = in_memory(p, events, command, should_stop or _never, name=name)
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
        from . import gradient_suite  # lazy on purpose: start-up time of `nncli train`, which never needs it

        seed = config_mod.check_seed(0 if seed is None else seed)
        return gradient_suite.check_suite(tolerance=tolerance, max_params=max_params, seed=seed)
    cfg = load_config(config, overrides, seed)
    return gradcheck_mod.check_config(cfg, samples=samples, tolerance=tolerance, max_params=max_params,
                                      random_data=random_data)


def sweep(config: str | Path | Mapping[str, Any] | None = None, params: Iterable[str] | Mapping[str, list] = (),
          overrides: Overrides = None, *, grid: str | Path | None = None, seeds: int | None = None,
          random: int | None = None, sample_seed: int = 0, workers: int | None = None,
          scheduler: str | None = None, timeout: float = 10.0, runs_dir: str | Path = "runs",
          out: str | Path | None = None, resume: str | Path | None = None, events: Any = None,
          should_stop: Callable[[], bool] | None = None, command: list[str] | None = None,
          stack: str | bool = "auto", stack_memory: float | None = None):
    """Train a config over a grid of values and seeds, as `nncli sweep` does; returns the SweepResult
    (`.path`, `.table()`: the rows of results.csv, `.groups()`: the aggregates over seeds).

    `params`: {"optimizer.lr": [0.05, 0.25]} or ["optimizer.lr=0.05,0.25"]; `overrides` apply to every
    point; `grid`: a grid file; `seeds`: N seeds 0..N-1 per point; `random`: K points drawn with
    `sample_seed`. `workers` local processes (None: one per core; 1: this process) or the Dask
    `scheduler` address (reached within `timeout` seconds, else an error). `resume`: a sweep directory to
    finish (no config or grid then). `stack`: "auto" (default) trains small networks that share their shapes
    together as stacks where that pays, True or "on" stacks every group it can, False or "off" none;
    `stack_memory`: megabytes one stack may use (default 512). Every point is validated (ConfigError)
    before anything is written; runs that fail are rows with status "failed"."""
    from . import sweeps  # lazy on purpose: start-up time of `nncli train`, which never needs sweeps
    from .executors import open_executor
    stacking = _stack_options(stack, stack_memory)
    if resume is not None:
        if config is not None or params or overrides or grid is not None or seeds is not None or random is not None:
            raise ConfigError(f"{argument('resume')} finishes the sweep its directory describes; give no config, "
                              f"parameters, grid or seeds with it")
        plan, directory = sweeps.open_plan(resume)
        with open_executor(workers, scheduler, timeout) as executor:
            return sweeps.run(plan, directory, executor, events, should_stop, *stacking)
    if config is None:
        raise ConfigError(f"give a config to sweep (or {argument('resume')} SWEEP_DIR)")
    plan = sweeps.plan(config, params, overrides, grid=grid, seeds=seeds, random=random,
                       sample_seed=sample_seed, command=command)
    with open_executor(workers, scheduler, timeout) as executor:  # a scheduler that cannot be reached: nothing written
        directory = sweeps.create(plan, runs_dir, out)
        return sweeps.run(plan, directory, executor, events, should_stop, *stacking)


def _stack_options(stack: str | bool, memory: float | None) -> tuple[str, float]:
    """(mode, megabytes) of a sweep's stacking, checked: ConfigError naming the parameter."""
    from .stack_plan import BUDGET_MB, MODES  # lazy on purpose, as sweeps above

    mode = {True: "on", False: "off"}.get(stack, stack) if isinstance(stack, bool) else stack
    if mode not in MODES:
        raise ConfigError(f"must be one of {', '.join(MODES)} (or True / False), got {stack!r}", where=argument("stack"))
    if memory is None:
        return mode, BUDGET_MB
    if isinstance(memory, bool) or not isinstance(memory, (int, float)) or not memory > 0:
        raise ConfigError(f"must be a positive number of megabytes, got {memory!r}", where=argument("stack_memory"))
    return mode, float(memory)


def export(run: str | Path | Run, format: str = "onnx", out: str | Path | None = None, *,
           opset: int | None = None, check: bool = False) -> "exporting.Exported":
    """Write a run (a run directory or a Run) for another tool: `format` "onnx" (the network as an ONNX
    model, default RUN_DIR/model.onnx; `opset`; `check` runs it with onnxruntime on the run's test rows and
    compares with nncli's outputs) or "tensorboard" (event files of metrics.csv and the final weights in
    OUT/<run name>/, default OUT ./tensorboard). Needs the extra nncli[onnx] or nncli[tensorboard]."""
    if not isinstance(run, Run):
        run = load_run(run)
    from . import exporting  # lazy on purpose: start-up time of `nncli train`, which never exports

    return exporting.export(run, format, out, opset=opset, check=check)


def trace(config: str | Path | Config | Mapping[str, Any], overrides: Overrides = None, *,
          rows: int | None = None, per_sample: bool = False, step: bool = False, random_data: bool = False,
          max_params: int | None = None) -> "tracing.Trace":
    """One step of back-propagation with the network's own numbers (docs/backprop.md's quantities): the
    network `config` builds, or a run directory's trained weights, on `rows` seeded rows of its training
    data. `per_sample` adds the per-sample gradients (N, fan_in, fan_out); `step` the optimizer's update.
    What `nncli trace` prints (`.quantities`, `.get(name)`, `.to_dict()`). `max_params`: central differences
    for at most this many entries per tensor (default tracing.DEFAULT_MAX_PARAMS)."""
    from . import tracing  # lazy on purpose: start-up time of `nncli train`, which never traces

    if max_params is None:
        max_params = tracing.DEFAULT_MAX_PARAMS
    options = dict(rows=rows, per_sample=per_sample, step=step, random_data=random_data, max_params=max_params)
    if isinstance(config, (str, Path)) and Path(config).is_dir():
        cfg, epoch = tracing.run_config(config, overrides)
        return tracing.trace_config(cfg, epoch=epoch, weights=f"the weights of {config}", **options)
    return tracing.trace_config(load_config(config, overrides), **options)


def _never() -> bool:
    return False


__all__ = ["Events", "Run", "export", "gradcheck", "load_config", "load_run", "resume", "sweep", "trace", "train"]
