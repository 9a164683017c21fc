"""Options of pluggable things. A registered class declares its options as a pydantic model `Options`
(extra keys forbidden); the config validates `{name: ..., **options}` against it before any work starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    """Base for option models: unknown keys are errors, and so are infinite or NaN numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
