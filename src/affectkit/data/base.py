"""Corpus base class, load reports and the corpus registry.

A corpus loader is one file in ``affectkit/data/corpora/`` that subclasses :class:`Corpus`,
implements :meth:`Corpus.scan` and registers itself with ``@CORPORA.register()``. ``scan``
yields :class:`Utterance` objects for good items and :class:`Issue` objects for bad ones
(unreadable file, unknown label code, malformed row): nothing is dropped silently, and
``strict=True`` turns the first issue into a :class:`DataError`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from affectkit.errors import DataError
from affectkit.registry import Registry
from affectkit.types import LabelSpace, Modality, Utterance

# Any of these is accepted wherever a corpus has audio (the shared copies are .opus).
AUDIO_EXTS: tuple[str, ...] = (".wav", ".flac", ".opus", ".ogg", ".mp3", ".m4a")
VIDEO_EXTS: tuple[str, ...] = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".flv")
from affectkit.media import IMAGE_EXTS  # noqa: E402  (one list: what media.load_image decodes)

CORPORA: Registry[type[Corpus]] = Registry("corpus", "affectkit.data.corpora")


@dataclass(frozen=True)
class Issue:
    """A problem with one item: the file or row, the field, and why."""

    path: str
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.path} [{self.field}]" if self.field else self.path
        return f"{where}: {self.reason}"


@dataclass
class LoadResult:
    corpus: str
    root: Path
    utterances: list[Utterance]
    issues: list[Issue] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.utterances)

    def by_split(self) -> dict[str, int]:
        return dict(sorted(Counter(u.split or "none" for u in self.utterances).items()))

    def by_label(self, key: str = "emotion_original") -> dict[str, int]:
        c: Counter[str] = Counter()
        for u in self.utterances:
            if u.emotions is not None and key in ("emotion", "emotion_original"):
                c.update(u.emotions)
                continue
            v = getattr(u, key)
            c[str(v) if v is not None else "none"] += 1
        return dict(c.most_common())

    def speakers(self) -> list[str]:
        return sorted({u.speaker for u in self.utterances if u.speaker})

    def summary(self) -> dict:
        """The JSON object printed by ``affect data info --json``."""
        by_label = self.by_label("emotion_original")
        if set(by_label) == {"none"} and any(u.sentiment is not None for u in self.utterances):
            by_label = _sentiment_bins(self.utterances)
        return {
            "corpus": self.corpus,
            "root": str(self.root),
            "total": len(self.utterances),
            "by_split": self.by_split(),
            "by_label": by_label,
            "n_speakers": len(self.speakers()),
            "n_dialogues": len({u.dialogue_id for u in self.utterances if u.dialogue_id}),
            "modalities": sorted({str(m) for u in self.utterances for m in u.modalities}),
            "issues": [{"path": i.path, "field": i.field, "reason": i.reason} for i in self.issues],
        }


def _sentiment_bins(utts: Iterable[Utterance]) -> dict[str, int]:
    c: Counter[str] = Counter()
    for u in utts:
        if u.sentiment is None:
            c["none"] += 1
        else:
            c["positive" if u.sentiment > 0 else "negative" if u.sentiment < 0 else "neutral"] += 1
    return dict(c.most_common())


class Corpus:
    """Base class of corpus loaders.

    Class attributes declare what the corpus is; subclasses implement :meth:`scan`.

    Attributes:
        name: registry name (lower-case).
        title: human name.
        modalities: modalities the corpus provides.
        label_space: labels it carries.
        layout: the expected on-disk layout (quoted in errors).
        shared_subdir: where it lives under ``../shared/data`` (for tests/benchmarks).
        official_split: the corpus ships train/valid/test assignments.
        speaker_independent_split: whether that official split keeps speakers apart
            (``None`` = no official split; checked by the corpus tests both ways).
        language: ISO code(s).
        licence: as published.
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    modalities: ClassVar[tuple[Modality, ...]] = ()
    label_space: ClassVar[LabelSpace] = LabelSpace()
    layout: ClassVar[str] = ""
    shared_subdir: ClassVar[str | None] = None
    official_split: ClassVar[bool] = False
    speaker_independent_split: ClassVar[bool | None] = None
    language: ClassVar[str] = "en"
    licence: ClassVar[str] = ""

    def __init__(self, root: str | os.PathLike, *, strict: bool = False) -> None:
        self.root = Path(root).expanduser()
        self.strict = strict

    # -- to implement ---------------------------------------------------------------------
    def scan(self) -> Iterator[Utterance | Issue]:
        raise NotImplementedError

    # -- shared behaviour -----------------------------------------------------------------
    def load(self) -> LoadResult:
        if not self.root.exists():
            raise DataError(
                f"{self.title or self.name}: root {self.root} does not exist; "
                f"expected layout: {self.layout}"
            )
        utts: list[Utterance] = []
        issues: list[Issue] = []
        seen: set[str] = set()
        for item in self.scan():
            if isinstance(item, Issue):
                if self.strict:
                    raise DataError(f"{self.title or self.name}: {item} (strict mode)")
                issues.append(item)
                continue
            if item.id in seen:
                issue = Issue(item.id, "duplicate utterance id", "id")
                if self.strict:
                    raise DataError(f"{self.title or self.name}: {issue} (strict mode)")
                issues.append(issue)
                continue
            seen.add(item.id)
            utts.append(item)
        if not utts:
            raise DataError(
                f"{self.title or self.name}: no items found under {self.root}; "
                f"expected layout: {self.layout}"
                + (f" ({len(issues)} issues, first: {issues[0]})" if issues else "")
            )
        return LoadResult(self.name, self.root, utts, issues)

    # helpers for subclasses
    def find_files(self, pattern: str, exts: tuple[str, ...]) -> list[Path]:
        """Files under root matching ``pattern`` (a glob without extension) with any of ``exts``."""
        out = [p for p in self.root.glob(pattern + ".*") if p.suffix.lower() in exts]
        return sorted(out)

    def require(self, *relpaths: str) -> None:
        """Raise a layout error if any of ``relpaths`` is missing under root."""
        for rel in relpaths:
            if not (self.root / rel).exists():
                raise DataError(
                    f"{self.title or self.name}: {self.root / rel} not found; "
                    f"expected layout: {self.layout}"
                )

    def uid(self, local: str) -> str:
        return f"{self.name}/{local}"


def get_corpus(name: str) -> type[Corpus]:
    return CORPORA.get(name)


def load_corpus(name: str, root: str | os.PathLike | None = None, *, strict: bool = False,
                **options) -> LoadResult:
    """Load a registered corpus. ``root`` defaults to the shared data folder's copy.

    ``options`` are the loader's own keyword arguments (e.g. ``neutral_first_frame`` for CK+,
    ``test_session`` for IEMOCAP); see ``affect data list --json`` and docs/data.md.
    """
    cls = get_corpus(name)
    if root is None:
        base = shared_data_root()
        if base is None or cls.shared_subdir is None:
            raise DataError(
                f"{cls.title or cls.name}: no root given and no shared copy found; pass "
                f"--root PATH (or set AFFECTKIT_DATA). Expected layout: {cls.layout}"
            )
        root = base / cls.shared_subdir
    return cls(root, strict=strict, **options).load()


def shared_data_root() -> Path | None:
    """``$AFFECTKIT_DATA`` if set, else ``../shared/data`` next to the checkout, if it exists."""
    env = os.environ.get("AFFECTKIT_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None
