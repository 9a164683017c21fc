"""`nncli config CONFIG [KEY=VALUE ...]`: the fully resolved config `nncli train` would run, without training.
`nncli config --schema`: the JSON schema of config files, for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .. import api, runner
from ..config_schema import json_schema
from ..errors import ConfigError, argument
from ..model import architecture
from .completion import config_argument, overrides_argument
from .errors import err_console, handle_errors


def config(
    config: Optional[Path] = config_argument(),
    overrides: Optional[list[str]] = overrides_argument(),
    seed: Optional[int] = typer.Option(None, "--seed", help="override the config's seed"),
    as_json: bool = typer.Option(False, "--json", help="print the config, architecture, parameter count and "
                                 "data sizes as JSON on stdout"),
    schema: bool = typer.Option(False, "--schema", help="print the JSON schema of config files instead (no "
                                "CONFIG), for editors that validate YAML"),
) -> None:
    """Print the resolved config nncli train would run (what its config.yaml holds), without training.

    Defaults, the seed and overrides are applied and every value is validated as training would; the data
    is loaded, because the input size (model.input) comes from it, so data that cannot be loaded is an
    error here too. stdout: the YAML (or JSON); stderr: the architecture and parameter count."""
    with handle_errors():
        if schema:
            if config is not None or overrides or seed is not None:
                raise ConfigError(f"{argument('schema')} prints the schema of every config; give no CONFIG, "
                                  f"KEY=VALUE or {argument('seed')} with it")
            typer.echo(json.dumps(json_schema(), indent=2))
            return
        if config is None:
            raise ConfigError(f"give a config file: nncli config configs/xor.yaml [KEY=VALUE ...] (or "
                              f"{argument('schema')})")
        p = runner.prepare(api.load_config(config, overrides or [], seed=seed))
        arch = architecture(p.net.sizes, p.net.activation_names)
        sizes = {name: len(p.data.get(name)) if p.data.get(name) is not None else 0
                 for name in ("train", "val", "test")}
        if as_json:
            typer.echo(json.dumps({"config": p.cfg.model_dump(mode="json"), "architecture": arch,
                                   "parameters": p.net.parameter_count(), "data": sizes,
                                   "warnings": p.warnings}, indent=2))
            return
        typer.echo(p.cfg.dump(), nl=False)
        rows = ", ".join(f"{n} {name}" for name, n in sizes.items() if n)
        err_console.print(f"{arch}: {p.net.parameter_count():,} parameters ({p.cfg.dtype}); {p.dataset.name}: "
                          f"{rows} rows", highlight=False, markup=False)
        for warning in p.warnings:
            err_console.print(f"note: {warning}", highlight=False, markup=False)
