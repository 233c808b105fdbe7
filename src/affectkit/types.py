"""Core schema: modalities, utterances, dialogues and label spaces.

Modalities are dictionary keys, never positions. An utterance that lacks a modality simply has
no key for it in ``media`` (and, downstream, no feature tensor) — never a zero tensor.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class Modality(str, Enum):
    TEXT = "text"
    AUDIO = "audio"
    VISION = "vision"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | Modality) -> Modality:
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(
                f"unknown modality {value!r}; expected one of: {', '.join(m.value for m in cls)}"
            ) from None


@dataclass(frozen=True)
class CauseLink:
    """An emotion–cause link: utterance ``cause_id`` causes the emotion of the owner.

    ``span`` is the causal text span inside the cause utterance when the corpus gives one.
    """

    cause_id: str
    emotion: str | None = None
    span: str | None = None


@dataclass
class Utterance:
    """One labelled unit: a sentence, a speech clip, a face image or a video segment.

    Attributes:
        id: unique across corpora, ``"<corpus>/<local id>"``.
        corpus: registry name of the corpus.
        split: ``"train" | "valid" | "test"`` for official splits, else ``None``.
        speaker: speaker/subject id (prefixed with the corpus), ``None`` if unknown.
        text: transcript or sentence.
        media: paths per modality (audio file, video file, face image).
        start, end: time span in seconds inside the media file, when it is a segment.
        dialogue_id, turn: position inside a conversation.
        emotion: canonical emotion when the corpus label maps to one, else the corpus label.
        emotion_original: the label exactly as the corpus spells it.
        emotions: multi-label emotion set (GoEmotions); ``emotion`` is set only if single.
        sentiment: score in [-3, 3] (MOSI/MOSEI style) or polarity mapped to -1/0/1.
        valence, arousal: dimensional labels when the corpus has them.
        causes: emotion–cause links where the corpus has them.
        meta: corpus-specific extras (intensity, statement, gender, ...).
    """

    id: str
    corpus: str
    split: str | None = None
    speaker: str | None = None
    text: str | None = None
    media: dict[Modality, Path] = field(default_factory=dict)
    start: float | None = None
    end: float | None = None
    dialogue_id: str | None = None
    turn: int | None = None
    emotion: str | None = None
    emotion_original: str | None = None
    emotions: tuple[str, ...] | None = None
    sentiment: float | None = None
    valence: float | None = None
    arousal: float | None = None
    causes: tuple[CauseLink, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def modalities(self) -> tuple[Modality, ...]:
        mods = [m for m in Modality if m in self.media]
        if self.text and Modality.TEXT not in mods:
            mods.insert(0, Modality.TEXT)
        return tuple(mods)

    def to_record(self) -> dict[str, Any]:
        """Flat JSON-able dict (used by ``affect data export``)."""
        d = asdict(self)
        d["media"] = {str(k): str(v) for k, v in self.media.items()}
        d["emotions"] = list(self.emotions) if self.emotions is not None else None
        d["causes"] = [asdict(c) for c in self.causes]
        for k in ("sentiment", "valence", "arousal"):
            if isinstance(d[k], float) and math.isnan(d[k]):
                d[k] = None
        return d

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Utterance:
        d = dict(d)
        d["media"] = {Modality(k): Path(v) for k, v in (d.get("media") or {}).items()}
        if d.get("emotions") is not None:
            d["emotions"] = tuple(d["emotions"])
        d["causes"] = tuple(CauseLink(**c) for c in d.get("causes") or ())
        return cls(**d)


@dataclass
class Dialogue:
    """An ordered conversation."""

    id: str
    utterances: list[Utterance]

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def speakers(self) -> list[str]:
        return sorted({u.speaker for u in self.utterances if u.speaker})


def group_dialogues(utterances: list[Utterance]) -> list[Dialogue]:
    """Group utterances with a ``dialogue_id`` into dialogues ordered by ``turn``."""
    groups: dict[str, list[Utterance]] = {}
    for u in utterances:
        if u.dialogue_id is not None:
            groups.setdefault(u.dialogue_id, []).append(u)
    return [
        Dialogue(did, sorted(us, key=lambda u: (u.turn if u.turn is not None else 0)))
        for did, us in groups.items()
    ]


@dataclass(frozen=True)
class LabelSpace:
    """What a corpus labels and how.

    Attributes:
        emotions: the corpus's own emotion labels (as spelled in the corpus), or ``()``.
        multilabel: several emotions per item (GoEmotions).
        sentiment: ``"continuous"`` (−3..3), ``"polarity"`` (−1/0/1) or ``None``.
        dimensional: names of dimensional labels (``("valence", "arousal")``) or ``()``.
        causes: emotion–cause links present.
    """

    emotions: tuple[str, ...] = ()
    multilabel: bool = False
    sentiment: str | None = None
    dimensional: tuple[str, ...] = ()
    causes: bool = False
