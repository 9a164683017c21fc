"""Reading what users hand to nncli: YAML (safe, duplicate keys refused) and .npz archives (plain arrays
only). One reader for each format; callers choose the error class that names the problem's kind."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import ConfigError, NncliError


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
    """The YAML document in `text`; ConfigError naming `source` (with line and column) if it is not YAML."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"YAML syntax error: {problem}", where=where) from None


def read_yaml_mapping(path: str | Path) -> dict:
    """A YAML config file read as a mapping; ConfigError for a missing, unreadable, empty or non-mapping file."""
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


# -- .npz -----------------------------------------------------------------------------------------
def read_npz(path: str | Path, error: type[NncliError] = NncliError, missing: str = "no such file") -> dict[str, np.ndarray]:
    """Every array of an .npz archive, loaded with allow_pickle=False. Problems raise `error` naming the
    file: a missing file (message `missing`), a directory, a single .npy array, object arrays (they would
    need pickle: refused, never run), and truncated or corrupted archives."""
    path = Path(path)
    where = str(path)
    if path.is_dir():
        raise error("is a directory, not an .npz file", where=where)
    if not path.is_file():
        raise error(missing, where=where)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic == b"\x93NUMPY":
            raise error("is a single .npy array, not an .npz archive of named arrays (it is not a zip archive); "
                        "save with numpy.savez(path, X=..., y=...)", where=where)
        if not zipfile.is_zipfile(path):
            raise error("not a readable .npz file (truncated or corrupted?): it is not a zip archive",
                        where=where)
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e):  # object arrays need pickle: refused
            raise error("refused: it holds pickled Python objects (object arrays), not plain numeric arrays",
                        where=where) from None
        raise error(f"not a readable .npz file (truncated or corrupted?): {printable(e)}", where=where) from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, zlib.error) as e:
        raise error(f"not a readable .npz file (truncated or corrupted?): {printable(e)}", where=where) from None


def printable(e: Exception, limit: int = 100) -> str:
    """An exception's text without the binary garbage a corrupted file can put into it."""
    text = "".join(c if c.isprintable() else "?" for c in str(e))
    return text if len(text) <= limit else text[:limit] + "..."


def is_number(text: str) -> bool:
    """Whether a text cell (CSV, metrics.csv) reads as a number."""
    try:
        float(text)
        return True
    except ValueError:
        return False
