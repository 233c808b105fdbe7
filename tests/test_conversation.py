"""Conversation reasons: cause links, word attribution, modality cues, templates."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from affectkit.analysis.conversation import CausePredictor, Reason, explain, word_attribution
from affectkit.analysis.fusion import ModalityOutput
from affectkit.analysis.results import UtteranceResult
from affectkit.taxonomy import CANONICAL_EMOTIONS


def probs(emotion: str, p: float = 0.8) -> np.ndarray:
    v = np.full(7, (1 - p) / 6)
    v[CANONICAL_EMOTIONS.index(emotion)] = p
    return v


def utt(i, speaker, text, per):
    outs = {m: ModalityOutput(probs(e, p), 0.0) for m, (e, p) in per.items()}
    fused = ModalityOutput(np.mean([o.emotion_probs for o in outs.values()], 0), 0.0)
    return UtteranceResult("chat.csv", i, None, None, speaker, text, list(per), outs, fused)


class KeywordText:
    """A fake text model: 'forgot' makes a text angry."""

    def predict(self, texts):
        return [ModalityOutput(probs("angry", 0.9) if "forgot" in t else probs("neutral", 0.6), 0.0)
                for t in texts]


@pytest.fixture
def chat():
    return [
        utt(0, "Ana", "You forgot again, Ben", {"text": ("neutral", 0.6)}),
        utt(1, "Ben", "I can't believe you forgot my birthday", {"text": ("angry", 0.7),
                                                                  "audio": ("angry", 0.6)}),
        utt(2, "Ana", "sorry", {"text": ("sad", 0.8), "audio": ("neutral", 0.5)}),
    ]


def test_reasons_only_point_backwards_and_at_present_cues(chat):
    pairs = np.array([[0.1, 0.9, 0.9],   # a later "cause" must never be reported
                      [0.8, 0.3, 0.95],
                      [0.2, 0.7, 0.6]])
    reasons = explain(chat, causes=(pairs, 0.5), text_predictor=KeywordText())
    assert [r.utterance for r in reasons] == [1, 2]  # the neutral utterance gets no reason
    for r in reasons:
        assert all(c["utterance"] <= r.utterance for c in r.causes)
        present = set(chat[r.utterance].per_modality)
        assert r.cues and all(c["modality"] in present for c in r.cues)
        json.dumps(r.to_json())
    ben = reasons[0]
    assert [c["utterance"] for c in ben.causes] == [0]  # 0.95 to utterance 2 is in the future
    assert ben.emotion == "angry" and {c["modality"] for c in ben.cues} == {"text", "audio"}
    assert ben.words and ben.words[0]["word"] == "forgot"
    assert ben.sentence.startswith("Ben sounds angry (words, voice; key words 'forgot'")
    assert "after Ana's 'You forgot again, Ben' (cause 0.80)" in ben.sentence
    ana = reasons[1]
    assert [c["utterance"] for c in ana.causes] == [1, 2]  # best first, itself allowed
    assert [c["modality"] for c in ana.cues] == ["text"]  # the voice says neutral: not a cue


def test_no_cause_model_still_gives_cues_and_a_sentence(chat):
    reasons = explain(chat, causes=None, text_predictor=None)
    assert all(r.causes == [] and r.words == [] for r in reasons)
    assert reasons[0].sentence == "Ben sounds angry (words, voice)."


def test_word_attribution_needs_two_words():
    assert word_attribution("forgot", "angry", KeywordText()) == []


@pytest.fixture
def cause_run(tmp_path):
    """A (tiny, barely trained) dialogue.ecpe run folder with text.minilm features and speaker
    slots."""
    from affectkit.config import TrainerConfig
    from affectkit.data.batch import collate
    from affectkit.models import create_model
    from affectkit.tasks import make_task
    from affectkit.training import RunDir, Trainer
    from affectkit.types import Modality

    T = Modality.TEXT
    labels = ["angry", "happy", "neutral"]
    task = make_task("emotion_cause", labels)
    dims = {T: 384 + 2}
    model = create_model("dialogue.ecpe", input_dims=dims, n_outputs=3, hidden=16)
    rd = RunDir(tmp_path / "causes")
    rd.write_model_spec("dialogue.ecpe", {"hidden": 16}, dims, 3, {T: "sequence"})
    g = np.random.default_rng(0)
    ids = [f"d/{i}" for i in range(4)]
    feats = {i: g.normal(size=384).astype(np.float32) for i in ids}
    targets = {ids[0]: ("neutral", ()), ids[1]: ("angry", (ids[0],)), ids[2]: ("happy", ()),
               ids[3]: ("neutral", ())}
    b = collate(["d"], {T: feats}, {T: "vector"}, task.encode_dialogues([ids], targets),
                unit="dialogue", groups=[ids], speakers={i: "s" for i in ids}, speaker_slots=2)
    Trainer(model, task, TrainerConfig(epochs=1, progress=False, patience=0), run_dir=rd.path,
            resolved_config={"name": "x", "features": {"text": "text.minilm"},
                             "data": {"corpus": "ecf", "speaker_slots": 2},
                             "model": {"name": "dialogue.ecpe", "args": {"hidden": 16}},
                             "task": {"kind": "emotion_cause"}}).fit(b, b)
    return rd.path


def test_cause_predictor_runs_a_run_folder(cause_run):
    cp = CausePredictor(cause_run)
    p, pairs = cp.predict(["you forgot", "I am so angry", ""], ["Ana", "Ben", None])
    assert p.shape == (3, 7) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert p[:, CANONICAL_EMOTIONS.index("fearful")].max() == 0  # not one of the run's labels
    assert pairs.shape == (3, 3) and ((0 <= pairs) & (pairs <= 1)).all()
    assert 0 < cp.threshold < 1
    torch.set_num_threads(torch.get_num_threads())
    assert isinstance(Reason(0, "angry").to_json(), dict)


def test_long_conversations_are_scored_in_bounded_windows(cause_run):
    cp = CausePredictor(cause_run)
    cp.window = 16
    n = 70
    texts = [f"line {i}: you {'forgot' if i % 3 else 'remembered'} it" for i in range(n)]
    p, pairs = cp.predict(texts, [("Ana", "Ben")[i % 2] for i in range(n)])
    assert p.shape == (n, 7) and pairs.shape == (n, n)
    assert np.allclose(p.sum(1), 1, atol=1e-5)  # every row was scored by some window
    far = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) > 16
    assert (pairs[far] == 0).all() and (pairs[~far] > 0).mean() > 0.5


def test_word_attribution_budget_is_reported():
    many = [utt(i, "Ana", "I forgot it again today", {"text": ("angry", 0.8)}) for i in range(5)]
    reasons = explain(many, text_predictor=KeywordText(), max_attributed=2)
    assert [bool(r.words) for r in reasons] == [True, True, False, False, False]
    assert [r.words_skipped for r in reasons] == [False, False, True, True, True]


# --- fusion that never subtracts (issue 13): synthetic conflicts ---------------------------------


def test_a_neutral_reading_abstains_instead_of_outvoting_an_emotion():
    from affectkit.analysis.fusion import LateFusion

    fusion = LateFusion(emotion_weights={"text": 0.35, "audio": 0.37, "vision": 0.54},
                        sentiment_weights={"text": 1.0, "audio": 0.25, "vision": 0.25},
                        neutral_abstains=True)
    text = ModalityOutput(probs("happy", 0.45), 2.0)
    face = ModalityOutput(probs("neutral", 0.85), 0.0)
    voice = ModalityOutput(probs("neutral", 0.6), 0.0)
    f = fusion({"text": text, "audio": voice, "vision": face})
    assert CANONICAL_EMOTIONS[int(f.emotion_probs.argmax())] == "happy"
    assert f.sentiment > 1.5  # the neutral face and voice barely pull the sentiment to 0
    # without the rule the confident neutral face wins (the wave-1 behaviour)
    old = LateFusion(emotion_weights=fusion.emotion_weights, sentiment_weights=fusion.sentiment_weights)
    assert CANONICAL_EMOTIONS[int(old({"text": text, "audio": voice, "vision": face}).emotion_probs.argmax())] == "neutral"
    # all neutral → neutral; a missing modality is simply absent
    allneutral = fusion({"text": ModalityOutput(probs("neutral", 0.7), 0.0), "vision": face})
    assert CANONICAL_EMOTIONS[int(allneutral.emotion_probs.argmax())] == "neutral"
    only_face = fusion({"vision": ModalityOutput(probs("angry", 0.7), -2.0)})
    assert CANONICAL_EMOTIONS[int(only_face.emotion_probs.argmax())] == "angry"
    # two emotional modalities disagree: the more reliable and confident one leads
    sad_face = ModalityOutput(probs("sad", 0.9), -1.5)
    mixed = fusion({"text": ModalityOutput(probs("happy", 0.5), 1.0), "vision": sad_face})
    assert CANONICAL_EMOTIONS[int(mixed.emotion_probs.argmax())] == "sad"
