"""Registries: the single source of names for corpora, extractors, models and tasks.

A registry discovers its members by importing every module of a package (and of its
sub-packages, e.g. ``features/text/minilm.py``) on first use, so
adding a corpus/extractor/model is one new file with a ``@REGISTRY.register`` decorator.
Unknown names raise :class:`UnknownNameError` with "did you mean ..." suggestions.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from affectkit.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → object map with lazy discovery of the modules in ``package``."""

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self.package = package
        self._items: dict[str, T] = {}
        self._discovered = package is None

    def register(self, name: str | None = None) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            key = (name or getattr(obj, "name", None) or obj.__name__).lower()  # type: ignore[attr-defined]
            if key in self._items and self._items[key] is not obj:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._items[key] = obj
            return obj

        return deco

    def _discover(self) -> None:
        """Import every public module of the package and of its sub-packages (recursively)."""
        if self._discovered:
            return
        self._discovered = True
        pkg = importlib.import_module(self.package)  # type: ignore[arg-type]
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{self.package}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                importlib.import_module(info.name)

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._items)

    def get(self, name: str) -> T:
        self._discover()
        key = name.lower()
        if key not in self._items:
            close = difflib.get_close_matches(key, self._items, n=3, cutoff=0.5)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{hint}. Known: {', '.join(self.names())}"
            )
        return self._items[key]

    def __contains__(self, name: str) -> bool:
        self._discover()
        return name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        self._discover()
        return sorted(self._items.items())
