"""Reading what users hand to nncli: every file nncli reads goes through here. One reader per format;
callers choose the error class that names the problem's kind (ConfigError, DataError, RunDirError).

The defences, one each, for every reader:
- only regular files are read (a FIFO or a device such as /dev/zero would hang or never end), and at
  most LIMITS[kind] bytes of them (a config is not a gigabyte);
- text is UTF-8 (a byte-order mark is dropped);
- YAML (safe loading, duplicate keys refused) and JSON are nested at most MAX_DEPTH levels, YAML mapping
  keys are plain values, YAML integers have at most MAX_INT_DIGITS digits, and YAML aliases may expand
  to at most MAX_NODES values (a few hundred bytes of aliases can stand for gigabytes);
- .npz and .npy files (see nncli/npyfiles.py) are checked against the file's real size before anything
  is allocated.
"""

from __future__ import annotations

import json
import os
import stat
import re
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

from .errors import ConfigError, NncliError

MiB = 2 ** 20
#: the largest file of each kind nncli reads (bytes); README "Reliability" lists them
LIMITS = {"config": 1 * MiB, "summary": 16 * MiB, "metrics": 64 * MiB, "csv": 256 * MiB}
MAX_DEPTH = 64  # nesting of YAML and JSON (configs are 4 deep, summary.json 4, a checkpoint's state 4)
MAX_NODES = 10_000  # values a YAML document may hold once its aliases are expanded (a config has ~50)
MAX_INT_DIGITS = 100  # digits of a YAML integer (Python refuses more than 4300 anyway)
CHUNK = 1 << 20  # binary data is read in pieces of this size


# -- files ----------------------------------------------------------------------------------------
def open_regular(path: str | os.PathLike[str], error: type[NncliError] = NncliError, what: str = "a file",
                 missing: str = "no such file") -> IO[bytes]:
    """`path` opened for binary reading, if it is a regular file. `error` naming the path for a missing
    file (message `missing`), a directory, or anything else that is not a regular file (a FIFO, a
    character device such as /dev/zero, a socket): those could block or never end. The file is opened
    without blocking, so a FIFO put in its place after the check cannot hang either."""
    where = str(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"is a directory, not {what}", where=where)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"is not a regular file (a FIFO, device or socket); {what} must be a regular file",
                        where=where)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(missing, where=where) from None
    except (OSError, ValueError) as e:  # permission denied, a name too long, a NUL byte in the name
        raise error(f"cannot read it: {getattr(e, 'strerror', None) or e}", where=where) from None
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise error(f"is not a regular file; {what} must be a regular file", where=where)
    return f


def read_bytes(path: str | os.PathLike[str], kind: str, error: type[NncliError] = NncliError,
               what: str | None = None, missing: str = "no such file") -> bytes:
    """The bytes of a regular file of `kind` (a key of LIMITS); `error` if it is larger than its limit.
    `what` names the file in messages, with its article ("a CSV file")."""
    what = what or f"a {kind} file"
    limit = LIMITS[kind]
    with open_regular(path, error, what, missing) as f:
        try:  # a regular file's size is known: read that much (not `limit` bytes, allocated at once)
            size = os.fstat(f.fileno()).st_size
            data = f.read(min(size, limit) + 1)
        except OSError as e:
            raise error(f"cannot read it: {e.strerror or e}", where=str(path)) from None
    if len(data) > limit:
        raise error(f"is larger than {limit // MiB} MiB, the most nncli reads for {what}; is it the right file?",
                    where=str(path))
    return data


def decode(data: bytes, where: str, error: type[NncliError] = NncliError, what: str = "a file") -> str:
    """UTF-8 text (a leading byte-order mark dropped); `error` naming the offending byte otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); {what} must be "
                    f"UTF-8 text", where=where) from None


def read_text(path: str | os.PathLike[str], kind: str, error: type[NncliError] = NncliError,
              what: str | None = None, missing: str = "no such file") -> str:
    """A regular text file of `kind`, size-limited and decoded as UTF-8 (see `read_bytes`, `decode`)."""
    what = what or f"a {kind} file"
    return decode(read_bytes(path, kind, error, what, missing), str(path), error, what)


def read_data(stream: IO[bytes], n: int, known: bool) -> memoryview:
    """Up to n bytes of a binary stream (fewer only at its end), as a writable buffer. When n is `known`
    to be real (a file's size, a stored zip member), it is allocated at once (uninitialised: a zero-filled
    bytearray would write every page twice) and filled in place; when it is only claimed (a header inside
    compressed data), the bytes are gathered chunk by chunk, so memory follows what really arrives (at most
    twice it), never what was claimed."""
    if known:
        data = np.empty(n, dtype=np.uint8)
        view, done = memoryview(data), 0
        while done < n:
            got = stream.readinto(view[done:done + CHUNK])  # type: ignore[attr-defined]
            if not got:
                break
            done += got
        return view[:done]
    parts, done = [], 0
    while done < n:
        part = stream.read(min(CHUNK, n - done))
        if not part:
            break
        parts.append(part)
        done += len(part)
    return memoryview(bytearray().join(parts))


# -- nesting --------------------------------------------------------------------------------------
def depth(value: Any) -> int:
    """How deeply lists and dicts nest in `value` (a scalar: 0), without recursion; stops counting
    past MAX_DEPTH + 1."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            deepest = max(deepest, d)
            if d > MAX_DEPTH:
                return d
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def check_depth(value: Any, where: str, error: type[NncliError] = ConfigError) -> None:
    """`error` when lists and mappings in `value` nest more than MAX_DEPTH levels deep."""
    if depth(value) > MAX_DEPTH:
        raise error(f"nests lists or mappings more than {MAX_DEPTH} levels deep; nncli reads at most "
                    f"{MAX_DEPTH}", where=where)


# -- YAML -----------------------------------------------------------------------------------------
class _Refused(yaml.YAMLError):
    """Valid YAML that nncli does not read: too deep, too large once expanded, odd keys, huge integers."""

    def __init__(self, problem: str, mark):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class _Loader(yaml.SafeLoader):
    """Safe loading (no Python objects) with nncli's limits; a duplicated key is an error instead of
    silently the last."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = self._nodes = 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"lists or mappings nested more than {MAX_DEPTH} levels deep",
                               self.peek_event().start_mark)
            if self._nodes > MAX_NODES:  # stops reading at once (PyYAML reads as it composes)
                raise _Refused(f"it holds more than {MAX_NODES:,} values", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root) -> None:
    """_Refused when the document, with every alias expanded, holds more than MAX_NODES values, nests
    deeper than MAX_DEPTH, or contains itself (an alias inside its own anchor). Iterative, each node
    visited once: (size, depth) are kept per node, so a billion-laughs document is refused at once."""
    done: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()  # the current path from the root: a child among them is a cycle
    stack = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            kids = _children(node)
            size = 1 + sum(done[id(k)][0] for k in kids)
            deep = 1 + max((done[id(k)][1] for k in kids), default=0)
            open_nodes.discard(key)
            done[key] = (size, deep)
            if size > MAX_NODES:
                raise _Refused(f"its aliases expand to more than {MAX_NODES:,} values", node.start_mark)
            if deep > MAX_DEPTH + 1:  # + 1: scalars count as a level here
                raise _Refused(f"its aliases nest lists or mappings more than {MAX_DEPTH} levels deep",
                               node.start_mark)
            continue
        if key in done:
            continue
        if key in open_nodes:
            raise _Refused("an alias refers to a list or mapping that contains it (a recursive structure)",
                           node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in done)


def _construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise _Refused(f"a mapping key must be a plain name or value, not a {kind}", key_node.start_mark)
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


def _construct_int(loader, node):
    """An integer as YAML 1.2 writes one: decimal digits (017 is 17), 0o octal or 0x hexadecimal."""
    text = loader.construct_scalar(node)
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits} digits; nncli reads integers of at most {MAX_INT_DIGITS}",
                       node.start_mark)
    if text[:2] in ("0o", "0x"):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


# YAML 1.1 (PyYAML's resolver) reads 1e-3 and 1E5 as strings (a float needs a dot there), and 1_000,
# 0b101 and 1:20 as integers. Configs and sweep values follow YAML 1.2 (JSON's numbers): an exponent
# without a dot is a float too, and integers are decimal, 0o octal or 0x hexadecimal, nothing else.
_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
                              list("-+.0123456789"))
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
                              list("-+0123456789"))
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def parse_yaml(text: str, source: str, error: type[NncliError] = ConfigError) -> Any:
    """The YAML document in `text`; `error` naming `source` (with line and column) if it is not YAML or
    is refused by the limits above."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e)
        if isinstance(e, _Refused):
            raise error(f"refused: {problem}", where=where) from None
        raise error(f"YAML syntax error: {problem}", where=where) from None


def read_yaml_mapping(path: str | Path) -> dict:
    """A YAML config file read as a mapping; ConfigError for a missing, unreadable, empty or non-mapping file."""
    text = read_text(path, "config", ConfigError, "a YAML config file",
                     missing="config file not found; give the path of a YAML config such as configs/xor.yaml")
    data = parse_yaml(text, str(path))
    if data is None:
        raise ConfigError("the config is empty; see configs/xor.yaml for a complete example", where=str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a YAML mapping of keys to values, not a {type(data).__name__}",
                          where=str(path))
    return data


# -- JSON -----------------------------------------------------------------------------------------
def parse_json(text: str, where: str, error: type[NncliError] = NncliError) -> Any:
    """The JSON value in `text`; `error` naming `where` for invalid JSON and for nesting deeper than
    MAX_DEPTH (json's parser stops with RecursionError at about a thousand levels; less is checked after)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"refused: JSON nested more than {MAX_DEPTH} levels deep", where=where) from None
    except ValueError as e:  # JSONDecodeError, and integers longer than Python converts
        raise error(f"is not valid JSON ({printable(e)})", where=where) from None
    check_depth(value, where, error)
    return value


# -- small helpers --------------------------------------------------------------------------------
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
