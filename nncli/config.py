"""The run configuration: YAML -> validated pydantic models, KEY=VALUE overrides, resolved YAML dump.

A pluggable thing (dataset, initializer, optimizer, schedule) is written as a name or as a mapping
`{name: NAME, option: value, ...}`; its options are checked against the registered class's `Options`
model, so unknown or mistyped keys are errors with their dotted path and the closest valid key.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError
from .registry import Registry

FULL_BATCH = "full"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    input: int | None = Field(None, gt=0, description="input size; inferred from the data when omitted")
    layers: list[LayerConfig] = Field(min_length=1)
    init: Spec = Spec(name="glorot_normal")
    init_from: str | None = None

    _spec = field_validator("init", mode="before")(_spec)


class OptimizerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
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
    patience: int = Field(10, ge=1)
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = True


class TrainConfig(Strict):
    epochs: int = Field(gt=0, strict=True)
    batch_size: Union[int, Literal["full"]] = FULL_BATCH
    shuffle: bool = True
    validation_split: float = Field(0.0, ge=0, lt=1)
    input_noise: float = Field(0.0, ge=0, allow_inf_nan=False)
    early_stopping: EarlyStoppingConfig | None = None
    checkpoint_every: int = Field(0, ge=0)
    test_every: int = Field(0, ge=0, strict=True)  # also evaluate the test set every N epochs (0: at the end)

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
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, default_flow_style=None)


# -- YAML -----------------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loading (no Python objects), and a duplicated key is an error instead of silently the last."""


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"YAML syntax error: {problem}", where=where) from None


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found; give the path of a YAML config such as configs/xor.yaml",
                          where=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a YAML config file", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the config: {e}", where=str(path)) from None
    data = parse_yaml(text, str(path))
    if data is None:
        raise ConfigError("the config is empty; see configs/xor.yaml for a complete example", where=str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a YAML mapping of keys to values, not a {type(data).__name__}",
                          where=str(path))
    return data


# -- overrides ------------------------------------------------------------------------------------
def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `a.b.0.c=VALUE` overrides (VALUE is YAML) to a copy of the raw config mapping."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"an override must look like KEY=VALUE (for example optimizer.lr=0.5), "
                              f"got {item!r}")
        key = key.strip()
        value = parse_yaml(text, f"override {key}")
        parts = key.split(".")
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


# -- validation -----------------------------------------------------------------------------------
def _registries() -> dict[str, Registry]:
    from .data.datasets import DATASETS
    from .nn.activations import ACTIVATIONS
    from .nn.initializers import INITIALIZERS
    from .nn.losses import LOSSES
    from .nn.optimizers import OPTIMIZERS
    from .nn.schedules import SCHEDULES

    return {"data": DATASETS, "activation": ACTIVATIONS, "init": INITIALIZERS, "loss": LOSSES,
            "optimizer": OPTIMIZERS, "schedule": SCHEDULES}


def _model_fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _format_pydantic(error: ValidationError, root: type[BaseModel], prefix: str = "") -> ConfigError:
    lines = []
    for err in error.errors():
        loc = [str(p) for p in err["loc"]]
        # union members appear as extra loc parts (`int`, `literal['full']`); drop them
        loc = [p for p in loc if not (p in ("int", "float", "str", "bool") or p.startswith(("literal[", "function-")))]
        where = ".".join(([prefix] if prefix else []) + loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            valid = _valid_keys(root, err["loc"][:-1])
            close = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"{where}: unknown key{hint} (valid keys here: {', '.join(valid)})")
        elif kind == "missing":
            lines.append(f"{where}: missing; this key is required")
        else:
            got = err.get("input")
            msg = err["msg"].removeprefix("Value error, ")
            msg = msg[0].lower() + msg[1:]
            lines.append(f"{where}: {msg} (got {got!r})" if not isinstance(got, dict) else f"{where}: {msg}")
    return ConfigError("\n".join(dict.fromkeys(lines)))


def _valid_keys(root: type[BaseModel], loc: tuple) -> list[str]:
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        for candidate in getattr(ann, "__args__", (ann,)):
            inner = getattr(candidate, "__args__", (candidate,))
            found = [c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)]
            if found or (isinstance(candidate, type) and issubclass(candidate, BaseModel)):
                model = found[0] if found else candidate
                break
    return _model_fields(model) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _check_options(spec: dict, registry: Registry, where: str) -> dict:
    """Validate a spec's options against its registered class; return them with defaults filled in."""
    cls = registry.get(spec["name"], where=f"{where}.name" if where != "loss" else where)
    options_model = getattr(cls, "Options", None)
    options = {k: v for k, v in spec.items() if k not in ("name",)}
    if options_model is None:
        if options:
            raise ConfigError(f"{registry.kind} {spec['name']!r} takes no options, got {', '.join(options)}",
                              where=where)
        return {}
    fixed = ["name", "lr", "schedule"] if registry.kind == "optimizer" else ["name"]
    valid = fixed + _model_fields(options_model)
    for key in options:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            takes = (f"valid keys here: {', '.join(valid)}" if len(valid) > len(fixed) else
                     f"{registry.kind} {spec['name']!r} takes no options")
            raise ConfigError(f"unknown key; {hint}({takes})".replace("; (", " ("), where=f"{where}.{key}")
    try:
        return options_model(**options).model_dump(mode="json")
    except ValidationError as e:
        raise _format_pydantic(e, options_model, where) from None
    except TypeError as e:
        raise ConfigError(str(e), where=where) from None


def validate(raw: dict) -> Config:
    """Validate a raw config mapping; every problem becomes a ConfigError naming its dotted path."""
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        raise _format_pydantic(e, Config) from None
    reg = _registries()
    # aliases (logistic, identity, bce, ...) become the registered name, so every later check and the
    # resolved config see one name per thing
    for i, layer in enumerate(cfg.model.layers):
        layer.activation = reg["activation"].get(layer.activation, where=f"model.layers.{i}.activation").name
    cfg.loss = reg["loss"].get(cfg.loss, where="loss").name
    loss = reg["loss"].get(cfg.loss)()
    out = cfg.model.layers[-1]
    problem = loss.check_output(out.activation, out.units)
    if problem:
        raise ConfigError(problem, where=f"model.layers.{len(cfg.model.layers) - 1}")
    for i, layer in enumerate(cfg.model.layers[:-1]):
        if layer.activation == "softmax" and layer.units < 2:
            raise ConfigError("a softmax layer needs at least 2 units", where=f"model.layers.{i}")
    # pluggable things: check names and options, fill in defaults
    data_opts = _check_options({"name": cfg.data.name, **cfg.data.options}, reg["data"], "data")
    init_opts = _check_options({"name": cfg.model.init.name, **cfg.model.init.options}, reg["init"], "model.init")
    opt_opts = _check_options({"name": cfg.optimizer.name, **cfg.optimizer.options}, reg["optimizer"], "optimizer")
    sched = cfg.optimizer.schedule
    sched_opts = _check_options({"name": sched.name, **sched.options}, reg["schedule"], "optimizer.schedule")
    es = cfg.train.early_stopping
    if es is not None and es.monitor not in MONITORS:
        close = difflib.get_close_matches(es.monitor, MONITORS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"cannot monitor {es.monitor!r}{hint} (choices: {', '.join(MONITORS)})",
                          where="train.early_stopping.monitor")
    resolved = cfg.model_dump(mode="json")
    resolved["data"] = {"name": cfg.data.name, **data_opts}
    resolved["model"]["init"] = {"name": cfg.model.init.name, **init_opts}
    resolved["optimizer"] = {"name": cfg.optimizer.name, "lr": cfg.optimizer.lr, **opt_opts,
                             "schedule": {"name": sched.name, **sched_opts}}
    for key in ("init_from",):
        if resolved["model"][key]:
            resolved["model"][key] = str(Path(resolved["model"][key]).expanduser().resolve())
    if resolved["data"].get("path"):
        resolved["data"]["path"] = str(Path(resolved["data"]["path"]).expanduser().resolve())
    return Config.model_validate(resolved)


#: metrics that early stopping can watch (lower is better for losses, higher for accuracies)
MONITORS = ["loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "accuracy"]


def load(path: str | Path, overrides: list[str] | None = None, seed: int | None = None) -> Config:
    """Read a YAML config, apply KEY=VALUE overrides (and --seed), validate, and fill in defaults."""
    raw = read_yaml(path)
    raw = apply_overrides(raw, list(overrides or []))
    if seed is not None:
        raw["seed"] = seed
    return validate(raw)
