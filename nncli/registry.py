"""One registry mechanism for every pluggable kind (activations, losses, initializers, optimizers,
schedules, datasets). Things register themselves under a name with a decorator; `get` explains unknown
names with the list of choices and the closest match."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping for one kind of thing (`kind` is used in messages, e.g. "activation")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Decorator: `@ACTIVATIONS.register("relu")` registers the decorated class or function."""

        def decorate(obj: T) -> T:
            for key in (name, *aliases):
                if key in self._items:
                    raise ValueError(f"{self.kind} {key!r} is already registered")
                self._items[key] = obj
            if isinstance(obj, type) and not vars(obj).get("name"):  # a class without its own name
                obj.name = name  # type: ignore[attr-defined]
            return obj

        return decorate

    def unregister(self, name: str) -> None:
        """Remove a name (used by tests that register a deliberately broken thing)."""
        self._items.pop(name, None)

    def get(self, name: str, where: str | None = None) -> T:
        """The object registered as `name`; ConfigError naming the choices and closest match if unknown."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ConfigError(self.unknown_message(name), where=where) from None

    def unknown_message(self, name: object) -> str:
        choices = self.names()
        message = f"unknown {self.kind} {name!r}"
        close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
        if close:
            message += f"; did you mean {close[0]!r}?"
        return message + f" (choices: {', '.join(choices)})"

    def names(self) -> list[str]:
        return sorted(self._items)

    def in_order(self) -> list[str]:
        """The names in the order they were registered (for kinds whose order matters)."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(k, self._items[k]) for k in self.names()]
