"""Canonical emotions, per-corpus label maps and the field's sentiment class derivations.

Every corpus keeps its labels as spelled (``Utterance.emotion_original``). ``Utterance.emotion``
holds the canonical emotion when the corpus label is a spelling of one (``anger`` → ``angry``,
``W`` → ``angry`` in EmoDB), otherwise the corpus label unchanged (``calm``, ``boredom``,
``contempt``, ``excited``, ``frustrated``, GoEmotions' fine labels ...). Labels outside the
canonical set are mapped **only when asked**, through :data:`OPTIONAL_MAPS` (documented in
``docs/data.md``) via :func:`map_to_canonical`.
"""

from __future__ import annotations

import numpy as np

CANONICAL_EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
)

# Spellings of the canonical emotions across corpora (lower-cased keys).
SYNONYMS: dict[str, str] = {
    "neutral": "neutral", "neu": "neutral", "neutrality": "neutral",
    "happy": "happy", "happiness": "happy", "joy": "happy", "gio": "happy", "hap": "happy",
    "sad": "sad", "sadness": "sad", "tri": "sad",
    "angry": "angry", "anger": "angry", "ang": "angry", "rab": "angry", "angery": "angry",
    "fear": "fearful", "fearful": "fearful", "pau": "fearful", "fea": "fearful",
    "disgust": "disgusted", "disgusted": "disgusted", "dis": "disgusted",
    "surprise": "surprised", "surprised": "surprised", "sor": "surprised", "sur": "surprised",
}

# Opt-in maps for labels outside the canonical set. Keys are corpus names or "*" (any corpus).
# These are judgement calls common in the literature; a user asks for them explicitly.
OPTIONAL_MAPS: dict[str, dict[str, str]] = {
    "*": {
        "calm": "neutral",
        "boredom": "neutral",
        "contempt": "disgusted",
        "excited": "happy",
        "frustrated": "angry",
        "ps": "surprised",  # TESS "pleasant surprise"
        "others": "neutral",  # EmoContext
    },
    # GoEmotions' own Ekman grouping (data/ekman_mapping.json of the release).
    "goemotions": {
        "anger": "angry", "annoyance": "angry", "disapproval": "angry",
        "disgust": "disgusted",
        "fear": "fearful", "nervousness": "fearful",
        "joy": "happy", "amusement": "happy", "approval": "happy", "excitement": "happy",
        "gratitude": "happy", "love": "happy", "optimism": "happy", "relief": "happy",
        "pride": "happy", "admiration": "happy", "desire": "happy", "caring": "happy",
        "sadness": "sad", "disappointment": "sad", "embarrassment": "sad", "grief": "sad",
        "remorse": "sad",
        "surprise": "surprised", "realization": "surprised", "confusion": "surprised",
        "curiosity": "surprised",
        "neutral": "neutral",
    },
}


def canonical(label: str | None) -> str | None:
    """Canonical emotion for a spelling of one, else the label unchanged (``None`` stays)."""
    if label is None:
        return None
    return SYNONYMS.get(label.strip().lower(), label)


def map_to_canonical(label: str | None, corpus: str | None = None) -> str | None:
    """Map any label to the canonical set using the opt-in tables; ``None`` if unmappable."""
    if label is None:
        return None
    c = canonical(label)
    if c in CANONICAL_EMOTIONS:
        return c
    key = str(label).strip().lower()
    for table in (OPTIONAL_MAPS.get(corpus or "", {}), OPTIONAL_MAPS["*"]):
        if key in table:
            return table[key]
    return None


# --- sentiment -------------------------------------------------------------------------------
# The field's derivations from a score in [-3, 3], computed one way (as MMSA does).


def sentiment_polarity(score: float) -> int:
    """−1, 0 or 1 (3-class polarity: the score's sign)."""
    return int(np.sign(score))


def sentiment_classes(scores, n_classes: int) -> np.ndarray:
    """Integer class ids for the 2/3/5/7-class derivations.

    * 2: Has0 convention, ``score >= 0`` → 1 (non-negative) else 0. (The Non0 convention drops
      zero scores instead; see :func:`affectkit.metrics.sentiment_metrics`.)
    * 3/5/7: clip to ±1/±2/±3 and round to the nearest integer, shifted to start at 0.
    """
    s = np.asarray(scores, dtype=float)
    if n_classes == 2:
        return (s >= 0).astype(int)
    bound = {3: 1.0, 5: 2.0, 7: 3.0}.get(n_classes)
    if bound is None:
        raise ValueError(f"n_classes must be 2, 3, 5 or 7, got {n_classes}")
    return (np.round(np.clip(s, -bound, bound)) + bound).astype(int)


# Expected valence of each canonical emotion on the −3..3 sentiment scale: a fixed, documented
# table (not fitted to any data) that turns emotion probabilities into a sentiment score for
# modalities without a sentiment head.
VALENCE = {"neutral": 0.0, "happy": 2.0, "sad": -1.5, "angry": -2.0, "fearful": -1.5,
           "disgusted": -2.0, "surprised": 0.5}


def valence_sentiment(p) -> float:
    """Expected valence of canonical emotion probabilities ``p`` (7,) under :data:`VALENCE`."""
    import numpy as np

    return float(np.asarray(p) @ np.array([VALENCE[e] for e in CANONICAL_EMOTIONS]))
