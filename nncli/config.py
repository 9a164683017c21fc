"""The run configuration: YAML -> validated pydantic models, KEY=VALUE overrides, resolved YAML dump.

A pluggable thing (dataset, initializer, optimizer, schedule) is written as a name or as a mapping
`{name: NAME, option: value, ...}`; its options are checked against the registered class's `Options`
model, so unknown or mistyped keys are errors with their dotted path and the closest valid key.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from .data import DATASETS
from .errors import ConfigError, argument
from .metrics import MONITORS
from .nn.activations import ACTIVATIONS
from .nn.initializers import INITIALIZERS
from .nn.losses import LOSSES
from .nn.optimizers import OPTIMIZERS
from .nn.schedules import SCHEDULES
from .options import format_errors, no_boolean_numbers, resolve
from .readers import MAX_DEPTH, check_depth, parse_yaml, read_yaml_mapping

FULL_BATCH = "full"
#: libyaml's emitter where PyYAML has it (4x faster than the pure-Python one; the same text)
YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    _no_boolean_numbers = field_validator("*", mode="before")(no_boolean_numbers)


class Spec(BaseModel):
    """`{name: ..., **options}` of a registered thing; options are validated against its registry."""

    model_config = ConfigDict(extra="allow")
    name: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _spec(value: Any) -> Any:
    """Accept the short form `init: glorot_normal` for `init: {name: glorot_normal}`."""
    return {"name": value} if isinstance(value, str) else value


class LayerConfig(Strict):
    units: int = Field(gt=0, strict=True)
    activation: str


class ModelConfig(Strict):
    input: int | None = Field(None, gt=0, strict=True, description="input size; inferred from the data when omitted")
    layers: list[LayerConfig] = Field(min_length=1)
    init: Spec = Spec(name="glorot_normal")
    init_from: str | None = None

    _spec = field_validator("init", mode="before")(_spec)


class OptimizerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    _no_boolean_numbers = field_validator("*", mode="before")(no_boolean_numbers)
    name: str = "sgd"
    lr: float = Field(gt=0, allow_inf_nan=False)
    schedule: Spec = Spec(name="constant")

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_spec(cls, value):
        """`schedule: cosine`, and `optimizer.schedule.warmup=2` alone warms up the constant schedule."""
        value = _spec(value)
        return {"name": "constant", **value} if isinstance(value, dict) and "name" not in value else value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class EarlyStoppingConfig(Strict):
    monitor: str = "val_loss"
    patience: int = Field(10, ge=1, strict=True)
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = True


class TrainConfig(Strict):
    epochs: int = Field(gt=0, strict=True)
    batch_size: Union[StrictInt, Literal["full"]] = FULL_BATCH
    shuffle: bool = True
    validation_split: float = Field(0.0, ge=0, lt=1)
    input_noise: float = Field(0.0, ge=0, allow_inf_nan=False)
    early_stopping: EarlyStoppingConfig | None = None
    checkpoint_every: int = Field(0, ge=0, strict=True)
    tensorboard: str | None = Field(None, description="TensorBoard log directory: events of every epoch go to "
                                    "<dir>/<run directory name>/ (needs nncli[tensorboard])")
    tensorboard_histograms: int | None = Field(None, ge=1, strict=True, description="weight histograms every N epochs "
                                               "[default: about 50 over the run]")
    test_every: int = Field(0, ge=0, strict=True)  # also evaluate the test set every N epochs (0: at the end)
    snapshots: int | None = Field(None, ge=0, strict=True)  # None: nncli.snapshots.default_count decides

    @field_validator("snapshots")
    @classmethod
    def _snapshots_fit(cls, v, info):
        epochs = info.data.get("epochs")
        if v == 1:
            raise ValueError("must be 0 (no snapshots) or at least 2: epoch 0 and the last epoch are always "
                             "among them")
        if v is not None and isinstance(epochs, int) and v > epochs:
            raise ValueError(f"asks for {v} snapshots of a run of {epochs} epochs; use at most {epochs} "
                             f"(they are spread over epochs 0 to {epochs})")
        return v

    @field_validator("batch_size")
    @classmethod
    def _positive_batch(cls, v):
        if isinstance(v, int) and v <= 0:
            raise ValueError("must be a positive integer or 'full'")
        return v


class Config(Strict):
    seed: int = Field(0, ge=0, strict=True)  # numpy seeds are non-negative integers
    dtype: Literal["float32", "float64"] = "float32"
    data: Spec
    model: ModelConfig
    loss: str
    optimizer: OptimizerConfig
    weight_decay: float = Field(0.0, ge=0, allow_inf_nan=False)
    train: TrainConfig

    _spec = field_validator("data", mode="before")(_spec)

    @field_validator("loss", mode="before")
    @classmethod
    def _loss_name(cls, value):
        """Losses take no options: `loss: {name: mse}` (as `loss.name=mse` makes) means `loss: mse`."""
        if isinstance(value, dict):
            if set(value) != {"name"}:
                raise ValueError(f"a loss takes no options (got {', '.join(map(str, value))}); "
                                 f"write loss: NAME, e.g. loss: mse")
            return value["name"]
        return value

    def dump(self) -> str:
        """The resolved config as YAML that `nncli train` accepts unchanged."""
        return yaml.dump(self.model_dump(mode="json"), Dumper=YAML_DUMPER, sort_keys=False, default_flow_style=None)


# -- overrides ------------------------------------------------------------------------------------
def parse_assignment(item: str, what: str = "an override", example: str = "optimizer.lr=0.5") -> tuple[str, Any]:
    """`KEY=VALUE` -> (KEY, VALUE read as YAML): the one parser of KEY=VALUE arguments."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{what} must look like KEY=VALUE (for example {example}), got {item!r}")
    key = key.strip()
    return key, parse_yaml(text, f"{'override' if what == 'an override' else 'option'} {key}")


def assignments(overrides: Iterable[str] | Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """Overrides as (dotted key, value) pairs: from KEY=VALUE strings (YAML values) or a mapping of dotted
    keys to Python values (the Python API: {"optimizer.lr": 0.5})."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        for k, v in overrides.items():
            check_depth(v, f"override {k}")
        return [(str(k), copy.deepcopy(v)) for k, v in overrides.items()]
    if isinstance(overrides, str):
        overrides = [overrides]
    return [parse_assignment(item) for item in overrides]


def apply_overrides(raw: dict, overrides: Iterable[str] | Mapping[str, Any] | None) -> dict:
    """Apply `a.b.0.c=VALUE` overrides (VALUE is YAML; or a mapping of dotted keys to values) to a copy
    of the raw config mapping."""
    check_depth(raw, "config")
    raw = copy.deepcopy(raw)
    for key, value in assignments(overrides):
        parts = key.split(".")
        if len(parts) > MAX_DEPTH:
            raise ConfigError(f"a key of {len(parts)} parts; config keys are at most {MAX_DEPTH} deep",
                              where=f"override {key[:60]}...")
        node: Any = raw
        for depth, part in enumerate(parts):
            here = ".".join(parts[: depth + 1])
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"no item {part} in a list of {len(node)} (indices 0..{len(node) - 1}); "
                                      f"to change the list's length set it whole, e.g. "
                                      f"{'.'.join(parts[:depth])}='[...]'", where=here)
                index = int(part)
                if last:
                    node[index] = value
                else:
                    node[index] = _spec(node[index]) if isinstance(node[index], str) else node[index]
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    if part == "name":
                        _drop_foreign_options(node, value, ".".join(parts[:-1]))
                    node[part] = value
                else:
                    child = node.get(part)
                    if child is None:
                        child = node[part] = {}
                    elif isinstance(child, str):  # `init: he_normal` then `init.std=...`
                        child = node[part] = {"name": child}
                    elif not isinstance(child, (dict, list)):
                        raise ConfigError(f"is a value ({child!r}), not a section with keys", where=here)
                    node = child
            else:
                raise ConfigError("is a value, not a section with keys", where=".".join(parts[:depth]))
    return raw


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"optimizer": {"lr": 0.5}, "model": {"layers": [{"units": 2}]}} -> {"optimizer.lr": 0.5,
    "model.layers.0.units": 2}: dotted keys (list items by index), the same paths overrides use."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix: value}


#: the sections that name a registered thing: when an override changes the name, the options only the
#: old thing takes are dropped (optimizer.name=sgd on a run that used adam: its beta1 does not make sgd wrong)
NAMED_SECTIONS = {"data": DATASETS, "model.init": INITIALIZERS, "optimizer": OPTIMIZERS,
                  "optimizer.schedule": SCHEDULES}


def _drop_foreign_options(section: dict, new_name: Any, path: str) -> None:
    """Remove from `section` the options of its current thing that the newly named thing does not take."""
    registry = NAMED_SECTIONS.get(path)
    old_name = section.get("name")
    if registry is None or not isinstance(old_name, str) or not isinstance(new_name, str):
        return
    if old_name not in registry or new_name not in registry:
        return  # an unknown name is reported by validation, with the closest match
    for key in _option_names(registry, old_name) - _option_names(registry, new_name):
        section.pop(key, None)


def _option_names(registry, name: str) -> set[str]:
    options = getattr(registry.get(name), "Options", None)
    return set(options.model_fields) if options is not None else set()


# -- validation -----------------------------------------------------------------------------------
def validate(raw: dict) -> Config:
    """Validate a raw config mapping; every problem becomes a ConfigError naming its dotted path."""
    check_depth(raw, "config")
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        raise format_errors(e, Config) from None
    # aliases (logistic, identity, bce, ...) become the registered name, so every later check and the
    # resolved config see one name per thing
    for i, layer in enumerate(cfg.model.layers):
        layer.activation = ACTIVATIONS.get(layer.activation, where=f"model.layers.{i}.activation").name
    cfg.loss = LOSSES.get(cfg.loss, where="loss").name
    out = cfg.model.layers[-1]
    problem = LOSSES.get(cfg.loss)().check_output(out.activation, out.units)
    if problem:
        raise ConfigError(problem, where=f"model.layers.{len(cfg.model.layers) - 1}")
    for i, layer in enumerate(cfg.model.layers[:-1]):
        if ACTIVATIONS.get(layer.activation).normalised_rows and layer.units < 2:
            raise ConfigError(f"a {layer.activation} layer needs at least 2 units", where=f"model.layers.{i}")
    # pluggable things: check names and options, fill in defaults
    data = validate_data({"name": cfg.data.name, **cfg.data.options})
    init_opts = resolve({"name": cfg.model.init.name, **cfg.model.init.options}, INITIALIZERS, "model.init")
    opt_opts = resolve({"name": cfg.optimizer.name, **cfg.optimizer.options}, OPTIMIZERS, "optimizer",
                       fixed=("name", "lr", "schedule"))
    sched = cfg.optimizer.schedule
    sched_opts = resolve({"name": sched.name, **sched.options}, SCHEDULES, "optimizer.schedule")
    es = cfg.train.early_stopping
    if es is not None and es.monitor not in MONITORS:
        close = difflib.get_close_matches(es.monitor, MONITORS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"cannot monitor {es.monitor!r}{hint} (choices: {', '.join(MONITORS)})",
                          where="train.early_stopping.monitor")
    resolved = cfg.model_dump(mode="json")
    resolved["data"] = {"name": data.name, **data.options}
    resolved["model"]["init"] = {"name": cfg.model.init.name, **init_opts}
    resolved["optimizer"] = {"name": cfg.optimizer.name, "lr": cfg.optimizer.lr, **opt_opts,
                             "schedule": {"name": sched.name, **sched_opts}}
    for section, key in (("model", "init_from"), ("train", "tensorboard")):
        if resolved[section][key]:
            resolved[section][key] = _absolute(resolved[section][key])
    return Config.model_validate(resolved)


def validate_data(spec: Any, where: str = "data") -> Spec:
    """A config's `data` section alone (a name or {name, **options}), validated with defaults filled in."""
    try:
        data = Spec.model_validate(_spec(spec))
    except ValidationError as e:
        raise format_errors(e, Spec, where) from None
    options = resolve({"name": data.name, **data.options}, DATASETS, where)
    for key, value in options.items():  # data files are recorded as absolute paths (path, test_path)
        if (key == "path" or key.endswith("_path")) and isinstance(value, str):
            options[key] = _absolute(value)
    return Spec(name=data.name, **options)


def check_seed(seed: Any, where: str = argument("seed")) -> int:
    """A seed as numpy's Generator takes it: a non-negative integer (not a boolean); ConfigError otherwise."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"a seed must be a non-negative integer, got {seed!r}", where=where)
    return seed


def _absolute(path: str) -> str:
    """A path taken from the current directory, as an absolute path (nncli never changes directory)."""
    return str(Path(path).expanduser().resolve())


def load(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] | None = None,
         seed: int | None = None) -> Config:
    """Read a YAML config, apply KEY=VALUE overrides (and a seed), validate, and fill in defaults."""
    raw = read_yaml_mapping(path)
    raw = apply_overrides(raw, overrides)
    if seed is not None:
        raw["seed"] = seed
    return validate(raw)
