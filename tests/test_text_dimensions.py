"""Text valence/arousal in `affect analyze` (issue 15): the shipped EmoBank head, one MiniLM
pass shared with the emotion and sentiment heads, and the result columns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from affectkit.analysis.text_dimensions import FOLDER

needs_head = pytest.mark.skipif(
    not (FOLDER / "model.safetensors").is_file(),
    reason="text_dimensions head not built (affect defaults build --only text_dimensions)")


def test_to_unit_maps_emobank_scale():
    from affectkit.analysis.text_dimensions import to_unit

    np.testing.assert_allclose(to_unit([1, 2, 3, 4, 5, 6]), [-1, -0.5, 0, 0.5, 1, 1])


@needs_head
def test_shipped_head_orders_clear_sentences_by_valence():
    from affectkit.analysis.text_dimensions import DimensionalHead

    head = DimensionalHead()
    d = head.scores(["What a wonderful day, I love my friends and my life is great!",
                     "This is horrible, everyone I loved is dead and I am miserable.",
                     "The meeting is on Tuesday at ten."])
    v, a = d["valence"], d["arousal"]
    assert v[0] > v[2] > v[1]
    assert v[0] - v[1] > 0.3
    assert all(-1 <= x <= 1 for x in np.r_[v, a])
    info = json.loads((FOLDER / "inference.json").read_text())
    assert info["labels"][:2] == ["valence", "arousal"] and "ccc_valence" in info["test"]


@needs_head
def test_union_predictor_adds_dimensions_with_one_minilm_pass(monkeypatch):
    import affectkit.analysis.text_emotion as te
    from affectkit.analysis.text_dimensions import DimensionalHead
    from affectkit.analysis.text_emotion import SentimentHead, UnionTextPredictor

    calls = []
    real = te._embed

    def counting(encoder, texts):
        calls.append((encoder, tuple(texts)))
        return real(encoder, texts)

    monkeypatch.setattr(te, "_embed", counting)
    te._EMBED_MEMO.clear()
    pred = UnionTextPredictor(sentiment=SentimentHead(), dimensions=DimensionalHead())
    texts = ["I am so happy for you, this is fantastic news!",
             "Das ist eine schreckliche Nachricht.", "I am furious, this is a disaster."]
    outs = pred.predict(texts, ["en", "de", "en"])
    assert [c[0] for c in calls].count("text.minilm") == 1  # emotion, sentiment, V/A share it
    assert outs[1].dimensions is None  # the EmoBank head is English-only
    assert outs[0].dimensions["valence"] > outs[2].dimensions["valence"]
    assert set(outs[0].dimensions) == {"valence", "arousal"}


def test_result_rows_and_json_carry_valence_and_arousal(tmp_path):
    from affectkit.analysis.fusion import LateFusion, ModalityOutput
    from affectkit.analysis.outputs import write_outputs
    from affectkit.analysis.results import FileResult, UtteranceResult

    p = np.full(7, 1 / 7)
    text = LateFusion().calibrate("text", ModalityOutput(p, 1.0, dimensions={
        "valence": 0.61234, "arousal": -0.2}))
    assert text.dimensions == {"valence": 0.61234, "arousal": -0.2}
    fused = LateFusion(temperatures={"text": 2.0}).calibrate("text", text)
    assert fused.dimensions == text.dimensions  # temperature scaling keeps them
    u1 = UtteranceResult("f.txt", 0, None, None, None, "great", ["text"], {"text": text},
                         ModalityOutput(p, 1.0))
    u2 = UtteranceResult("f.txt", 1, None, None, None, None, ["audio"],
                         {"audio": ModalityOutput(p, 0.0)}, ModalityOutput(p, 0.0))
    assert u1.to_row()["valence"] == 0.6123 and u1.to_row()["arousal"] == -0.2
    assert u2.to_row()["valence"] is None and u2.to_json()["arousal"] is None
    res = FileResult("f.txt", "text", utterances=[u1, u2])
    out = write_outputs([res], tmp_path, ["csv", "json"])
    import pandas as pd

    df = pd.read_csv(out["csv"])
    assert df["valence"].tolist()[0] == pytest.approx(0.6123) and np.isnan(df["valence"][1])
    doc = json.loads(out["json"].read_text())
    assert doc["files"][0]["utterances"][0]["valence"] == 0.6123
