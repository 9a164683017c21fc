"""Options of pluggable things. A registered class declares its options as a pydantic model `Options`
(extra keys forbidden); the config validates `{name: ..., **options}` against it before any work starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Options(BaseModel):
    """Base for option models: unknown keys are errors, values are validated strictly enough."""

    model_config = ConfigDict(extra="forbid")
