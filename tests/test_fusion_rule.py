"""The analyzer's late-fusion rule (issue 13: fusion that never subtracts) and the mosi400
fusion benchmark's protocol pieces. Synthetic outputs only: seconds, no shared data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from affectkit.analysis.fusion import LateFusion, ModalityOutput, fit_weights
from affectkit.taxonomy import CANONICAL_EMOTIONS


def probs(emotion: str, p: float = 0.8) -> np.ndarray:
    v = np.full(7, (1 - p) / 6)
    v[CANONICAL_EMOTIONS.index(emotion)] = p
    return v


def top(o: ModalityOutput) -> str:
    return CANONICAL_EMOTIONS[int(o.emotion_probs.argmax())]


EW = {"text": 0.358, "audio": 0.2272, "vision": 0.5434}


def test_sentiment_pool_can_ignore_the_neutral_abstention():
    """Text: an opinion ("a fantastic film") read as emotionally neutral, sentiment +2; the face
    smiles (happy, valence > 0 but weak evidence of the opinion), the voice is flat."""
    text = ModalityOutput(probs("neutral", 0.5), 2.0)
    face = ModalityOutput(probs("happy", 0.9), 0.4)
    voice = ModalityOutput(probs("neutral", 0.6), 0.0)
    sw = {"text": 4.0, "audio": 0.0, "vision": 0.25}
    both = LateFusion(EW, sw, neutral_abstains=True)  # sentiment_abstains None → as emotion
    fixed = LateFusion(EW, sw, neutral_abstains=True, sentiment_abstains=False)
    a, b = both({"text": text, "audio": voice, "vision": face}), \
        fixed({"text": text, "audio": voice, "vision": face})
    assert top(a) == top(b) == "happy"  # emotion: the neutral readings abstain in both
    assert a.sentiment < 0.5  # abstaining text leaves the sentiment to the smile
    assert b.sentiment > 1.5  # the sentiment follows the modality that is reliable for it
    assert fixed.to_dict()["sentiment_abstains"] is False


def test_a_missing_or_zero_weight_modality_still_answers_alone():
    fusion = LateFusion(EW, {"text": 4.0, "audio": 0.0, "vision": 0.25}, neutral_abstains=True,
                        sentiment_abstains=False)
    only_voice = fusion({"audio": ModalityOutput(probs("angry", 0.7), -1.5)})
    assert top(only_voice) == "angry" and only_voice.sentiment == pytest.approx(-1.5)
    face_voice = fusion({"audio": ModalityOutput(probs("sad", 0.7), -1.0),
                         "vision": ModalityOutput(probs("sad", 0.7), -2.0)})
    assert -2.0 < face_voice.sentiment < -1.0
    with_text = fusion({"text": ModalityOutput(probs("sad", 0.6), -0.5),
                        "audio": ModalityOutput(probs("happy", 0.9), 2.5)})
    assert with_text.sentiment == pytest.approx(-0.5, abs=0.01)  # zero-weight voice: no pull


def test_fit_weights_gives_noise_modalities_no_sentiment_weight():
    rng = np.random.default_rng(0)
    y = rng.uniform(-3, 3, 300)
    outs = [{"text": ModalityOutput(probs("neutral", 0.4), float(v + rng.normal(0, 0.7))),
             "audio": ModalityOutput(probs("happy", 0.8), float(rng.normal(0, 1.5))),
             "vision": ModalityOutput(probs("sad", 0.8), float(rng.normal(0, 1.5)))} for v in y]
    w = fit_weights(outs, list(y), kind="sentiment")
    assert w["text"] > 0 and w["audio"] == 0 and w["vision"] == 0


def test_default_fusion_reads_the_sentiment_abstention(tmp_path, monkeypatch):
    import affectkit.analysis.predictors as P

    (tmp_path / "fusion.json").write_text(json.dumps({
        "emotion_weights": EW, "sentiment_weights": {"text": 4.0, "audio": 0.0, "vision": 0.25},
        "temperatures": {}, "neutral_abstains": True, "sentiment_abstains": False}))
    monkeypatch.setattr(P, "DEFAULTS_DIR", tmp_path)
    f = P.default_fusion()
    assert f.neutral_abstains is True and f.sentiment_abstains is False
    (tmp_path / "fusion.json").write_text(json.dumps({
        "emotion_weights": EW, "sentiment_weights": EW, "neutral_abstains": True}))
    assert P.default_fusion().sentiment_abstains is None  # older files: as before


def test_shipped_fusion_follows_the_reliable_modality_on_synthetic_conflicts():
    """The shipped fusion.json: text positive, voice and face neutral → positive; text
    missing → the others answer; the emotion of an expressive face is not outvoted."""
    from affectkit.analysis.predictors import default_fusion

    f = default_fusion()
    text = ModalityOutput(probs("happy", 0.45), 2.0)
    neutral_face = ModalityOutput(probs("neutral", 0.85), 0.0)
    flat_voice = ModalityOutput(probs("neutral", 0.6), 0.0)
    out = f({"text": text, "audio": flat_voice, "vision": neutral_face})
    assert top(out) == "happy" and out.sentiment > 1.5
    opinion = ModalityOutput(probs("neutral", 0.5), 2.0)  # neutral emotion, positive opinion
    out = f({"text": opinion, "audio": flat_voice, "vision": ModalityOutput(probs("sad", 0.8), -1.0)})
    assert out.sentiment > 1.0
    no_text = f({"audio": flat_voice, "vision": ModalityOutput(probs("angry", 0.8), -2.0)})
    assert top(no_text) == "angry" and no_text.sentiment < -0.5


def test_benchmark_partitions_are_distinct_and_video_disjoint():
    from affectkit.data.splits import assert_speaker_independent
    from affectkit.evaluation.fusion_mosi400 import distinct_partitions
    from affectkit.types import Utterance

    utts = [Utterance(id=f"v{v}_{i}", corpus="t", speaker=f"v{v}", text="x", sentiment=0.5)
            for v in range(16) for i in range(3 + v % 5)]
    parts = distinct_partitions(utts, 3)
    keys = {frozenset(frozenset(g) for g in s.meta["groups"]) for _, s in parts}
    assert len(parts) == 3 and len(keys) == 3
    for _, split in parts:
        assert len(split.folds) == 4
        for fold in split.folds:
            assert_speaker_independent(fold, utts)
