"""The one progress bar of the library (rich), or nothing when disabled.

``progress(enabled)`` returns a context manager with rich's ``add_task`` / ``update`` /
``advance`` verbs; disabled, the same verbs do nothing. Every long loop (training epochs,
feature extraction, imports, corruption sweeps) uses it, so they all look alike.
"""

from __future__ import annotations

from typing import Any


class NoProgress:
    """The disabled bar: same verbs, no output."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def add_task(self, *a: Any, **k: Any) -> int:
        return 0

    def update(self, *a: Any, **k: Any) -> None:
        pass

    def advance(self, *a: Any, **k: Any) -> None:
        pass


def progress(enabled: bool = True, *, transient: bool = True):
    """A rich ``Progress`` (description, bar, n/total, elapsed, remaining, a ``status`` field),
    or :class:`NoProgress`. Tasks may pass ``status=""`` and update it."""
    if not enabled:
        return NoProgress()
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[status]}"), transient=transient)
