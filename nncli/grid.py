"""The grid of a sweep: the values each swept key takes, the seeds, the points (one run per point and
seed, in a fixed order), their directory names, and the validation of every point before any run starts.
Never prints.

    -p optimizer.lr=0.05,0.25,1          values are YAML, separated by commas
    -p 'model.layers=[[...], [...]]'     a YAML flow list: its items are the values (values with commas)
    --grid sweeps/spiral.yaml            {dotted.key: [values], ..., seeds: N or [seeds]}
    --seeds N (or -p seed=0,3,7)         every point runs with these seeds
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .comparison import short_keys
from .config import Config, apply_overrides, assignments, validate
from .errors import ConfigError, argument
from .readers import parse_yaml

SEED = "seed"
NAME_MAX = 120  # longer run names are cut and made unique by a hash of the whole name
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,@-]")


@dataclass
class Grid:
    """What is swept: `params` (dotted key -> its values, in the order given), `seeds` (None: the config's
    own seed), `fixed` overrides applied to every point, and `random` K points drawn with `sample_seed`
    instead of the whole Cartesian product."""

    params: dict[str, list[Any]] = field(default_factory=dict)
    seeds: list[int] | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    random: int | None = None
    sample_seed: int = 0

    @property
    def size(self) -> int:
        """Points of the full Cartesian product (seeds not counted)."""
        return math.prod(len(v) for v in self.params.values())

    def points(self) -> list[dict[str, Any]]:
        """The points in order: the Cartesian product (last key fastest), or `random` of them drawn
        without replacement by a Generator seeded with `sample_seed`, in the product's order."""
        keys = list(self.params)
        if self.random is None:
            return [dict(zip(keys, combo)) for combo in itertools.product(*self.params.values())]
        picked = np.sort(np.random.default_rng(self.sample_seed).choice(self.size, self.random, replace=False))
        points = []
        for index in picked.tolist():
            values = {}
            for key in reversed(keys):  # mixed radix: the last key changes fastest
                index, i = divmod(index, len(self.params[key]))
                values[key] = self.params[key][i]
            points.append({k: values[k] for k in keys})
        return points

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "seeds": self.seeds, "fixed": self.fixed, "random": self.random,
                "sample_seed": self.sample_seed}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Grid":
        return cls(dict(d.get("params") or {}), d.get("seeds"), dict(d.get("fixed") or {}), d.get("random"),
                   int(d.get("sample_seed") or 0))


@dataclass
class Point:
    """One run of a sweep: its place in the order, swept values, seed, directory name and resolved config."""

    index: int
    values: dict[str, Any]
    seed: int
    name: str
    config: dict[str, Any]  # the resolved config (model_dump), seed included: what the run trains


# -- parsing --------------------------------------------------------------------------------------
def parse_values(text: str, key: str) -> list[Any]:
    """`0.05,0.25,1` -> [0.05, 0.25, 1]; `[[8], [8, 8]]` (a YAML flow list) -> [[8], [8, 8]]."""
    source = f"values of {key}"
    if text.lstrip().startswith("["):
        try:
            whole = parse_yaml(text, source)
        except ConfigError:
            whole = None
        if isinstance(whole, list):
            return whole
    values = parse_yaml(f"[{text}]", source)
    return values if isinstance(values, list) else [values]


def parse_param(item: str) -> tuple[str, list[Any]]:
    """`KEY=V1,V2,...` -> (KEY, [values read as YAML])."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"a swept parameter must look like KEY=V1,V2,... (for example optimizer.lr=0.05,0.25,1), "
                          f"got {item!r}", where=argument("param"))
    return key.strip(), parse_values(text, key.strip())


def read_grid_file(path: str | Path) -> tuple[dict[str, list[Any]], list[int] | None]:
    """A grid file: a YAML mapping of dotted keys to lists of values, and optionally `seeds: N` or a list."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the grid file: {getattr(e, 'strerror', None) or e}", where=str(path)) from None
    data = parse_yaml(text, str(path))
    if not isinstance(data, dict) or not data:
        raise ConfigError("a grid file must be a YAML mapping of dotted keys to lists of values, e.g. "
                          "'optimizer.lr: [0.01, 0.1]'", where=str(path))
    seeds = data.pop(SEED + "s", None)
    params = {}
    for key, values in data.items():
        if not isinstance(values, list):
            raise ConfigError(f"must be a list of values, e.g. [{values!r}]", where=f"{path}: {key}")
        params[str(key)] = values
    return params, (seed_list(seeds, f"{path}: seeds") if seeds is not None else None)


def seed_list(seeds: Any, where: str) -> list[int]:
    """`N` -> [0, ..., N-1]; a list of non-negative integers as it is (no repeats)."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(f"must be at least 1, got {seeds}", where=where)
        return list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ConfigError(f"seeds must be a count N (seeds 0..N-1) or a list of non-negative integers, got {seeds!r}",
                          where=where)
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"repeats a seed: {seeds}", where=where)
    return list(seeds)


def build_grid(params: Iterable[str] = (), fixed: Iterable[str] | Mapping[str, Any] | None = None,
               grid_file: str | Path | None = None, seeds: int | None = None, random: int | None = None,
               sample_seed: int = 0) -> Grid:
    """The Grid from `-p KEY=V1,V2` strings (or a mapping of keys to value lists), KEY=VALUE `fixed`
    overrides, a grid file, a seed count and a random draw. ConfigError (exit 2) for a key swept twice,
    swept and fixed, a key without values, a repeated value, or more than one way of giving the seeds."""
    swept: dict[str, list[Any]] = {}
    pairs = list(params.items()) if isinstance(params, Mapping) else [parse_param(p) for p in params]
    if grid_file is not None:
        from_file, file_seeds = read_grid_file(grid_file)
        pairs = list(from_file.items()) + pairs
    else:
        file_seeds = None
    for key, values in pairs:
        if key in swept:
            raise ConfigError("is swept twice; give all its values in one place", where=key)
        swept[key] = list(values)
    given = [s for s in (swept.pop(SEED, None), file_seeds, seed_list(seeds, argument("seeds")) if seeds is not None
                         else None) if s is not None]
    if len(given) > 1:
        raise ConfigError(f"the seeds are given more than once (use one of {argument('seeds')}, seed=... or "
                          f"'seeds:' in the grid file)")
    seed_values = seed_list(given[0], SEED) if given else None
    fixed_pairs = dict(assignments(fixed))
    if SEED in fixed_pairs:
        raise ConfigError(f"set the seeds with {argument('seeds')} or seed=0,1,2 as a swept parameter", where=SEED)
    for key, values in swept.items():
        if key in fixed_pairs:
            raise ConfigError("is both swept and fixed; give it once", where=key)
        if not values:
            raise ConfigError("has no values to sweep (the grid would be empty)", where=key)
        texts = [value_text(v) for v in values]
        repeated = next((t for i, t in enumerate(texts) if t in texts[:i]), None)
        if repeated is not None:
            raise ConfigError(f"repeats the value {repeated}", where=key)
    grid = Grid(swept, seed_values, fixed_pairs, random, sample_seed)
    if not swept and seed_values is None:
        raise ConfigError(f"nothing to sweep: give parameters with {argument('param')} KEY=V1,V2,..., a grid "
                          f"file with {argument('grid')}, or seeds with {argument('seeds')} N")
    if random is not None and not 1 <= random <= grid.size:
        raise ConfigError(f"asks for {random} random points, but the grid has {grid.size}", where=argument("random"))
    return grid


# -- naming ---------------------------------------------------------------------------------------
def value_text(v: Any) -> str:
    """A swept value as text: relu, 0.25, 8-tanh+3-softmax (a list of layers), true."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dict):
        return "-".join(value_text(x) for x in v.values())
    if isinstance(v, list):
        return "+".join(value_text(x) for x in v) or "[]"
    return "null" if v is None else str(v)


def run_names(points: list[dict[str, Any]], seeds: list[int]) -> list[str]:
    """One directory name per point and seed (`activation=relu,lr=0.25,seed=3`): short keys, values as
    text, characters outside [A-Za-z0-9._+=,@-] replaced by `_`, cut at NAME_MAX characters (with a hash of
    the whole name), and made unique with -2, -3, ... in order."""
    keys = list(points[0]) if points else []
    short = short_keys(keys)
    names, seen = [], set()
    for values in points:
        for seed in seeds:
            text = ",".join([f"{short[k]}={value_text(values[k])}" for k in keys] + [f"seed={seed}"])
            name = _UNSAFE.sub("_", text).lstrip(".") or "run"
            if len(name) > NAME_MAX:
                name = name[:NAME_MAX - 9] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
            unique, n = name, 1
            while unique in seen:
                n += 1
                unique = f"{name}-{n}"
            seen.add(unique)
            names.append(unique)
    return names


# -- the points -----------------------------------------------------------------------------------
def expand(base: dict[str, Any], grid: Grid) -> list[Point]:
    """Every run of the sweep with its resolved config, each point validated before anything runs: the
    base config with the fixed overrides, then the point's values, then the seed (exactly what
    `nncli train CONFIG KEY=VALUE ... --seed S` does). ConfigError (exit 2) naming the point."""
    points = grid.points()
    seeds = grid.seeds if grid.seeds is not None else [None]
    configs = [_point_config(base, grid, values, i, points) for i, values in enumerate(points)]
    seeds = [s if s is not None else configs[0].seed for s in seeds]
    names = iter(run_names(points, seeds))
    out = []
    for values, cfg in zip(points, configs):
        resolved = cfg.model_dump(mode="json")
        for seed in seeds:
            out.append(Point(len(out), values, seed, next(names), {**resolved, SEED: seed}))
    return out


def _point_config(base: dict[str, Any], grid: Grid, values: dict[str, Any], i: int,
                  points: list[dict[str, Any]]) -> Config:
    try:
        return validate(apply_overrides(apply_overrides(base, grid.fixed), values))
    except ConfigError as e:
        # the same error at the first two points is not about a point (a fixed override, the config itself)
        if i == 0 and (len(points) == 1 or _error(base, grid, points[1]) == str(e)):
            raise
        label = ", ".join(f"{k}={value_text(v)}" for k, v in values.items())
        raise ConfigError(f"the grid point {label} is not a valid config:\n{e}") from None


def _error(base: dict[str, Any], grid: Grid, values: dict[str, Any]) -> str | None:
    try:
        validate(apply_overrides(apply_overrides(base, grid.fixed), values))
    except ConfigError as e:
        return str(e)
    return None
