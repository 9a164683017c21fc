"""The JSON schema of a config file (`nncli config --schema`), so that editors validate and complete YAML
configs (VS Code's YAML extension reads `# yaml-language-server: $schema=nncli.schema.json`).

It is pydantic's schema of `config.Config`, completed with what the registries know: the names of the
activations, losses and monitors, and for each pluggable section (`data`, `model.init`, `optimizer`,
`optimizer.schedule`) one alternative per registered class with that class's own options (its `Options`
model), in both forms a config may use: `NAME` or `{name: NAME, option: value, ...}`. A newly registered
thing is in the schema with no change here.
"""

from __future__ import annotations

from typing import Any

from .config import Config
from .data import DATASETS
from .metrics import MONITORS
from .nn.activations import ACTIVATIONS
from .nn.initializers import INITIALIZERS
from .nn.losses import LOSSES
from .nn.optimizers import OPTIMIZERS
from .nn.schedules import SCHEDULES
from .registry import Registry

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The schema as a JSON-able dict."""
    schema = Config.model_json_schema()
    defs, props = schema["$defs"], schema["properties"]
    defs["LayerConfig"]["properties"]["activation"] = _names(ACTIVATIONS, "the layer's activation function")
    defs["EarlyStoppingConfig"]["properties"]["monitor"] = {"enum": list(MONITORS), "default": "val_loss",
                                                            "description": "the metric early stopping watches"}
    props["loss"] = {"anyOf": [_names(LOSSES), _named(LOSSES.names(), {}, [])],
                     "description": "the loss function"}
    props["data"] = _spec(DATASETS, defs, "the dataset: a name, or {name: NAME, option: value}")
    defs["ModelConfig"]["properties"]["init"] = _spec(INITIALIZERS, defs, "the weight initializer",
                                                      default={"name": "glorot_normal"})
    defs["OptimizerConfig"]["properties"]["schedule"] = _spec(SCHEDULES, defs, "the learning-rate schedule",
                                                              default={"name": "constant"})
    props["optimizer"] = _optimizer(defs)
    del defs["Spec"], defs["OptimizerConfig"]
    return {"$schema": DRAFT, **schema, "title": "nncli config",
            "description": "A config for nncli train (see the README's config reference)"}


def _names(registry: Registry, description: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "enum": registry.names()}
    if description:
        out["description"] = description
    return out


def _classes(registry: Registry) -> list[tuple[list[str], type]]:
    """Each registered class once, with all the names (aliases) it is registered under."""
    groups: dict[int, tuple[list[str], type]] = {}
    for name, cls in registry.items():
        groups.setdefault(id(cls), ([], cls))[0].append(name)
    return list(groups.values())


def _options(cls: type, defs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(properties, required) of a registered class's Options model; nested definitions go into `defs`."""
    model = getattr(cls, "Options", None)
    if model is None:
        return {}, []
    schema = model.model_json_schema()
    defs.update(schema.get("$defs", {}))
    return dict(schema.get("properties", {})), list(schema.get("required", []))


def _named(names: list[str], properties: dict[str, Any], required: list[str],
           name_required: bool = True) -> dict[str, Any]:
    return {"type": "object", "properties": {"name": {"enum": names}, **properties},
            "required": (["name"] if name_required else []) + required, "additionalProperties": False}


def _spec(registry: Registry, defs: dict[str, Any], description: str, default: Any = None) -> dict[str, Any]:
    """A pluggable section: a registered name, or a mapping with `name` and that class's options."""
    alternatives = [_names(registry)]
    for names, cls in _classes(registry):
        properties, required = _options(cls, defs)
        alternatives.append(_named(names, properties, required))
    out: dict[str, Any] = {"anyOf": alternatives, "description": description}
    if default is not None:
        out["default"] = default
    return out


def _optimizer(defs: dict[str, Any]) -> dict[str, Any]:
    """`optimizer`: {name, lr, schedule, ...that optimizer's options}; name defaults to sgd."""
    base = defs["OptimizerConfig"]["properties"]
    fixed = {"lr": base["lr"], "schedule": base["schedule"]}
    default = base["name"].get("default")
    alternatives = []
    for names, cls in _classes(OPTIMIZERS):
        properties, required = _options(cls, defs)
        alternatives.append(_named(names, {**fixed, **properties}, ["lr", *required],
                                   name_required=default not in names))
    return {"anyOf": alternatives, "description": "the optimizer: {name: NAME, lr: RATE, option: value}"}
