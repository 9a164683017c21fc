"""Optional dependencies (pip extras such as `nncli[onnx]`), imported only when a feature asks for them,
so that the core install stays numpy, typer, pyyaml, rich and pydantic."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtra


def require(module: str, extra: str, feature: str) -> ModuleType:
    """`module` imported, or MissingExtra naming the pip command that installs `extra`."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        package = module.split(".")[0]
        raise MissingExtra(f"{feature} needs {package}, which is not installed ({e}); install it with: "
                           f"pip install \"nncli[{extra}]\" (in a checkout of nncli: "
                           f"pip install -e \".[{extra}]\")") from None
