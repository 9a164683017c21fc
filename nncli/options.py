"""Options of pluggable things. A registered class declares its options as a pydantic model `Options`
(extra keys forbidden); `resolve` validates `{name: ..., **options}` against it before any work starts,
and `format_errors` turns pydantic's errors into one ConfigError naming dotted paths and closest keys."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from .errors import ConfigError
from .registry import Registry


def no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
    """A field validator (mode "before", every field) refusing true/false where a number is asked for:
    pydantic would read `optimizer.lr=true` as 1.0 (integer fields are strict already)."""
    if isinstance(value, bool):
        annotation = cls.model_fields[info.field_name].annotation
        if float in (annotation, *getattr(annotation, "__args__", ())):
            raise ValueError("must be a number, not true or false")
    return value


class Options(BaseModel):
    """Base for option models: unknown keys are errors, and so are infinite or NaN numbers, and booleans
    given for numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)  # built on first use: start-up
    _no_boolean_numbers = field_validator("*", mode="before")(no_boolean_numbers)


def resolve(spec: dict[str, Any], registry: Registry, where: str, fixed: tuple[str, ...] = ("name",)) -> dict:
    """Validate a spec's options against its registered class's `Options`; return them with defaults filled
    in. `fixed` are keys of the spec that are not options (an optimizer's lr and schedule)."""
    cls = registry.get(spec["name"], where=f"{where}.name" if where != "loss" else where)
    options_model = getattr(cls, "Options", None)
    options = {k: v for k, v in spec.items() if k not in fixed}
    if options_model is None:
        if options:
            raise ConfigError(f"{registry.kind} {spec['name']!r} takes no options, got {', '.join(options)}",
                              where=where)
        return {}
    valid = list(fixed) + list(options_model.model_fields)
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
        raise format_errors(e, options_model, where) from None
    except TypeError as e:
        raise ConfigError(str(e), where=where) from None


def format_errors(error: ValidationError, root: type[BaseModel], prefix: str = "") -> ConfigError:
    """One ConfigError with a line per problem: `path: what (got value)`, unknown keys with the closest
    valid one and the list of valid keys at that place."""
    lines = []
    for err in error.errors():
        loc = [str(p) for p in err["loc"]]
        # union members appear as extra loc parts (`int`, `literal['full']`); drop them
        loc = [p for p in loc if not (p in ("int", "float", "str", "bool") or p.startswith(("literal[", "function-")))]
        where = ".".join(([prefix] if prefix else []) + loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            valid = valid_keys(root, err["loc"][:-1])
            close = difflib.get_close_matches(loc[-1], valid, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"{where}: unknown key{hint} (valid keys here: {', '.join(valid)})")
        elif kind == "missing":
            lines.append(f"{where}: missing; this key is required")
        else:
            got = err.get("input")
            msg = err["msg"].removeprefix("Value error, ")
            msg = msg[0].lower() + msg[1:]
            if kind == "int_type" and isinstance(got, (bool, float, str)):
                msg += ": a whole number such as 1000 (true, 1e3 and 1000.0 are not)"
            shown = repr(got) if len(repr(got)) <= 80 else repr(got)[:77] + "..."  # a 1 MB value is not echoed
            lines.append(f"{where}: {msg} (got {shown})" if not isinstance(got, dict) else f"{where}: {msg}")
    return ConfigError("\n".join(dict.fromkeys(lines)))


def valid_keys(root: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the model found at `loc` inside `root` (list indices skipped)."""
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
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
