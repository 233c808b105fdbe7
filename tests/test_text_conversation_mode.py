"""Conversation mode of the English text emotion head (issue 13, in-domain MELD)."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.taxonomy import CANONICAL_EMOTIONS


def _base(seed: int = 0):
    import torch

    from affectkit.analysis.text_emotion import LoadedHead, _module

    torch.manual_seed(seed)
    model = _module(384, 7, 0)
    model.eval()
    return LoadedHead("en_minilm", "text.minilm", tuple(CANONICAL_EMOTIONS), -0.5, model)


def test_zero_adapter_is_the_general_head_and_its_bias_is_its_own():
    from affectkit.analysis.text_emotion import ConversationAdapter, _module

    base = _base()
    d = _module(384, 7, 256)
    for p in d[-1].parameters():
        p.data.zero_()
    d.eval()
    X = np.random.default_rng(0).normal(size=(20, 384)).astype(np.float32)
    same = ConversationAdapter(base, d, base.neutral_bias)
    np.testing.assert_allclose(same.probs(X), base.probs(X), atol=1e-6)
    more = ConversationAdapter(base, d, base.neutral_bias + 3.0).probs(X)
    k = CANONICAL_EMOTIONS.index("neutral")
    assert np.all(more[:, k] > base.probs(X)[:, k])


def test_fit_adapter_learns_a_conversation_prior_from_training_parts_only():
    """Synthetic conversations that are mostly neutral: the adapter raises the neutral share
    over the general head, and never reads the test parts (they are garbage here)."""
    from affectkit.evaluation.text_emotion import fit_conversation_adapter

    rng = np.random.default_rng(0)
    base = _base(1)

    def part(n, neutral_share):
        y = np.where(rng.random(n) < neutral_share, "neutral", "happy")
        X = rng.normal(size=(n, 384)).astype(np.float32)
        X[y == "happy", 0] += 2.0
        return X, y

    parts = {c: {"train": part(600, 0.8), "valid": part(200, 0.8),
                 "test": (np.full((5, 384), np.nan, np.float32), np.asarray(["sad"] * 5))}
             for c in ("meld", "iemocap")}
    adapter, vs, ep = fit_conversation_adapter(base, parts, seed=0, epochs=4)
    Xv, yv = part(400, 0.8)
    k = CANONICAL_EMOTIONS.index("neutral")
    share_base = np.mean(base.probs(Xv).argmax(1) == k)
    share_conv = np.mean(adapter.probs(Xv).argmax(1) == k)
    assert share_conv > share_base
    assert np.mean(np.asarray(CANONICAL_EMOTIONS)[adapter.probs(Xv).argmax(1)] == yv) > 0.7
    assert 0 <= ep < 4 and vs > 0


def test_pipeline_sets_conversation_mode_only_for_dialogues(tmp_path):
    from affectkit.analysis.fusion import LateFusion, ModalityOutput
    from affectkit.analysis.pipeline import Analyzer

    seen = []

    class Fake:
        modality = "text"

        def predict(self, texts, languages=None, *, conversation=False):
            seen.append(conversation)
            return [ModalityOutput(np.eye(7)[1], 0.0) for _ in texts]

    a = Analyzer(modalities=["text"], predictors={"text": Fake()}, fusion=LateFusion(),
                 reasons=False, conversation_mode=True)
    (tmp_path / "chat.csv").write_text("speaker,text\nA,hi there\nB,hello you\nA,bye\n")
    (tmp_path / "one.csv").write_text("speaker,text\nA,hi there\nA,hello you\n")
    (tmp_path / "plain.csv").write_text("text\nhi there\nhello you\n")
    (tmp_path / "lines.txt").write_text("hi there\nhello you\n")
    for name, want in (("chat.csv", True), ("one.csv", False), ("plain.csv", False),
                       ("lines.txt", False)):
        seen.clear()
        fr = a.analyze_file(tmp_path / name)
        assert fr.error is None, fr.error
        assert seen == [want], name
    # off by default (the general head is what the cross-corpus tables judge)
    seen.clear()
    off = Analyzer(modalities=["text"], predictors={"text": Fake()}, fusion=LateFusion(),
                   reasons=False)
    assert off.analyze_file(tmp_path / "chat.csv").error is None
    assert seen == [False]


def test_shipped_model_routes_conversations_through_the_adapter():
    from affectkit.analysis.text_emotion import CONVERSATION_ADAPTER, WEIGHTS, TextEmotionModel

    if not (WEIGHTS / CONVERSATION_ADAPTER / "head.json").is_file():
        pytest.skip("no conversation adapter shipped (python -m "
                    "affectkit.evaluation.text_emotion build-conversation)")
    m = TextEmotionModel()
    texts = ["I am so happy to see you today.", "Das ist ein ganz normaler deutscher Satz."]
    conv = m.predict(texts, ["en", "de"], conversation=True)
    plain = m.predict(texts, ["en", "de"])
    assert [r["head"] for r in conv] == ["en_minilm", "multi_e5"]
    assert [r.get("mode") for r in conv] == ["conversation", None]
    assert [r.get("mode") for r in plain] == [None, None]
    assert conv[1]["probs"] == plain[1]["probs"]  # other languages: unchanged
    assert conv[0]["label"] == "happy"
    assert conv[0]["probs"] != plain[0]["probs"]


def test_conversation_mode_keeps_sentiment_and_valence_heads():
    """English turns in conversation mode still get the sentiment head and valence/arousal."""
    from affectkit.analysis.text_dimensions import load_default
    from affectkit.analysis.text_emotion import (CONVERSATION_ADAPTER, WEIGHTS, SentimentHead,
                                                 UnionTextPredictor)

    if not (WEIGHTS / CONVERSATION_ADAPTER / "head.json").is_file():
        pytest.skip("no conversation adapter shipped")
    dims = load_default()
    p = UnionTextPredictor(sentiment=SentimentHead(), dimensions=dims)
    texts = ["I got the job! I can't believe it!", "I'm still annoyed they made me wait."]
    outs = p.predict(texts, ["en", "en"], conversation=True)
    assert [r["sentiment_source"] for r in p.last_records] == ["head", "head"]
    if dims is not None:
        assert all(o.dimensions and "valence" in o.dimensions for o in outs)
    assert outs[0].sentiment > 0 > outs[1].sentiment
