"""Result types of ``affect analyze`` and their flat row form."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from affectkit.analysis.fusion import ModalityOutput
from affectkit.taxonomy import CANONICAL_EMOTIONS

MODALITIES = ("text", "audio", "vision")


def polarity(score: float | None) -> str | None:
    if score is None:
        return None
    return "positive" if score > 0.25 else "negative" if score < -0.25 else "neutral"


@dataclass
class UtteranceResult:
    file: str
    index: int
    start: float | None
    end: float | None
    speaker: str | None
    text: str | None
    modalities_present: list[str]
    per_modality: dict[str, ModalityOutput]
    fused: ModalityOutput | None
    asr_confidence: float | None = None
    #: conversations: the reason record of a non-neutral utterance (causes, words, cues,
    #: sentence; see :mod:`affectkit.analysis.conversation`)
    reason: dict | None = None
    #: videos with ``Analyzer(speaker_faces=True)``: which face track speaks, listeners,
    #: per-track expressions (:class:`affectkit.features.vision.speaker.SpeakerFaces`)
    speaker_faces: object | None = None
    #: spoken language (ISO code from the ASR) or the text's detected language
    language: str | None = None
    #: media with audio: share of the utterance's audio that Silero VAD marks as speech, and
    #: whether the audio is not speech (silence, music, noise; the voice then abstains:
    #: :mod:`affectkit.analysis.speech_check`); ``None`` without audio
    speech_ratio: float | None = None
    non_speech: bool | None = None

    @property
    def emotion(self) -> str | None:
        return CANONICAL_EMOTIONS[int(self.fused.emotion_probs.argmax())] if self.fused else None

    def dimension(self, name: str) -> float | None:
        """Text valence/arousal (−1…1; EmoBank head, English text only), else ``None``."""
        t = self.per_modality.get("text")
        return _r(t.dimensions.get(name)) if t is not None and t.dimensions else None

    def to_row(self) -> dict[str, Any]:
        """One flat row: the CSV/Parquet schema (JSON nests the probabilities)."""
        row: dict[str, Any] = {
            "file": self.file, "utterance": self.index, "start": self.start, "end": self.end,
            "speaker": self.speaker, "text": self.text,
            "modalities_present": ",".join(self.modalities_present),
            "modalities_used": ",".join(m for m in MODALITIES if m in self.per_modality),
            "emotion": self.emotion,
            "sentiment": _r(self.fused.sentiment) if self.fused else None,
            "polarity": polarity(self.fused.sentiment) if self.fused else None,
            "valence": self.dimension("valence"),
            "arousal": self.dimension("arousal"),
            "asr_confidence": _r(self.asr_confidence),
            "language": self.language,
            "speech_ratio": _r(self.speech_ratio),
            "non_speech": self.non_speech,
            "cause_utterances": ",".join(str(c["utterance"]) for c in self.reason["causes"])
            if self.reason else None,
            "cause_scores": ",".join(f"{c['score']:.3f}" for c in self.reason["causes"])
            if self.reason else None,
            "reason": self.reason["sentence"] if self.reason else None,
            "face_is_speaker": _r(self.speaker_faces.face_is_speaker)
            if self.speaker_faces is not None and self.speaker_faces.face_is_speaker is not None
            else None,
        }
        for scope, out in [("fused", self.fused)] + [(m, self.per_modality.get(m)) for m in MODALITIES]:
            for i, e in enumerate(CANONICAL_EMOTIONS):
                row[f"{scope}_p_{e}"] = _r(out.emotion_probs[i]) if out is not None else None
            if scope != "fused":
                row[f"{scope}_sentiment"] = _r(out.sentiment) if out is not None else None
                row[f"{scope}_confidence"] = _r(out.confidence) if out is not None else None
        return row

    def to_json(self) -> dict[str, Any]:
        def mod(o: ModalityOutput | None):
            if o is None:
                return None
            return {"emotion": CANONICAL_EMOTIONS[int(o.emotion_probs.argmax())],
                    "emotion_probs": {e: _r(p) for e, p in zip(CANONICAL_EMOTIONS, o.emotion_probs)},
                    "sentiment": _r(o.sentiment), "polarity": polarity(o.sentiment),
                    "confidence": _r(o.confidence)}

        return {
            "utterance": self.index, "start": self.start, "end": self.end,
            "speaker": self.speaker, "text": self.text,
            "modalities_present": self.modalities_present,
            "valence": self.dimension("valence"),
            "arousal": self.dimension("arousal"),
            "asr_confidence": _r(self.asr_confidence),
            "language": self.language,
            "speech_ratio": _r(self.speech_ratio),
            "non_speech": self.non_speech,
            "fused": mod(self.fused),
            "per_modality": {m: mod(o) for m, o in self.per_modality.items()},
            "reason": self.reason,
            "speaker_faces": self.speaker_faces.to_json() if self.speaker_faces is not None
            else None,
        }


def _r(x, nd: int = 4):
    return None if x is None else round(float(x), nd)


@dataclass
class FileResult:
    file: str
    kind: str
    duration: float | None = None
    utterances: list[UtteranceResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float | None = None  # processing time

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> dict[str, Any]:
        """Emotion distribution (overall and per speaker), mean sentiment, modality coverage."""
        us = [u for u in self.utterances if u.fused is not None]
        dist = Counter(u.emotion for u in us)
        by_spk: dict[str, Counter] = {}
        for u in us:
            if u.speaker:
                by_spk.setdefault(u.speaker, Counter())[u.emotion] += 1
        sents = [u.fused.sentiment for u in us if u.fused.sentiment is not None]
        mean_probs = (np.mean([u.fused.emotion_probs for u in us], axis=0) if us else None)
        return {
            "file": self.file, "kind": self.kind, "duration": _r(self.duration, 3),
            "n_utterances": len(self.utterances),
            "emotion_distribution": dict(dist.most_common()),
            "mean_emotion_probs": ({e: _r(p) for e, p in zip(CANONICAL_EMOTIONS, mean_probs)}
                                   if mean_probs is not None else None),
            "mean_sentiment": _r(float(np.mean(sents))) if sents else None,
            "by_speaker": {s: dict(c.most_common()) for s, c in sorted(by_spk.items())},
            "modality_coverage": {m: sum(m in u.modalities_present for u in self.utterances)
                                  for m in MODALITIES},
            "warnings": self.warnings,
            "error": self.error,
        }
