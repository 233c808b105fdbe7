"""Helpers shared by the text corpus loaders: a deterministic split for corpora without one,
and multi-label handling that keeps labels as spelled.
"""

from __future__ import annotations

import hashlib

from affectkit.taxonomy import canonical

# Buckets of a stable hash (sha1, not Python's salted hash): 80 % train, 10 % valid, 10 % test.
SPLIT_BUCKETS = ((80, "train"), (90, "valid"), (100, "test"))


def hash_split(key: str) -> str:
    """``train``/``valid``/``test`` from the sha1 of ``key`` (80/10/10), stable across runs,
    machines and Python versions. Loaders hash the normalised text (or the author) so that
    duplicate sentences never straddle two parts."""
    b = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    for bound, name in SPLIT_BUCKETS:
        if b < bound:
            return name
    raise AssertionError("unreachable")


def norm_key(text: str) -> str:
    """The hashing key of a sentence: lower-cased, whitespace collapsed."""
    return " ".join(text.lower().split())


def multilabel(labels: list[str]) -> tuple[str | None, str | None, tuple[str, ...]]:
    """``(emotion, emotion_original, emotions)`` of a label set, as GoEmotions does it:
    ``emotions`` keeps every label as spelled (order kept, duplicates dropped); ``emotion`` /
    ``emotion_original`` are set only when exactly one label (``emotion`` canonical where the
    label is a spelling of a canonical one, else the corpus label)."""
    labels = list(dict.fromkeys(labels))
    single = labels[0] if len(labels) == 1 else None
    return canonical(single), single, tuple(labels)
